#!/usr/bin/env bash
# The instruction-counting QEMU plugin (bench/arm64/instruction_count_plugin.c)
# for the arm64 benchmarks: it runs inside the host's qemu-aarch64, so it is
# built for the host, against the plugin header deploy/install-deps.sh
# unpacks into /opt/spex-arm64.
#
# Usage: scripts/build-count-plugin.sh OUT.so
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: scripts/build-count-plugin.sh OUT.so}
gcc -O2 -Wall -Wextra -Werror -shared -fPIC \
  -I/opt/spex-arm64/qemu-plugin/include \
  -o "$out" bench/arm64/instruction_count_plugin.c
