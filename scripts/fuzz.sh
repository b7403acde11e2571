#!/usr/bin/env bash
# Builds the libFuzzer targets (clang-14, ASan + UBSan, tests/fuzz) and runs
# each for a bounded time, as many at once as there are cores. Each starts
# from its seeds (tests/fuzz/corpus/<target>) and what earlier runs found
# (build/fuzz/corpus/<target>, kept between runs). A crash, a leak, a
# sanitizer report, a timeout or an out-of-memory fails the run and leaves
# the input in build/fuzz/crashes/<target>/; make it a regression test.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET (default 60)] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
shift || true
all_targets=(model_loader activation_decoder split_request oip_request
             edge_classify token_file onnx_import data_files)
targets=("${@:-${all_targets[@]}}")
build=build/fuzz

cmake -S . -B $build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++-14 -DSPEX_FUZZ=ON \
  -DSPEX_BUILD_TESTS=OFF -DSPEX_BUILD_BENCH=OFF > /dev/null
cmake --build $build -j "$(nproc)" --target "${targets[@]/%/_fuzzer}"

run_one() {  # target
  local target=$1
  mkdir -p "$build/corpus/$target" "$build/crashes/$target"
  # -timeout: one input may take 10 s (a hang is a finding); -rss_limit_mb:
  # an input that makes a daemon's parser allocate 2 GB is one too.
  local status=0
  "$build/tests/fuzz/${target}_fuzzer" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$build/crashes/$target/" \
    "$build/corpus/$target" "tests/fuzz/corpus/$target" \
    > "$build/$target.log" 2>&1 || status=$?
  echo $status > "$build/$target.status"
}

echo "fuzz.sh: ${#targets[@]} targets, ${seconds} s each, $(nproc) at a time"
failed=()
running=0
for target in "${targets[@]}"; do
  if [[ ! -d tests/fuzz/corpus/$target ]]; then
    echo "fuzz.sh: unknown target '$target' (${all_targets[*]})" >&2
    exit 2
  fi
  rm -f "$build/$target.status"
  run_one "$target" &
  running=$((running + 1))
  if [[ $running -ge $(nproc) ]]; then wait -n || true; running=$((running - 1)); fi
done
wait
for target in "${targets[@]}"; do
  if [[ $(cat "$build/$target.status" 2>/dev/null) != 0 ]]; then failed+=("$target"); fi
done

printf '%-20s %12s %8s %8s  %s\n' target executions cov corpus result
for target in "${targets[@]}"; do
  log="$build/$target.log"
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  corpus=$(find "$build/corpus/$target" -type f | wc -l)
  result=ok
  if [[ " ${failed[*]} " == *" $target "* ]]; then result="FAILED (see $log)"; fi
  printf '%-20s %12s %8s %8s  %s\n' "$target" "${runs:-?}" "${cov:-?}" "$corpus" "$result"
done
if [[ ${#failed[@]} -gt 0 ]]; then
  for target in "${failed[@]}"; do
    echo; echo "=== $target"; grep -A30 -m1 'ERROR\|==ERROR\|deadly signal\|runtime error' "$build/$target.log" || tail -30 "$build/$target.log"
  done
  exit 1
fi
