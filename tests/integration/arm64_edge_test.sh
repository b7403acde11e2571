#!/usr/bin/env bash
# The device package (scripts/cross-arm64.sh) as a device would use it: its
# unit verifies, its runtime packages exist for arm64 in Debian, and its
# spex-edge, run under qemu-aarch64 with its model against the x86-64
# spex-cloud of the native build on loopback, is healthy by its spex-health
# and answers a replay of 500 Fashion-MNIST test images like the native
# spex-edge does (same path and label per image; a path may differ only
# where the exit's confidence sits within float rounding of the threshold,
# NEON against AVX).
# Usage: arm64_edge_test.sh SOURCE_DIR NATIVE_BUILD_DIR PACKAGE_TARBALL
#                           ARM64_LIBRARY_DIR
# ARM64_LIBRARY_DIR holds the arm64 prometheus-cpp and civetweb that
# install-deps.sh unpacked beside the system (on a device they are
# installed normally).
set -euo pipefail
source_dir="$1"
native="$2"
package="$3"
arm64_libraries="$4"
for binary in "$native/cloud_service/spex-cloud" "$native/edge_agent/spex-edge" \
              "$native/tools/spex-replay"; do
  if [[ ! -x $binary ]]; then
    echo "arm64_edge_test.sh: $binary is missing: build the native tree first"
    exit 1
  fi
done

if [[ ! -f $package ]]; then
  echo "arm64_edge_test.sh: no $package: run scripts/cross-arm64.sh first"
  exit 1
fi
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

wait_for_lines() {  # file lines seconds [pid]
  for _ in $(seq 1 $(( $3 * 20 ))); do
    [[ -s $1 && $(wc -l < "$1") -ge $2 ]] && return
    if [[ -n ${4:-} ]] && ! kill -0 "$4" 2>/dev/null; then break; fi
    sleep 0.05
  done
  echo "arm64_edge_test.sh: $1 did not appear"; cat "$work"/*.log; exit 1
}

wait_for_cloud() {  # metrics port
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$1/metrics" | grep -q '^spex_edge_cloud_up 1' && return
    sleep 0.1
  done
  echo "arm64_edge_test.sh: the agent did not connect to the cloud"; cat "$work"/*.log; exit 1
}

tar -C "$work" -xzf "$package"
unpacked=("$work"/spex-edge-*-arm64)
pkg=${unpacked[0]}
for file in bin/spex-edge bin/spex-replay bin/spex-health spex-edge.service \
            edge.flags models/fashion-default.spex runtime-packages.txt DEPLOY.md; do
  [[ -e $pkg/$file ]] || { echo "arm64_edge_test.sh: the package has no $file"; exit 1; }
done
model="$pkg/models/fashion-default.spex"
arm64_edge="$pkg/bin/spex-edge"
sed "s|/usr/local/bin/spex-edge|$arm64_edge|" "$pkg/spex-edge.service" > "$work/spex-edge.service"
verify=$(systemd-analyze verify "$work/spex-edge.service" 2>&1 || true)
[[ -z $verify ]] || { echo "the packaged unit: $verify"; exit 1; }
while read -r runtime_package; do
  apt-cache show "$runtime_package:arm64" >/dev/null 2>&1 ||
    { echo "arm64_edge_test.sh: no Debian arm64 package '$runtime_package'"; exit 1; }
done < "$pkg/runtime-packages.txt"
echo "package: unit verifies, $(wc -l < "$pkg/runtime-packages.txt") runtime packages exist for arm64"

mkdir -p "$work/models"
cp "$model" "$work/models/"
"$native/cloud_service/spex-cloud" --model_dir="$work/models" --plaintext \
  --listen=127.0.0.1:0 --metrics_listen= --port_file="$work/cloud.ports" \
  2>"$work/cloud.log" &
pids+=($!)
wait_for_lines "$work/cloud.ports" 2 30
cloud="127.0.0.1:$(sed -n 1p "$work/cloud.ports")"

replay_with() {  # name command...
  local name=$1
  shift
  "$@" --model="$model" --socket="$work/$name.sock" --cloud="$cloud" \
    --cloud_plaintext --deadline=10s --audit_fraction=0 \
    --metrics_listen=127.0.0.1:0 --port_file="$work/$name.ports" \
    2>"$work/$name.log" &
  local pid=$!
  pids+=($pid)
  wait_for_lines "$work/$name.ports" 2 120 $pid
  wait_for_cloud "$(sed -n 2p "$work/$name.ports")"
  if [[ $name == arm64 ]]; then
    env LD_LIBRARY_PATH="$arm64_libraries" qemu-aarch64 "$pkg/bin/spex-health" \
      --target="unix:$work/$name.sock" --timeout_ms=10000 ||
      { echo "the packaged spex-health does not see the agent serving"; exit 1; }
  fi
  "$native/tools/spex-replay" --target="unix:$work/$name.sock" --limit=500 \
    --streams=2 --out="$work/$name.jsonl" > "$work/$name.summary"
  kill -TERM $pid
  if ! wait $pid; then
    echo "arm64_edge_test.sh: the $name agent did not exit cleanly on SIGTERM:"
    cat "$work/$name.log"
    exit 1
  fi
}

replay_with arm64 env LD_LIBRARY_PATH="$arm64_libraries" qemu-aarch64 "$arm64_edge"
grep -q "using neon kernels" "$work/arm64.log" || {
  echo "the arm64 agent did not run the NEON kernels:"; cat "$work/arm64.log"; exit 1; }
replay_with native "$native/edge_agent/spex-edge"

/usr/bin/python3 - "$work/arm64.jsonl" "$work/native.jsonl" <<'PY'
import json, sys
arm = {r["id"]: r for r in map(json.loads, open(sys.argv[1]))}
nat = {r["id"]: r for r in map(json.loads, open(sys.argv[2]))}
assert len(arm) == len(nat) == 500, (len(arm), len(nat))
same_label = sum(arm[i]["predicted"] == nat[i]["predicted"] for i in nat)
same_path = sum(arm[i]["path"] == nat[i]["path"] for i in nat)
unanswered = sum(arm[i]["predicted"] < 0 for i in arm)
cloud = sum(arm[i]["path"] == "cloud" for i in arm)
print(f"arm64 vs native: {same_label}/500 same label, {same_path}/500 same path, "
      f"{cloud} answered by the cloud, {unanswered} unanswered")
# Near-threshold confidences may round the other way on NEON: allow 1 %.
ok = unanswered == 0 and cloud > 50 and same_path >= 495 and same_label >= 495
for i in nat:
    if arm[i]["path"] == nat[i]["path"] and arm[i]["predicted"] != nat[i]["predicted"]:
        print("same path, other label:", arm[i], nat[i])
        ok = False
sys.exit(0 if ok else 1)
PY
