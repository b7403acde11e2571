#!/usr/bin/env bash
# scripts/bench_edge_arm64.py (the measurement of `scripts/bench.sh
# edge-arm64`) on the arm64 tree scripts/test.sh built: the whole arm64
# spex-edge under qemu-aarch64 with the counting plugin, answering test
# images edge-only and split+exit against the native spex-cloud, and the
# arm64 echo server. The default model stands in for the dense twin too
# (training the twin takes half an hour), which makes a check of the method:
# the same model measured twice must give the same counts, within 2 % in
# edge-only and 10 % in split+exit, whose stream to the cloud brings timer
# and flow-control work that moves with the threads' timing (2-3 % apart
# at 40 images, once 8 % before the runs' lifetimes were matched). Also:
# a line per model and mode, positive counts, split+exit cheaper than
# edge-only (the head and exit against the whole network), the echo's
# serving a small part of the agent's count.
# Usage: arm64_edge_count_test.sh NATIVE_BUILD_DIR ARM64_BUILD_DIR
set -euo pipefail
cd "$(dirname "$0")/../.."
native=${1:-build/native}
arm64=${2:-build/aarch64}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

scripts/build-count-plugin.sh "$out/libspex_icount.so"
/usr/bin/python3 scripts/bench_edge_arm64.py --edge "$arm64/edge_agent/spex-edge" \
  --echo "$arm64/bench/spex-echo-server" --plugin "$out/libspex_icount.so" \
  --libs /opt/spex-arm64/usr/lib/aarch64-linux-gnu --native "$native" \
  --dense results/fashion-default.spex --samples 40 > "$out/lines.txt"
cat "$out/lines.txt"
/usr/bin/python3 - "$out/lines.txt" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
at = {(r["model"], r["mode"]): r["instructions_per_sample"] for r in lines}
want = {(m, mode) for m in ("sparse", "dense") for mode in ("edge-only", "split+exit")}
assert want | {("echo", "edge-only")} == set(at), sorted(at)
assert all(n > 0 for n in at.values()), at
for mode, tolerance in (("edge-only", 0.02), ("split+exit", 0.10)):
    a, b = at[("sparse", mode)], at[("dense", mode)]
    assert abs(a - b) <= tolerance * max(a, b), f"{mode}: one model counted {a} and {b}"
assert at[("sparse", "split+exit")] < at[("sparse", "edge-only")], at
assert at[("echo", "edge-only")] < 0.2 * at[("sparse", "split+exit")], at
print("arm64_edge_count_test: the counts repeat (edge-only within 2 %, split+exit 10 %)")
PY
