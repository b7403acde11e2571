#!/usr/bin/python3
"""Reads scripts/bench_cloud.sh's JSON lines and prints spex-cloud against the
echo server (same streams, same samples per request) and the floors."""
import json
import sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
by_key = {(r["target"], r["streams"], r["samples_per_request"]): r for r in rows}

print("| streams | samples/request | payload B | spex-cloud samples/s | echo samples/s "
      "| throughput ratio | spex p50 / p99 us | echo p50 / p99 us | p99 ratio |")
print("|---|---|---|---|---|---|---|---|---|")
floors = []
for (target, streams, per_request), cloud in sorted(by_key.items(),
                                                    key=lambda kv: kv[0][1:]):
    if target != "spex-cloud":
        continue
    echo = by_key.get(("echo", streams, per_request))
    if echo is None:
        continue
    throughput = cloud["samples_per_s"] / echo["samples_per_s"]
    p99 = cloud["p99_us"] / echo["p99_us"] if echo["p99_us"] else float("inf")
    print(f"| {streams} | {per_request} | {cloud['payload_bytes']} "
          f"| {cloud['samples_per_s']:.0f} | {echo['samples_per_s']:.0f} "
          f"| {throughput:.2f} | {cloud['p50_us']:.0f} / {cloud['p99_us']:.0f} "
          f"| {echo['p50_us']:.0f} / {echo['p99_us']:.0f} | {p99:.2f} |")
    if streams == 8 and per_request == 1:
        floors.append(("8 streams, 1 sample/request: throughput >= 0.70 of echo",
                       throughput, throughput >= 0.70))
        floors.append(("8 streams, 1 sample/request: p99 <= 2x echo",
                       p99, p99 <= 2.0))
print()
for name, value, met in floors:
    print(f"{'met   ' if met else 'MISSED'} {name}: {value:.2f}")
