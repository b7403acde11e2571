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
epochs=30
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

# Stage 1, the edge: 784 -> 64 (70 bytes as int8), a linear exit.
# Stage 2, the fog: 64 -> 512 -> 128 (134 bytes as int8), a linear exit.
# Stage 3, the cloud: 128 -> 512 -> 10, the final classifier.
# Fan-outs 8, 128, 32, 128 (densities 1/8, 1/4, 1/4, 1/4), `tile8`
# patterns as the default model; the 10-wide classifiers are dense.
"$train" train --dataset fashion-mnist --epochs "$epochs" --seed "$seed" \
  --config "784 64 512 128 512 10" --fo "8 128 32 128 10" \
  --split-after 1 --later-cuts 3 --exits "1 3" --pattern tile8 --out "$out"
"$train" calibrate --model "$out" --exit all --max-drop 0.5
