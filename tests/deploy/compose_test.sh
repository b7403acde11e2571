#!/usr/bin/env bash
# docker-compose.yml, brought up by podman-compose with Prometheus from
# Debian's package (deploy/compose/prometheus-from-debian.yml; Grafana's
# image cannot be pulled here, so it is left out): Prometheus scrapes the
# containers' spex-cloud and edge simulator by their service names and its
# recording rules give the offload fraction.
# Usage: compose_test.sh REPO_ROOT   (after container_images_test.sh)
set -euo pipefail
source "$(dirname "$0")/podman_support.sh" "$1"
cd "$spex_repo"
project="spex-test-$$"
# Four distinct free ports, all held until all are chosen (one at a time,
# the system may hand out the same port twice, and two services then
# collide on it).
read -r SPEX_CLOUD_PORT SPEX_CLOUD_METRICS_PORT SPEX_EDGE_METRICS_PORT \
  SPEX_PROMETHEUS_PORT < <(/usr/bin/python3 -c 'import socket
held = [socket.socket() for _ in range(4)]
for s in held:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in held))')
export SPEX_CLOUD_PORT SPEX_CLOUD_METRICS_PORT SPEX_EDGE_METRICS_PORT \
  SPEX_PROMETHEUS_PORT
compose() {
  podman-compose -p "$project" -f docker-compose.yml \
    -f deploy/compose/prometheus-from-debian.yml "$@"
}
logs() {
  local c
  for c in $(podman ps -a --filter "label=io.podman.compose.project=$project" --format '{{.Names}}'); do
    echo "--- $c"; podman logs "$c" 2>&1 | tail -15
  done
}
cleanup() {
  compose down -t 3 >/dev/null 2>&1 || true
  podman volume rm -f "${project}_models" >/dev/null 2>&1 || true
  podman network rm -f "${project}_default" >/dev/null 2>&1 || true
}
trap cleanup EXIT

started=$SECONDS
compose up -d spex-cloud spex-edge prometheus > "$(mktemp)" 2>&1 ||
  { echo "FAIL: podman-compose up"; logs; exit 1; }
prometheus="http://127.0.0.1:$SPEX_PROMETHEUS_PORT"
query() {  # PromQL -> the first value, or nothing
  curl -sf --get "$prometheus/api/v1/query" --data-urlencode "query=$1" |
    /usr/bin/python3 -c 'import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "")' 2>/dev/null || true
}
fraction=""
for _ in $(seq 1 90); do
  fraction=$(query 'spex:edge_offload_fraction:rate1m')
  [[ -n $fraction ]] && break
  sleep 2
done
if [[ -z $fraction ]]; then
  echo "FAIL: no offload fraction from Prometheus after $((SECONDS - started)) s"
  curl -sf "$prometheus/api/v1/targets" | head -c 2000; echo
  logs
  exit 1
fi
for job in spex-cloud spex-edge; do
  [[ $(query "up{job=\"$job\"}") == 1 ]] || { echo "FAIL: Prometheus cannot scrape $job"; logs; exit 1; }
done
# Both spex containers are healthy by their own HEALTHCHECK (spex-health
# over TCP for the cloud, over the Unix socket for the edge).
for service in spex-cloud spex-edge; do
  container=$(podman ps --filter "label=io.podman.compose.project=$project" \
    --filter "label=com.docker.compose.service=$service" --format '{{.Names}}')
  podman healthcheck run "$container" > /dev/null 2>&1 ||
    { echo "FAIL: $service ($container) is not healthy"; logs; exit 1; }
done
cloud_rate=$(query 'spex:cloud_samples:rate1m')
echo "compose stack up, spex-cloud and spex-edge healthy; after $((SECONDS - started)) s Prometheus reports offload fraction $fraction, cloud samples/s ${cloud_rate:-none}"
/usr/bin/python3 -c "import sys; f = float('$fraction'); sys.exit(0 if 0 < f < 1 else 1)" ||
  { echo "FAIL: offload fraction $fraction is not between 0 and 1 (the simulator offloads some samples)"; exit 1; }
