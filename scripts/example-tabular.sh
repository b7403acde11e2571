#!/usr/bin/env bash
# A user's own tabular data, end to end: scikit-learn's wine and breast
# cancer datasets (Debian's python3-sklearn) written the way a user keeps
# data (wine as CSV files with a header, breast cancer as one .npz with
# x_train, y_train, x_test and y_test), each trained by spex-train into a
# predefined-sparse model with an exit, calibrated, and the wine model
# served by spex-cloud and spex-edge (the demo's daemons) answering the
# test CSV through spex-replay.
#
# Usage: scripts/example-tabular.sh [--build DIR] [--out DIR]
# Prints each model's test accuracy and the served replay's summary; the
# files stay in --out (default example-tabular-out).
set -euo pipefail
cd "$(dirname "$0")/.."

build=build/native
out=example-tabular-out
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build="$2"; shift ;;
    --out) out="$2"; shift ;;
    *) echo "example-tabular.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done
for tool in tools/spex-train tools/spex-replay cloud_service/spex-cloud \
            edge_agent/spex-edge; do
  if [[ ! -x $build/$tool ]]; then
    echo "example-tabular.sh: no $build/$tool; build first (cmake --build $build)" >&2
    exit 1
  fi
done
mkdir -p "$out"

# 1. The data, as a user would have it: a seeded, stratified quarter held
# out for testing.
/usr/bin/python3 - "$out" <<'PY'
import sys
import numpy as np
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.model_selection import train_test_split

out = sys.argv[1]
wine = load_wine()
x_train, x_test, y_train, y_test = train_test_split(
    wine.data, wine.target, test_size=0.25, random_state=1, stratify=wine.target)
header = ",".join(['"%s"' % n for n in wine.feature_names] + ["class"])
for name, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
    np.savetxt("%s/wine-%s.csv" % (out, name), np.column_stack([x, y]),
               delimiter=",", header=header, comments="", fmt="%.10g")
cancer = load_breast_cancer()
x_train, x_test, y_train, y_test = train_test_split(
    cancer.data, cancer.target, test_size=0.25, random_state=1,
    stratify=cancer.target)
np.savez_compressed("%s/breast-cancer.npz" % out,
                    x_train=x_train.astype(np.float32), y_train=y_train,
                    x_test=x_test.astype(np.float32), y_test=y_test)
print("wrote %s/wine-train.csv (%d rows), wine-test.csv (%d), "
      "breast-cancer.npz" % (out, len(wine.target) * 3 // 4,
                             len(wine.target) - len(wine.target) * 3 // 4))
PY

# 2. Training: 13 (wine) and 30 (breast cancer) features standardized per
# feature from the training rows, padded to 16 and 32, a sparse hidden
# layer on the device with an exit after it, the rest in the cloud.
wine="train=$out/wine-train.csv,test=$out/wine-test.csv,label=class"
$build/tools/spex-train train --dataset "$wine" \
  --config "16 64 32 3" --fo "16 8 3" --split-after 1 --exits 1 \
  --epochs 150 --batch 16 --lr 0.003 --validation 26 --seed 1 \
  --out "$out/wine.spex"
# 26 validation rows cannot tell a confident exit from a lucky one, so the
# exit answers a fixed share: the rest cross to the cloud.
$build/tools/spex-train calibrate --model "$out/wine.spex" --exit-fraction 0.7

cancer="train=$out/breast-cancer.npz"
$build/tools/spex-train train --dataset "$cancer" \
  --config "32 64 32 2" --fo "16 8 2" --split-after 1 --exits 1 \
  --epochs 60 --batch 16 --lr 0.003 --validation 60 --seed 1 \
  --out "$out/breast-cancer.spex"
$build/tools/spex-train calibrate --model "$out/breast-cancer.spex" --max-drop 1

# 3. The wine model served as the demo serves Fashion-MNIST: the test rows
# sent to spex-edge, which answers on the device or asks spex-cloud.
source scripts/daemons.sh
work=$spex_work
mkdir -p "$work/models"
cp "$out/wine.spex" "$work/models/"
spex_start cloud "$out/cloud.log" \
  $build/cloud_service/spex-cloud --model_dir="$work/models" --plaintext \
  --listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0 \
  --port_file="$work/cloud.ports"
spex_wait_for_ports "$work/cloud.ports"
cloud_port=$(sed -n 1p "$work/cloud.ports")
spex_start edge "$out/edge.log" \
  $build/edge_agent/spex-edge --model="$out/wine.spex" \
  --socket="$work/edge.sock" --cloud=127.0.0.1:$cloud_port --cloud_plaintext \
  --metrics_listen=127.0.0.1:0 --port_file="$work/edge.ports"
spex_wait_for_ports "$work/edge.ports"
edge_metrics=$(sed -n 2p "$work/edge.ports")
$build/tools/spex-replay --target="unix:$work/edge.sock" --dataset="$wine" \
  --edge_metrics=127.0.0.1:$edge_metrics --out="$out/answers.jsonl" \
  --summary="$out/summary.json"
echo "example-tabular.sh: models, answers and summary in $out/"
