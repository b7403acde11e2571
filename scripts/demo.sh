#!/usr/bin/env bash
# spex end to end on this machine: installs what is missing, builds, takes
# the committed default model (trains it when absent), starts spex-cloud and
# spex-edge on loopback, replays the Fashion-MNIST test set through the
# edge's local API as an application would, prints the summary, writes
# demo-out/, and stops the daemons.
#
# Usage: scripts/demo.sh [--limit N] [--rate SAMPLES_PER_S]
#   demo-out/summary.json   samples, answered, accuracy, path_fraction,
#                           offload_bytes_per_sample, latency_us per path
#   demo-out/answers.jsonl  one line per sample
#   demo-out/{cloud,edge}-metrics.txt, {cloud,edge}.log
set -euo pipefail
cd "$(dirname "$0")/.."

limit=0
rate=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --limit) limit="$2"; shift ;;
    --rate) rate="$2"; shift ;;
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
echo "(run them yourself to watch live: see README, 'Running the daemons')"
