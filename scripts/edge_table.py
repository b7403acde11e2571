#!/usr/bin/python3
"""Reads scripts/bench_edge.sh's JSON lines and prints the local API against
the echo, the in-process latency, the memory, and the floors."""
import json
import sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
streams = {(r["target"], r["streams"]): r for r in rows if "target" in r}
measures = {r["measure"]: r for r in rows if "measure" in r}

print("| streams | spex-edge samples/s | echo samples/s | ratio | spex-edge p50 / p99 us | echo p50 / p99 us |")
print("|---|---|---|---|---|---|")
floors = []
for n in sorted({k[1] for k in streams}):
    edge, echo = streams.get(("spex-edge", n)), streams.get(("echo", n))
    if edge is None or echo is None:
        continue
    ratio = edge["samples_per_s"] / echo["samples_per_s"]
    print(f"| {n} | {edge['samples_per_s']:.0f} | {echo['samples_per_s']:.0f} | "
          f"{ratio:.2f} | {edge['p50_us']:.0f} / {edge['p99_us']:.0f} | "
          f"{echo['p50_us']:.0f} / {echo['p99_us']:.0f} |")
    if n == 8:
        floors.append(("local API, 8 streams: >= 0.70 of the echo", f"{ratio:.2f}",
                       ratio >= 0.70))
print()
if "in_process_classify_us" in measures:
    m = measures["in_process_classify_us"]
    print(f"in-process Classify (head + exit, one sample): p50 {m['p50']} us, p99 {m['p99']} us")
if "local_classifier_us" in measures:
    m = measures["local_classifier_us"]
    print(f"LocalClassifier::Run alone: p50 {m['p50']} us, p99 {m['p99']} us")
if "rss_bytes" in measures:
    rss = measures["rss_bytes"]["value"]
    print(f"resident memory after 100,000 requests: {rss / 2**20:.1f} MiB")
    floors.append(("resident memory <= 64 MB", f"{rss / 1e6:.1f} MB", rss <= 64e6))
print()
for name, value, met in floors:
    print(f"{'met   ' if met else 'MISSED'} {name}: {value}")
