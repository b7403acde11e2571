#!/usr/bin/env bash
# Benchmarks, built in Release for this CPU.
#
# Usage: scripts/bench.sh kernels [--quick] [Google Benchmark flags]
#        scripts/bench.sh cloud [--quick]
#        scripts/bench.sh edge [--quick]
#        scripts/bench.sh e2e [--quick]
#   kernels  spex's sparse layers against Eigen (dense and sparse), oneDNN and
#            XNNPACK, one thread: JSON lines, then a ratio table and the
#            floors, on stdout.
#   cloud    spex-cloud serving the default model under spex-loadgen, and in
#            the same run a bare echo server of the same messages (the
#            ceiling): one JSON line per target, streams (1, 8, 64) and
#            samples per request (1, 16), then a table of ratios to the echo.
#            --quick measures fewer samples (a smoke run).
#   edge     spex-edge's in-process Classify latency, its local API over a
#            Unix socket against an echo server of the same messages (1 and
#            8 streams), its resident memory after 100,000 requests: JSON
#            lines, then a table and the floors.
#   e2e      the whole system on the Fashion-MNIST test set, the sparse
#            default model and its dense twin, five modes (edge-only,
#            cloud-only, split, split+exit, split+exit+adaptive): JSON lines,
#            results/e2e.{jsonl,svg}, docs/RESULTS.md regenerated.
set -euo pipefail
cd "$(dirname "$0")/.."

what="${1:-}"
shift || true
case "$what" in
  kernels|cloud|edge|e2e) ;;
  *) echo "usage: scripts/bench.sh kernels|cloud|edge|e2e [options]" >&2; exit 2 ;;
esac

./deploy/install-deps.sh --no-arm64 >&2
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >&2

if [[ "$what" == kernels ]]; then
  cmake --build build/release --target spex_kernel_bench -j "$(nproc)" >&2
  # One thread everywhere: oneDNN's OpenMP runtime would otherwise take both
  # cores while the others use one.
  export OMP_NUM_THREADS=1
  exec build/release/bench/spex_kernel_bench "$@"
fi

exec scripts/bench_$what.sh "$@"
