#!/usr/bin/env bash
# The recipe of spex's three-stage model (Fashion-MNIST), for a chain
# edge -> fog -> cloud: trains it with an exit in each of the first two
# stages, then calibrates both exit thresholds together on the validation
# hold-out so that overall accuracy stays within 0.5 points of the full
# network. docs/RESULTS.md ("A chain of stages") says why this topology.
#
# Usage: scripts/train-chain-model.sh [--out FILE] [--epochs N] [--seed S]
#                                     [--train PATH]
#   --train: a built spex-train (default: builds build/release's).
set -euo pipefail
cd "$(dirname "$0")/.."

out=results/fashion-chain.spex
epochs=60
seed=1
train=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) out="$2"; shift ;;
    --epochs) epochs="$2"; shift ;;
    --seed) seed="$2"; shift ;;
    --train) train="$2"; shift ;;
    *) echo "train-chain-model.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done
if [[ -z "$train" ]]; then
  cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DSPEX_BUILD_BENCH=OFF >/dev/null
  cmake --build build/release --target spex-train -j "$(nproc)"
  train=build/release/tools/spex-train
fi
mkdir -p "$(dirname "$out")"

# Stage 1, the edge: the default model's head, 28x28x1 -> conv3x3 32 ->
# maxpool2 -> conv3x3 128 (channel fan-out 32: density 1/4) -> maxpool2 ->
# conv1x1 4 (the first cut: 7x7x4, 196 values), a linear exit.
# Stage 2, the fog: the default model's two 128-channel convolutions
# (fan-outs 32 and 16), then conv1x1 8 (the second cut: 7x7x8, 392 values),
# a linear exit.
# Stage 3, the cloud: conv3x3 128 (fo 64 of 128 over 8 input channels: each
# output reads 4 of them) -> maxpool2 -> fc 10.
# `tile4` channel patterns, augmentation and schedule as the default model
# (scripts/train-default-model.sh); the 1x1 convolutions are dense.
"$train" train --dataset fashion-mnist --epochs "$epochs" --seed "$seed" \
  --layers "conv3x3 32, maxpool2, conv3x3 128 fo 32, maxpool2, conv1x1 4, conv3x3 128 fo 32, conv3x3 128 fo 16, conv1x1 8, conv3x3 128 fo 64, maxpool2, fc 10 fo 5" \
  --split-after 5 --later-cuts 8 --exits "5 8" --exit-weight 0.5 --pattern tile4 \
  --lr 0.002 --l2 0.00002 --schedule cosine --shift 1 --flip --threads 2 \
  --out "$out"
"$train" calibrate --model "$out" --exit all --max-drop 0.5
