#!/usr/bin/env bash
# Benchmarks, built in Release for this CPU.
#
# Usage: scripts/bench.sh kernels [--quick] [Google Benchmark flags]
#        scripts/bench.sh kernels-arm64 [--quick]
#        scripts/bench.sh cloud [--quick]
#        scripts/bench.sh edge [--quick]
#        scripts/bench.sh e2e [--quick]
#        scripts/bench.sh chain [--quick]
#        scripts/bench.sh edge-arm64 [--quick]
#        scripts/bench.sh drift [--quick]
#   kernels  spex's sparse layers against Eigen (dense and sparse), oneDNN and
#            XNNPACK, one thread: JSON lines, then a ratio table and the
#            floors, on stdout; then the predefined-sparse convolutions
#            against oneDNN's and XNNPACK's convolutions and im2col + Eigen
#            (spex_conv_bench): JSON lines with "op": "conv2d", then a table.
#   kernels-arm64  every NEON kernel at batch 1 against XNNPACK's arm64
#            fully connected operator and Eigen's GEMV, and spex's
#            convolutions (each pattern kind) against XNNPACK's arm64
#            convolution, without an ARM machine: instructions retired per
#            call, counted under qemu-aarch64 by a plugin, and llvm-mca-14's
#            cycles per run of each hot loop: JSON lines (convolutions with
#            "op": "conv2d"), then tables and the floors.
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
#   chain    the three-stage model: two stages (edge -> cloud) against three
#            (edge -> fog -> cloud), static and adaptive, at a fixed offered
#            rate and as fast as possible, links delayed by proxies: JSON
#            lines, results/chain.{jsonl,svg}, docs/RESULTS.md regenerated.
#   edge-arm64  what the device pays, whole: the arm64 spex-edge under
#            qemu-aarch64 with the counting plugin on the whole process,
#            answering test images one at a time (sparse default model and
#            its dense twin, edge-only and split+exit), and the arm64 echo
#            of the same local API: instructions per sample, start-up left
#            out. JSON lines, then a table and the floor.
#   drift    clean -> corrupted -> clean test images through the system, for
#            each exit policy (static, offload budget, latency objective,
#            accuracy objective, always offload): per window of 1,000
#            samples accuracy, loss against the full network, offloaded
#            fraction, audit bytes, p99; results/drift.{jsonl,svg}, the
#            floors, docs/RESULTS.md regenerated.
set -euo pipefail
cd "$(dirname "$0")/.."

what="${1:-}"
shift || true
case "$what" in
  kernels|kernels-arm64|cloud|edge|e2e|chain|edge-arm64|drift) ;;
  *) echo "usage: scripts/bench.sh kernels|kernels-arm64|cloud|edge|e2e|chain|edge-arm64|drift [options]" >&2; exit 2 ;;
esac

if [[ "$what" == kernels-arm64 ]]; then
  ./deploy/install-deps.sh >&2
  build=build/aarch64-count
  cmake -S . -B $build -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DSPEX_PARTS=common \
    -DSPEX_BUILD_TESTS=OFF -DSPEX_BUILD_ARM64_COUNT=ON >&2
  cmake --build $build --target spex_instruction_count -j "$(nproc)" >&2
  scripts/build-count-plugin.sh $build/libspex_icount.so
  exec python3 scripts/bench_arm64.py \
    --program $build/bench/arm64/spex_instruction_count \
    --plugin $build/libspex_icount.so \
    --libs /opt/spex-arm64/usr/lib/aarch64-linux-gnu "$@"
fi

if [[ "$what" == edge-arm64 ]]; then
  ./deploy/install-deps.sh >&2
else
  ./deploy/install-deps.sh --no-arm64 >&2
fi
# The tree is shared with reproduce.sh, which builds it without the
# benchmarks: ask for them.
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DSPEX_BUILD_BENCH=ON >&2

if [[ "$what" == kernels ]]; then
  cmake --build build/release --target spex_kernel_bench spex_conv_bench \
    -j "$(nproc)" >&2
  # One thread everywhere: oneDNN's OpenMP runtime would otherwise take both
  # cores while the others use one.
  export OMP_NUM_THREADS=1
  build/release/bench/spex_kernel_bench "$@"
  # The convolutions: their own JSON lines ("op": "conv2d") and table.
  exec build/release/bench/spex_conv_bench "$@"
fi

if [[ "$what" == edge-arm64 ]]; then
  # The device's agent and echo server: the tree scripts/cross-arm64.sh
  # packages (RelWithDebInfo, as shipped), only those two targets.
  arm64=build/aarch64
  cmake -S . -B $arm64 -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DSPEX_PARTS=edge >&2
  cmake --build $arm64 --target spex-edge spex-echo-server -j "$(nproc)" >&2
  scripts/build-count-plugin.sh $arm64/libspex_icount.so
  cmake --build build/release --target spex-cloud spex-replay spex-train \
    -j "$(nproc)" >&2
  dense=$(scripts/dense-twin.sh build/release)
  samples=300
  if [[ "${1:-}" == "--quick" ]]; then samples=30; fi
  exec /usr/bin/python3 scripts/bench_edge_arm64.py --edge $arm64/edge_agent/spex-edge \
    --echo $arm64/bench/spex-echo-server --plugin $arm64/libspex_icount.so \
    --libs /opt/spex-arm64/usr/lib/aarch64-linux-gnu --native build/release \
    --dense "$dense" --samples $samples --command "./scripts/bench.sh edge-arm64${1:+ $1}"
fi
exec scripts/bench_$what.sh "$@"
