#!/usr/bin/env bash
# spex end to end on this machine: installs what is missing, builds, takes
# the committed default model (trains it when absent), starts spex-cloud and
# spex-edge on loopback, replays the Fashion-MNIST test set through the
# edge's local API as an application would, prints the summary, writes
# demo-out/, asks a Prometheus (Debian's, with spex's rules from
# deploy/prometheus) scraping both daemons for the offload fraction and the
# p99 latency, and stops everything.
#
# Usage: scripts/demo.sh [--limit N] [--rate SAMPLES_PER_S] [--keep]
#   --rate  images per second (default 2000; 0: as fast as the edge takes
#           them, which saturates two cores with the CNN's head and makes
#           the latencies those of a queue)
#   --keep  leave the daemons and Prometheus running, with the test set
#           replayed at 100 samples/s so the graphs move, until Ctrl-C
#   demo-out/summary.json   samples, answered, accuracy, path_fraction,
#                           offload_bytes_per_sample, latency_us per path
#   demo-out/answers.jsonl  one line per sample
#   demo-out/{cloud,edge}-metrics.txt, {cloud,edge}.log
set -euo pipefail
cd "$(dirname "$0")/.."

limit=0
rate=2000
keep=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --limit) limit="$2"; shift ;;
    --rate) rate="$2"; shift ;;
    --keep) keep=1 ;;
    *) echo "demo.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done

./deploy/install-deps.sh --no-arm64
build=build/native
cmake -S . -B $build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build $build --target spex-cloud spex-edge spex-replay -j "$(nproc)"

model=results/fashion-default.spex
if [[ ! -f $model ]]; then
  echo "demo.sh: no $model; training it (about a minute)"
  ./scripts/train-default-model.sh --out $model
fi

out=demo-out
rm -rf $out
mkdir -p $out
source scripts/daemons.sh
work=$spex_work

mkdir -p "$work/models"
cp $model "$work/models/"
spex_start cloud $out/cloud.log \
  $build/cloud_service/spex-cloud --model_dir="$work/models" --plaintext \
  --listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0 \
  --port_file="$work/cloud.ports"
spex_wait_for_ports "$work/cloud.ports"
cloud_port=$(sed -n 1p "$work/cloud.ports")
cloud_metrics=$(sed -n 2p "$work/cloud.ports")

spex_start edge $out/edge.log \
  $build/edge_agent/spex-edge --model=$model --socket="$work/edge.sock" \
  --cloud=127.0.0.1:$cloud_port --cloud_plaintext \
  --metrics_listen=127.0.0.1:0 --port_file="$work/edge.ports"
spex_wait_for_ports "$work/edge.ports"
edge_metrics=$(sed -n 2p "$work/edge.ports")

echo
echo "spex-cloud on 127.0.0.1:$cloud_port, metrics http://127.0.0.1:$cloud_metrics/metrics"
echo "spex-edge on unix:$work/edge.sock, metrics http://127.0.0.1:$edge_metrics/metrics"
echo
$build/tools/spex-replay --target="unix:$work/edge.sock" \
  --edge_metrics=127.0.0.1:$edge_metrics --limit="$limit" --rate="$rate" \
  --out=$out/answers.jsonl --summary=$out/summary.json

curl -sf "http://127.0.0.1:$cloud_metrics/metrics" > $out/cloud-metrics.txt || true
curl -sf "http://127.0.0.1:$edge_metrics/metrics" > $out/edge-metrics.txt || true
echo
echo "summary: $out/summary.json; every answer: $out/answers.jsonl"
echo "the daemons' metrics at the end of the run: $out/cloud-metrics.txt, $out/edge-metrics.txt"

# Prometheus as an operator runs it (deploy/prometheus: the same rules),
# scraping every second here so that the short run leaves a rate.
prometheus_port=9090
if ! /usr/bin/python3 -c 'import socket; socket.socket().bind(("127.0.0.1", 9090))' 2>/dev/null; then
  prometheus_port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
fi
cat > "$work/prometheus.yml" <<YAML
global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: ["$PWD/deploy/prometheus/rules/recording.yml", "$PWD/deploy/prometheus/rules/alerts.yml"]
scrape_configs:
  - {job_name: spex-cloud, static_configs: [{targets: ["127.0.0.1:$cloud_metrics"]}]}
  - {job_name: spex-edge, static_configs: [{targets: ["127.0.0.1:$edge_metrics"]}]}
YAML
spex_start prometheus $out/prometheus.log prometheus --config.file="$work/prometheus.yml" \
  --web.listen-address=127.0.0.1:$prometheus_port --storage.tsdb.path="$work/tsdb"
prometheus_url=http://127.0.0.1:$prometheus_port
query() {  # PromQL -> "label=value ..." lines
  curl -sf --get "$prometheus_url/api/v1/query" --data-urlencode "query=$1" |
    /usr/bin/python3 -c 'import json, sys
for r in json.load(sys.stdin)["data"]["result"]:
    labels = ",".join(k + "=" + v for k, v in r["metric"].items() if k != "__name__")
    print(labels or "all", "%.4g" % float(r["value"][1]))' 2>/dev/null || true
}
# Traffic once Prometheus scrapes the agent: a replay that ended before the
# first scrape would leave counters that never move in its window (a rate
# of 0/0). It scrapes every second, so the 6-second replay spans several.
for _ in $(seq 1 60); do
  [[ -n $(query 'up{job="spex-edge"} == 1') ]] && break
  sleep 0.5
done
counters() {  # the agent's requests by path: "cloud fallback local"
  curl -sf "http://127.0.0.1:$edge_metrics/metrics" | /usr/bin/python3 -c 'import sys
paths = {"cloud": 0.0, "fallback": 0.0, "local": 0.0}
for line in sys.stdin:
    for p in paths:
        if line.startswith("spex_edge_requests_total{path=\"%s\"}" % p):
            paths[p] = float(line.split()[-1])
print(paths["cloud"], paths["fallback"], paths["local"])'
}
before=$(counters)
$build/tools/spex-replay --target="unix:$work/edge.sock" --rate=500 --limit=3000 \
  &> /dev/null &
background_replay=$!
wait $background_replay || true
# Two more scrapes and an evaluation, so the window holds the whole replay.
sleep 3
offload=""
# A rule's first evaluations can see one scrape only: the rate is NaN
# until a second scrape lands in the window, so wait for a number.
for _ in $(seq 1 30); do
  offload=$(query 'spex:edge_offload_fraction:rate1m' | sed 's/^all //')
  [[ -n $offload && $offload != nan ]] && break
  offload=""
  sleep 1
done
echo
echo "Prometheus ($prometheus_url, rules from deploy/prometheus/rules), over the"
echo "last minute: the first 3,000 test images replayed again while it scraped:"
echo "  offload fraction (spex:edge_offload_fraction:rate1m): ${offload:-no value yet}"
# The same figure from the agent's own counters over the same replay: the
# two agree (a rate over a window that holds the whole replay).
read -r c0 f0 l0 <<< "$before"
read -r c1 f1 l1 <<< "$(counters)"
echo "  the agent's counters over the same replay: $(/usr/bin/python3 -c "
d = ($c1 - $c0) + ($f1 - $f0); n = d + ($l1 - $l0)
print('%.4g' % (d / n) if n else 'no samples')")"
query 'spex:edge_latency_seconds:p99 * 1e6' | { grep -v ' nan$' || true; } |
  sed 's/^/  p99 latency (us), /'
echo "  graph: $prometheus_url/graph?g0.expr=spex%3Aedge_offload_fraction%3Arate1m&g0.tab=0"

if [[ $keep -eq 1 ]]; then
  echo
  echo "--keep: spex-cloud, spex-edge and Prometheus stay up, the test set replayed"
  echo "at 100 samples/s; Ctrl-C stops them. Grafana users: docker-compose.yml."
  while true; do
    $build/tools/spex-replay --target="unix:$work/edge.sock" --rate=100 &> /dev/null || sleep 1
  done
else
  echo "(scripts/demo.sh --keep leaves it all running to look at)"
fi
