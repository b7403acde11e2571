#!/usr/bin/env bash
# The chain benchmark (run through scripts/bench.sh chain, which configures
# build/release first): builds the daemons and tools, runs
# scripts/bench_chain.py (two and three stages, static and adaptive, at a
# fixed rate and as fast as possible, on the Fashion-MNIST test set: JSON
# lines on stdout, results/chain.{jsonl,svg}), then regenerates
# docs/RESULTS.md, whose "A chain of stages" section is this benchmark.
#
# Usage: scripts/bench.sh chain [--quick]   (--quick: 2,000 samples each)
set -euo pipefail
cd "$(dirname "$0")/.."

extra=()
if [[ "${1:-}" == "--quick" ]]; then extra=(--limit 2000); fi

build=build/release
cmake --build $build --target spex-cloud spex-edge spex-replay spex-proxy -j "$(nproc)" >&2
avx512=no
grep -q avx512f /proc/cpuinfo && avx512=yes
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, AVX-512: $avx512"
/usr/bin/python3 scripts/bench_chain.py --build $build "${extra[@]}" \
  --command "./scripts/bench.sh chain${1:+ $1}"
/usr/bin/python3 scripts/results_md.py results docs/RESULTS.md
echo "docs/RESULTS.md regenerated (its chain section: this run)" >&2
