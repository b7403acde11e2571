#!/usr/bin/env bash
# The cloud load benchmark (run through scripts/bench.sh cloud, which builds
# build/release first). spex-cloud serves results/fashion-default.spex on
# loopback; spex-echo-server answers the same stream with no inference. For
# each target, streams in 1 8 64 and samples per request in 1 16, spex-loadgen
# prints one JSON line; scripts/cloud_table.py then prints the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."

samples=40000
if [[ "${1:-}" == "--quick" ]]; then samples=4000; fi

build=build/release
cmake --build $build --target spex-cloud spex-echo-server spex-loadgen \
  spex_tail_batch_bench -j "$(nproc)" >&2

source scripts/daemons.sh
work=$spex_work

avx512=no
grep -q avx512f /proc/cpuinfo && avx512=yes
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, AVX-512: $avx512"
echo
echo "The default model's tail, one thread: single-sample path against one"
echo "feature-major pass, per batch size (when batching pays):"
$build/bench/spex_tail_batch_bench results/fashion-default.spex
echo

spex_start cloud "$work/cloud.log" \
  $build/cloud_service/spex-cloud --model_dir=results --plaintext \
  --listen=127.0.0.1:0 --metrics_listen= --port_file="$work/cloud"
spex_start echo "$work/echo.log" \
  $build/bench/spex-echo-server --api=callback --port_file="$work/echo"
spex_wait_for_ports "$work/cloud"
spex_wait_for_ports "$work/echo"
cloud_port=$(sed -n 1p "$work/cloud")
echo_port=$(sed -n 1p "$work/echo")

results="$work/results.jsonl"
for streams in 1 8 64; do
  for per_request in 1 16; do
    for target in echo spex-cloud; do
      port=$echo_port
      [[ $target == spex-cloud ]] && port=$cloud_port
      $build/tools/spex-loadgen --target="127.0.0.1:$port" --name=$target \
        --streams=$streams --samples_per_request=$per_request \
        --samples=$samples | tee -a "$results"
    done
  done
done
echo
/usr/bin/python3 scripts/cloud_table.py "$results"
