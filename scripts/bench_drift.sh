#!/usr/bin/env bash
# The drift benchmark (run through scripts/bench.sh drift, which configures
# build/release first): builds the daemons and tools, runs
# scripts/bench_drift.py (clean -> corrupted -> clean test images through
# spex-cloud, a delaying spex-proxy and spex-edge, once per exit policy:
# JSON lines per window of 1,000 samples on stdout,
# results/drift.{jsonl,scan.json,meta.json,svg}, the floors), then
# regenerates docs/RESULTS.md, whose drift section is this benchmark.
#
# Usage: scripts/bench.sh drift [--quick]
#   --quick: 20,000 clean, 10,000 corrupted, 10,000 clean, no scan (a smoke
#            run; the accuracy objective does not settle in it)
set -euo pipefail
cd "$(dirname "$0")/.."

extra=()
if [[ "${1:-}" == "--quick" ]]; then
  extra=(--clean 20000 --corrupted 10000 --after 10000 --corruption brightness:3
         --out /tmp/spex-drift-quick)
fi

build=build/release
cmake --build $build --target spex-cloud spex-edge spex-replay spex-proxy \
  spex-model spex-train -j "$(nproc)" >&2
avx512=no
grep -q avx512f /proc/cpuinfo && avx512=yes
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, AVX-512: $avx512"
/usr/bin/python3 scripts/bench_drift.py --build $build "${extra[@]}" \
  --command "./scripts/bench.sh drift${1:+ $1}"
if [[ -z "${1:-}" ]]; then
  /usr/bin/python3 scripts/results_md.py results docs/RESULTS.md
  echo "docs/RESULTS.md regenerated (its drift section: this run)" >&2
fi
