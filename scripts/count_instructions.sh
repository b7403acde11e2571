#!/usr/bin/env bash
# Instructions a daemon retires per sample, steady state, under callgrind:
# repeatable for the same binary and inputs whatever else the machine does,
# where CPU seconds on a shared 2-core machine vary by +-20 % from run to
# run. The daemon runs under valgrind; a warm-up load goes through it, its
# counters are zeroed, the measured load goes through, and the counters are
# dumped (startup, model loading and shutdown are left out).
#
# Usage: scripts/count_instructions.sh [--build DIR] WHAT [SAMPLES]
#   WHAT: edge-only | split+exit   spex-edge on the default model (split+exit
#                                  with a spex-cloud beside it), fed by
#                                  spex-replay (4 streams x 8 in flight)
#         echo-edge                spex-echo-server --service=edge, the same
#         cloud                    spex-cloud, fed by spex-loadgen (8 streams
#                                  x 1 sample per request)
#         echo-cloud               spex-echo-server (InferStream), the same
#   SAMPLES: measured samples (default 3000; the warm-up is a third of it).
# Prints: WHAT instructions per sample: N. Valgrind has no AVX-512: kernels
# run their AVX2 versions here.
set -euo pipefail
cd "$(dirname "$0")/.."

build=build/release
if [[ "${1:-}" == "--build" ]]; then build=$2; shift 2; fi
what=${1:?usage: scripts/count_instructions.sh [--build DIR] WHAT [SAMPLES]}
samples=${2:-3000}
warmup=$((samples / 3))
model=results/fashion-default.spex
command -v valgrind >/dev/null || { echo "needs valgrind" >&2; exit 2; }

source scripts/daemons.sh
work=$spex_work
mkdir -p "$work/models"
cp "$model" "$work/models/"

profiled=()
case $what in
  edge-only|split+exit)
    flags=(--model="$model" --socket="$work/s.sock" --metrics_listen=127.0.0.1:0
           --audit_fraction=0 --deadline=10s --max_queued=64)
    if [[ $what == edge-only ]]; then
      flags+=(--placement=edge --early_exit=false)
    else
      spex_start cloud "$work/cloud.log" "$build/cloud_service/spex-cloud" \
        --model_dir="$work/models" --plaintext --listen=127.0.0.1:0 \
        --metrics_listen= --port_file="$work/cloud"
      spex_wait_for_ports "$work/cloud"
      flags+=(--cloud="127.0.0.1:$(sed -n 1p "$work/cloud")" --cloud_plaintext)
    fi
    profiled=("$build/edge_agent/spex-edge" "${flags[@]}") ;;
  echo-edge)
    profiled=("$build/bench/spex-echo-server" --service=edge
              --listen="unix:$work/s.sock") ;;
  cloud)
    profiled=("$build/cloud_service/spex-cloud" --model_dir="$work/models"
              --plaintext --listen=127.0.0.1:0 --metrics_listen=
              --port_file="$work/ports") ;;
  echo-cloud)
    profiled=("$build/bench/spex-echo-server" --api=callback
              --port_file="$work/ports") ;;
  *) echo "count_instructions.sh: unknown WHAT '$what'" >&2; exit 2 ;;
esac

spex_start profiled "$work/profiled.log" valgrind --tool=callgrind \
  --callgrind-out-file="$work/callgrind.out" "${profiled[@]}"
load() {  # samples
  case $what in
    cloud|echo-cloud)
      "$build/tools/spex-loadgen" --target="127.0.0.1:$(sed -n 1p "$work/ports")" \
        --name="$what" --streams=8 --samples_per_request=1 --samples="$1" ;;
    *)
      "$build/tools/spex-replay" --target="unix:$work/s.sock" --limit="$1" \
        --streams=4 --depth=8 ;;
  esac >/dev/null 2>&1
}
case $what in
  cloud|echo-cloud) spex_wait_for_ports "$work/ports" ;;
  *) for _ in $(seq 1 1200); do [[ -S $work/s.sock ]] && break; sleep 0.1; done ;;
esac
load "$warmup"
callgrind_control --zero "$profiled_pid" >/dev/null 2>&1
load "$samples"
callgrind_control --dump "$profiled_pid" >/dev/null 2>&1
total=$(callgrind_annotate "$work/callgrind.out.1" 2>/dev/null |
  sed -n 's/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' | tr -d ,)
echo "$what instructions per sample: $((total / samples))"
