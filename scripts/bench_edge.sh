#!/usr/bin/env bash
# The edge benchmark (run through scripts/bench.sh edge, which builds
# build/release first): spex-edge's in-process Classify latency; its local
# API over a Unix socket (the cloud path never taken: no cloud, threshold 0)
# against spex-echo-server answering the same messages on the same kind of
# socket, with 1 and 8 streams (spex-replay, Fashion-MNIST test set); the
# agent's resident memory after 100,000 requests. JSON lines, then a table.
set -euo pipefail
cd "$(dirname "$0")/.."

repeat=3
if [[ "${1:-}" == "--quick" ]]; then repeat=1; fi

build=build/release
cmake --build $build --target spex-edge spex-echo-server spex-replay \
  spex_edge_classify_bench -j "$(nproc)" >&2

source scripts/daemons.sh
work=$spex_work

avx512=no
grep -q avx512f /proc/cpuinfo && avx512=yes
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, AVX-512: $avx512"
results="$work/results.jsonl"
$build/bench/spex_edge_classify_bench results/fashion-default.spex | tee -a "$results"

spex_start edge "$work/edge.log" \
  $build/edge_agent/spex-edge --model=results/fashion-default.spex \
  --socket="$work/edge.sock" --threshold=0 --metrics_listen=
spex_start echo "$work/echo.log" \
  $build/bench/spex-echo-server --service=edge --listen="unix:$work/echo.sock"
spex_wait_for_socket "$work/edge.sock"
spex_wait_for_socket "$work/echo.sock"

for streams in 1 8; do
  for target in echo spex-edge; do
    socket=$work/echo.sock
    [[ $target == spex-edge ]] && socket=$work/edge.sock
    $build/tools/spex-replay --target="unix:$socket" --streams=$streams \
      --repeat=$repeat --bench_target=$target | tee -a "$results"
  done
done

# Resident memory after 100,000 requests to the agent in all (it has had
# two runs of `repeat` test sets above).
sent=$(( 10000 * repeat * 2 ))
remaining=$(( 100000 - sent ))
if (( remaining > 0 )); then
  $build/tools/spex-replay --target="unix:$work/edge.sock" --streams=8 \
    --repeat=$(( (remaining + 9999) / 10000 )) --bench_target=rss-load >/dev/null
fi
rss_kb=$(awk '/^VmRSS:/ {print $2}' /proc/$edge_pid/status)
if [[ -z "$rss_kb" ]]; then
  echo "bench_edge.sh: cannot read spex-edge's resident memory" >&2
  exit 1
fi
echo "{\"measure\": \"rss_bytes\", \"value\": $(( rss_kb * 1024 ))}" | tee -a "$results"
echo
/usr/bin/python3 scripts/edge_table.py "$results"
