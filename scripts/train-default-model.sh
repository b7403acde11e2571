#!/usr/bin/env bash
# The recipe of spex's default model (Fashion-MNIST): trains it, then
# calibrates its exit threshold on the validation hold-out so that overall
# accuracy stays within 0.5 points of the full network. docs/RESULTS.md says
# why this topology and pattern.
#
# The default is a predefined-sparse CNN split on a 7x7x4 feature map (196
# int8 bytes, a quarter of the image) with an exit there; --mlp trains the
# research's own shape instead, a sparse MLP split after its first layer
# (results/fashion-mlp.spex).
#
# Usage: scripts/train-default-model.sh [--mlp] [--out FILE] [--epochs N]
#                                       [--seed S] [--train PATH] [--dense]
#   --train: a built spex-train (default: builds build/release's).
#   --dense: the dense twin (same topology, every junction fully connected),
#            calibrated the same way: the baseline the sparse model is
#            compared with.
set -euo pipefail
cd "$(dirname "$0")/.."

mlp=0
out=""
epochs=""
seed=1
train=""
dense=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --mlp) mlp=1 ;;
    --out) out="$2"; shift ;;
    --epochs) epochs="$2"; shift ;;
    --seed) seed="$2"; shift ;;
    --train) train="$2"; shift ;;
    --dense) dense=(--dense) ;;
    *) echo "train-default-model.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done
if [[ $mlp == 1 ]]; then
  out=${out:-results/fashion-mlp.spex}
  epochs=${epochs:-30}
else
  out=${out:-results/fashion-default.spex}
  epochs=${epochs:-60}
fi
if [[ -z "$train" ]]; then
  cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DSPEX_BUILD_BENCH=OFF >/dev/null
  cmake --build build/release --target spex-train -j "$(nproc)"
  train=build/release/tools/spex-train
fi
mkdir -p "$(dirname "$out")"

if [[ $mlp == 1 ]]; then
  # 784 -> 64 (the split: 64 values, 70 bytes as int8) -> 512 -> 512 -> 10,
  # a linear exit on the split; fan-outs 8, 128, 128 (densities 1/8, 1/4,
  # 1/4), `tile8` patterns: they train as well as `random`
  # (docs/RESULTS.md, ten paired seeds) and run the fastest kernels at every
  # batch size (docs/BENCHMARKS.md). The 10-wide classifiers are dense.
  "$train" train --dataset fashion-mnist --epochs "$epochs" --seed "$seed" \
    --config "784 64 512 512 10" --fo "8 128 128 10" --split-after 1 --exits 1 \
    --pattern tile8 "${dense[@]}" --out "$out"
else
  # 28x28x1 -> conv3x3 32 -> maxpool2 -> conv3x3 128 (channel fan-out 32:
  # density 1/4) -> maxpool2 -> conv1x1 4 (the cut: 7x7x4, 196 values) |
  # conv3x3 128 (fo 32) -> conv3x3 128 (fo 16: 1/8) -> maxpool2 -> fc 10,
  # a linear exit on the cut. `tile4` channel patterns (four output channels
  # share their input channels), augmentation (shifts of a pixel, flips), a
  # cosine schedule: docs/RESULTS.md ("Convolutional networks") gives the
  # seeds and the dense twin. The first convolution (one input channel) and
  # the 1x1 are dense.
  "$train" train --dataset fashion-mnist --epochs "$epochs" --seed "$seed" \
    --layers "conv3x3 32, maxpool2, conv3x3 128 fo 32, maxpool2, conv1x1 4, conv3x3 128 fo 32, conv3x3 128 fo 16, maxpool2, fc 10 fo 5" \
    --split-after 5 --exits 5 --exit-weight 0.5 --pattern tile4 \
    --lr 0.002 --l2 0.00002 --schedule cosine --shift 1 --flip --threads 2 \
    "${dense[@]}" --out "$out"
fi
"$train" calibrate --model "$out" --max-drop 0.5
