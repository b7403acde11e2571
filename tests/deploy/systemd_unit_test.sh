#!/usr/bin/env bash
# deploy/edge/spex-edge.service passes `systemd-analyze verify` with its
# ExecStart pointed at the spex-edge just built (the unit is otherwise
# unchanged).
# Usage: systemd_unit_test.sh SOURCE_DIR SPEX_EDGE_BINARY
set -euo pipefail
source_dir="$1"
binary="$2"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed "s|/usr/local/bin/spex-edge|$binary|" \
  "$source_dir/deploy/edge/spex-edge.service" > "$work/spex-edge.service"
output=$(systemd-analyze verify "$work/spex-edge.service" 2>&1 || true)
if [[ -n "$output" ]]; then
  echo "systemd-analyze verify reports:"
  echo "$output"
  exit 1
fi
echo "spex-edge.service verifies"
