#!/usr/bin/env bash
# The recipe of spex's default model (Fashion-MNIST): trains it, then
# calibrates its exit threshold on the validation hold-out so that overall
# accuracy stays within 0.5 points of the full network. docs/RESULTS.md says
# why this topology and pattern.
#
# Usage: scripts/train-default-model.sh [--out FILE] [--epochs N]
#                                       [--seed S] [--train PATH] [--dense]
#   --train: a built spex-train (default: builds build/release's).
#   --dense: the dense twin (same topology, every junction fully connected),
#            calibrated the same way: the baseline the sparse model is
#            compared with.
set -euo pipefail
cd "$(dirname "$0")/.."

out=results/fashion-default.spex
epochs=30
seed=1
train=""
dense=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) out="$2"; shift ;;
    --epochs) epochs="$2"; shift ;;
    --seed) seed="$2"; shift ;;
    --train) train="$2"; shift ;;
    --dense) dense=(--dense) ;;
    *) echo "train-default-model.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done
if [[ -z "$train" ]]; then
  cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DSPEX_BUILD_BENCH=OFF >/dev/null
  cmake --build build/release --target spex-train -j "$(nproc)"
  train=build/release/tools/spex-train
fi
mkdir -p "$(dirname "$out")"

# 784 -> 64 (the split: 64 values, 70 bytes as int8) -> 512 -> 512 -> 10,
# a linear exit on the split; fan-outs 8, 128, 128 (densities 1/8, 1/4, 1/4),
# `tile8` patterns: they train as well as `random` (docs/RESULTS.md, ten
# paired seeds) and run the fastest kernels at every batch size
# (docs/BENCHMARKS.md). The 10-wide classifiers are dense.
"$train" train --dataset fashion-mnist --epochs "$epochs" --seed "$seed" \
  --config "784 64 512 512 10" --fo "8 128 128 10" --split-after 1 --exits 1 \
  --pattern tile8 "${dense[@]}" --out "$out"
"$train" calibrate --model "$out" --max-drop 0.5
