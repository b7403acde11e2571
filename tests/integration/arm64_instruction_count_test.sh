#!/usr/bin/env bash
# `scripts/bench.sh kernels-arm64 --quick` end to end: the cross-built count
# program under qemu-aarch64 with the counting plugin, then llvm-mca on each
# hot loop. Checks what the counts must satisfy whatever the machine (they
# are exact, not timed): a line for XNNPACK, Eigen and every NEON kernel of
# the table, a convolution line for XNNPACK and spex (the kernel named),
# positive counts and cycles, a hot loop that holds most of each sparse
# kernel's instructions, and identical counts on a second run.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

./scripts/bench.sh kernels-arm64 --quick > "$out/first.txt"
./scripts/bench.sh kernels-arm64 --quick > "$out/second.txt"
python3 - "$out/first.txt" "$out/second.txt" common/kernels/kernel_table.inc <<'PY'
import json, re, sys
first = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
second = [json.loads(l) for l in open(sys.argv[2]) if l.startswith("{")]
kernels = re.findall(r"^SPEX_KERNEL\((f32_\w+_neon),", open(sys.argv[3]).read(), re.M)
impls = {r["impl"] for r in first}
missing = ({"xnnpack", "eigen_dense"} | set(kernels)) - impls
assert not missing, f"no line for {missing}"
convs = [r for r in first if r.get("op") == "conv2d"]
assert {r["impl"] for r in convs} >= {"xnnpack", "spex_tile4"}, convs
assert all(r["kernel"].endswith("_neon") for r in convs if r["impl"] != "xnnpack"), convs
for r in first:
    assert r["instructions"] > 0 and r["macs"] > 0, r
    assert all(c > 0 for c in r["mca_cycles"].values()), r
    hot = r["hot_loop"]
    share = hot["instructions"] * hot["runs_per_call"] / r["instructions"]
    assert 0 < share <= 1.0001, (r["impl"], share)
key = lambda r: (r.get("op"), r.get("case"), r["impl"], r["density"])
assert {key(r): r["instructions"] for r in first} == \
       {key(r): r["instructions"] for r in second}, "counts differ between runs"
print(f"{len(first)} implementations counted, identical on a second run")
PY
grep -A3 '^floor' "$out/first.txt"
