#!/usr/bin/env bash
# The cloud in its container: the spex-cloud image runs as a non-root user,
# becomes healthy through its HEALTHCHECK, serves models from a mounted
# model directory, and a spex-edge on the host that offloads every sample to
# it gets the answers a spex-cloud on the host gives.
# Usage: container_test.sh REPO_ROOT BUILD_DIR   (after container_images_test.sh)
set -euo pipefail
source "$(dirname "$0")/podman_support.sh" "$1"
build="$2"
source "$spex_repo/scripts/daemons.sh"
work=$spex_work
name="spex-cloud-test-$$"
trap 'podman rm -f -v -t 2 "$name" >/dev/null 2>&1 || true; spex_stop_all' EXIT
fail() { echo "FAIL: $*" >&2; podman logs "$name" 2>&1 | tail -20 >&2 || true; exit 1; }

# The operator's model directory, mounted over the image's.
mkdir -p "$work/models"
cp "$spex_repo/results/fashion-default.spex" "$work/models/"
chmod 0755 "$work"
# (podman's complaint that it has no systemd to time health checks with is
# kept out of the output: the test runs them itself.)
podman run -d --name "$name" -p 127.0.0.1::50051 -p 127.0.0.1::9464 \
  -v "$work/models:/var/lib/spex/models:ro" localhost/spex-cloud:latest \
  > "$work/podman-run.log" 2>&1 || fail "podman run: $(cat "$work/podman-run.log")"
healthy=0
for _ in $(seq 1 50); do
  if podman healthcheck run "$name" >/dev/null 2>&1; then healthy=1; break; fi
  sleep 0.2
done
[[ $healthy -eq 1 ]] || fail "the container never became healthy"
echo "container healthy (HEALTHCHECK through spex-health)"
[[ $(podman exec "$name" id -u) == 10001 ]] || fail "spex-cloud runs as root"
grpc_port=$(podman port "$name" 50051/tcp | sed 's/.*://')
metrics_port=$(podman port "$name" 9464/tcp | sed 's/.*://')
curl -sf "http://127.0.0.1:$metrics_port/metrics" | grep -q '^spex_cloud_models_loaded 1' ||
  fail "the container's metrics do not show the mounted model"

# The reference: the same replay through a spex-cloud on the host.
spex_start host_cloud "$work/host-cloud.log" "$build/cloud_service/spex-cloud" \
  --model_dir="$work/models" --plaintext --listen=127.0.0.1:0 \
  --metrics_listen=127.0.0.1:0 --port_file="$work/host-cloud.ports"
spex_wait_for_ports "$work/host-cloud.ports"
replay_through() {  # cloud port, output prefix
  local out=$2
  spex_start "edge_$out" "$work/$out-edge.log" "$build/edge_agent/spex-edge" \
    --model="$work/models/fashion-default.spex" --socket="$work/$out.sock" \
    --cloud="127.0.0.1:$1" --cloud_plaintext --threshold=1 --deadline=5s \
    --metrics_listen= --port_file="$work/$out-edge.ports"
  spex_wait_for_socket "$work/$out.sock"
  "$build/tools/spex-replay" --target="unix:$work/$out.sock" --limit=2000 \
    --out="$work/$out.jsonl" --summary="$work/$out.json" > /dev/null
}
replay_through "$grpc_port" container
replay_through "$(sed -n 1p "$work/host-cloud.ports")" host

/usr/bin/python3 - "$work/container.jsonl" "$work/host.jsonl" <<'PY'
import json, sys
container = [json.loads(l) for l in open(sys.argv[1])]
host = {r["id"]: r for r in map(json.loads, open(sys.argv[2]))}
assert len(container) == 2000, f"{len(container)} answers for 2000 samples"
paths = {r["path"] for r in container}
assert paths == {"cloud"}, f"answer paths {paths}: the container did not answer every sample"
same = sum(r["predicted"] == host[r["id"]]["predicted"] for r in container)
correct = sum(r["predicted"] == r["label"] for r in container)
print(f"container answered 2000/2000 through the cloud, accuracy {correct / 20:.2f} %, "
      f"{same}/2000 labels equal to the host spex-cloud's")
# Batches form differently in the two runs, so float sums may round
# differently; a label may flip only at a near tie.
assert same >= 1996, "the container's answers differ from the host's"
PY
echo "image: $(podman image inspect localhost/spex-cloud:latest --format '{{.Size}}') bytes"
