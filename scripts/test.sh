#!/usr/bin/env bash
# The one test command: installs what is missing, then builds and runs every
# test three ways:
#   1. x86-64 (or the host's architecture), warnings as errors, after a
#      clang-format check of every C++ source;
#   2. the same under AddressSanitizer + UndefinedBehaviorSanitizer;
#   3. the common library and the edge agent cross-built for aarch64 and
#      packaged for a device (scripts/cross-arm64.sh), their tests run under
#      qemu-aarch64 (every NEON kernel meets the reference), and the
#      packaged spex-edge answers a replay against the native spex-cloud
#      like the native agent does; the arm64 kernel cost benchmark runs
#      (instruction counts under a QEMU plugin, llvm-mca) and must give the
#      same counts twice, and the whole arm64 agent's count per answered
#      image (scripts/bench.sh edge-arm64's method) must repeat.
# The native stage also builds the container images with podman and runs
# them (the cloud alone, then the compose stack with Prometheus). Then
# every libFuzzer target runs for a minute (scripts/fuzz.sh).
# Build trees live under build/ and are reused (with ccache) between runs.
#
# Usage: scripts/test.sh [--skip-install] [--only native|asan|fuzz|aarch64]
set -euo pipefail
cd "$(dirname "$0")/.."

skip_install=0
only=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --skip-install) skip_install=1 ;;
    --only) only="$2"; shift ;;
    *) echo "test.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done

if [[ $skip_install -eq 0 ]]; then
  ./deploy/install-deps.sh
fi

jobs=$(nproc)
started=$SECONDS
ctest_args=(--output-on-failure --timeout 600 -j "$jobs")

step() { echo; echo "=== $* ($((SECONDS - started)) s elapsed)"; }

# The C++ sources in the project's one style (.clang-format, clang-format 14):
# a file that differs fails the run, naming the lines.
check_format() {
  step "clang-format check"
  find common edge_agent cloud_service tools bench tests \
      \( -name '*.cc' -o -name '*.h' \) -not -path '*/corpus/*' -print0 |
    xargs -0 clang-format-14 --dry-run -Werror
}

run_native() {
  check_format
  step "native build and tests"
  cmake -S . -B build/native -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
  cmake --build build/native -j "$jobs"
  (cd build/native && ctest "${ctest_args[@]}")
}

run_asan() {
  step "ASan + UBSan build and tests"
  cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=Debug \
    -DSPEX_SANITIZE=ON -DSPEX_BUILD_BENCH=OFF
  cmake --build build/asan -j "$jobs"
  (cd build/asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1 ctest "${ctest_args[@]}")
}

run_fuzz() {
  step "fuzzing: each target 60 s (clang-14, ASan + UBSan)"
  ./scripts/fuzz.sh 60
}

run_aarch64() {
  step "aarch64 cross build, tests under qemu-aarch64"
  if [[ ! -x build/native/edge_agent/spex-edge ]]; then
    # The arm64 agent is checked against the native daemons.
    cmake -S . -B build/native -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
    cmake --build build/native -j "$jobs" --target spex-cloud spex-edge spex-replay
  fi
  # Builds build/aarch64 (the tests too) and the device package.
  ./scripts/cross-arm64.sh --skip-install
  (cd build/aarch64 && ctest "${ctest_args[@]}")
  # The arm64 kernel cost benchmark (instruction counts under a QEMU plugin),
  # and the whole agent's count per sample (scripts/bench.sh edge-arm64).
  tests/integration/arm64_instruction_count_test.sh
  tests/integration/arm64_edge_count_test.sh build/native build/aarch64
}

case "$only" in
  "") run_native; run_asan; run_fuzz; run_aarch64 ;;
  native) run_native ;;
  asan) run_asan ;;
  fuzz) run_fuzz ;;
  aarch64) run_aarch64 ;;
  *) echo "test.sh: --only takes native, asan, fuzz or aarch64" >&2; exit 2 ;;
esac
step "all tests passed"
