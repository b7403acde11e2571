#!/usr/bin/env bash
# The dense twin of the default model, for the benchmarks that compare the
# two (scripts/bench.sh e2e and edge-arm64): trained once into
# build/e2e/ with the default model's recipe (scripts/train-default-model.sh
# --dense: the CNN's twin, 60 epochs, about half an hour on 2 cores), then
# reused. Prints its path.
#
# Usage: scripts/dense-twin.sh BUILD   (a build tree with spex-train built)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: scripts/dense-twin.sh BUILD}
dense=build/e2e/fashion-default-dense.spex
if [[ ! -f $dense ]]; then
  echo "dense-twin.sh: training the dense twin ($dense)" >&2
  ./scripts/train-default-model.sh --dense --out $dense \
    --train "$build/tools/spex-train" >&2
fi
echo $dense
