#!/usr/bin/env bash
# The end-to-end benchmark (run through scripts/bench.sh e2e, which
# configures build/release first): builds the daemons and tools, trains the
# dense twin of the default model once (scripts/dense-twin.sh), runs
# scripts/bench_e2e.py (five modes x two models on the Fashion-MNIST test
# set: JSON lines on stdout, results/e2e.jsonl and results/e2e.svg), then
# regenerates docs/RESULTS.md, whose last section is this benchmark.
#
# Usage: scripts/bench.sh e2e [--quick]   (--quick: 2,000 samples per mode)
set -euo pipefail
cd "$(dirname "$0")/.."

extra=()
if [[ "${1:-}" == "--quick" ]]; then extra=(--limit 2000 --adaptive_seconds 3); fi

build=build/release
cmake --build $build --target spex-cloud spex-edge spex-replay spex-proxy \
  spex-model spex-train spex-echo-server -j "$(nproc)" >&2
dense=$(scripts/dense-twin.sh $build)
avx512=no
grep -q avx512f /proc/cpuinfo && avx512=yes
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, AVX-512: $avx512"
/usr/bin/python3 scripts/bench_e2e.py --build $build --dense $dense "${extra[@]}" \
  --command "./scripts/bench.sh e2e${1:+ $1}"
/usr/bin/python3 scripts/results_md.py results docs/RESULTS.md
echo "docs/RESULTS.md regenerated (its last section: this run)" >&2
