#!/usr/bin/env bash
# Benchmarks, built in Release for this CPU and run on one thread.
#
# Usage: scripts/bench.sh kernels [--quick] [Google Benchmark flags]
#   kernels  spex's sparse layers against Eigen (dense and sparse), oneDNN and
#            XNNPACK: JSON lines, then a ratio table and the floors, on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."

what="${1:-}"
shift || true
case "$what" in
  kernels) ;;
  *) echo "usage: scripts/bench.sh kernels [--quick] [benchmark flags]" >&2; exit 2 ;;
esac

./deploy/install-deps.sh --no-arm64 >&2
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >&2
cmake --build build/release --target spex_kernel_bench -j "$(nproc)" >&2

# One thread everywhere: oneDNN's OpenMP runtime would otherwise take both
# cores while the others use one.
export OMP_NUM_THREADS=1
exec build/release/bench/spex_kernel_bench "$@"
