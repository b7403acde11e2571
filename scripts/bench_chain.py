#!/usr/bin/env python3
"""The chain benchmark (scripts/bench.sh chain): MDI-Exit's claim made
measurable on spex. The three-stage model (results/fashion-chain.spex)
serves the Fashion-MNIST test set in four configurations, each at a fixed
offered rate and as fast as possible, one run:

  2 stages, static     edge -> cloud: the edge's calibrated exit, the cloud
                       runs every later layer (the fog's exit unused)
  2 stages, adaptive   the same, the edge's threshold moved to hold a
                       latency objective (--latency_objective)
  3 stages, static     edge -> fog -> cloud: both calibrated exits
  3 stages, adaptive   the edge holds the objective and skips the fog when
                       the fog is slower than the cloud (--skip_to); the fog
                       holds the objective too and routes each sample to the
                       cloud or computes the rest itself (--policy=adaptive)

Real processes on loopback, spex-proxy standing for each link: edge -> fog
`near_ms` each way, fog -> cloud `far_ms`, edge -> cloud (two stages, and
the skip link) their sum. Per configuration one JSON line on stdout:
stages, policy, offered_rate (0: as fast as possible), sent, answered,
accuracy, samples_per_s, p50_us, p99_us, answers per stage and bytes per
link. The lines go to results/chain.jsonl, a picture to results/chain.svg;
scripts/results_md.py puts the table in docs/RESULTS.md. Progress goes to
stderr. All processes share this machine's cores: the stages compete for
CPU as they would not on separate devices (said with the results).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from spex_processes import Processes, machine, wait_for, wait_for_metric

CONFIGS = [(2, "static"), (2, "adaptive"), (3, "static"), (3, "adaptive")]


def log(message):
    print(message, file=sys.stderr, flush=True)


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


class Chain:
    """One configuration's processes: cloud, proxies, fog (3 stages), edge."""

    def __init__(self, args, processes, work, stages, policy, tag):
        self.processes = processes
        self.stats = {}
        build = args.build
        models = os.path.join(work, "models")
        cloud = self.daemon(f"{tag}.cloud", [
            f"{build}/cloud_service/spex-cloud", f"--model_dir={models}", "--plaintext",
            "--listen=127.0.0.1:0", "--metrics_listen=127.0.0.1:0"], work)
        far = self.proxy(args, work, f"{tag}.far", cloud[0], args.far_ms)
        direct = self.proxy(args, work, f"{tag}.direct", cloud[0], args.near_ms + args.far_ms)
        objective = [f"--latency_objective={args.objective_ms}ms",
                     f"--latency_quantile={args.quantile}",
                     f"--threshold_min={args.threshold_min}"]
        edge_flags = []
        if stages == 3:
            fog_flags = [f"{build}/cloud_service/spex-cloud", f"--model_dir={models}",
                         "--plaintext", "--listen=127.0.0.1:0", "--metrics_listen=127.0.0.1:0",
                         "--stage=2", f"--next=127.0.0.1:{far}", "--next_plaintext",
                         "--next_deadline=2s"]
            if policy == "adaptive":
                fog_flags += ["--policy=adaptive"] + objective
            fog = self.daemon(f"{tag}.fog", fog_flags, work)
            wait_for_metric(fog[1], "spex_cloud_next_stage_up", 1.0)
            near = self.proxy(args, work, f"{tag}.near", fog[0], args.near_ms)
            edge_flags.append(f"--cloud=127.0.0.1:{near}")
            if policy == "adaptive":
                edge_flags.append(f"--skip_to=127.0.0.1:{direct}")
        else:
            edge_flags.append(f"--cloud=127.0.0.1:{direct}")
        if policy == "adaptive":
            edge_flags += objective
        self.socket = os.path.join(work, tag + ".sock")
        edge_ports = os.path.join(work, tag + ".edge-ports")
        edge = processes.start(tag + ".edge", [
            f"{build}/edge_agent/spex-edge", f"--model={args.model}",
            f"--socket={self.socket}", "--metrics_listen=127.0.0.1:0",
            f"--port_file={edge_ports}", "--audit_fraction=0", "--deadline=2s",
            "--cloud_plaintext", f"--max_queued={args.streams * args.depth * 2}"] + edge_flags)
        edge_metrics = wait_for(edge_ports, lines=2, process=edge)[1]
        wait_for_metric(edge_metrics, "spex_edge_cloud_up", 1.0)

    def daemon(self, name, command, work):
        ports = os.path.join(work, name + ".ports")
        process = self.processes.start(name, command + [f"--port_file={ports}"])
        return wait_for(ports, lines=2, process=process)

    def proxy(self, args, work, name, upstream_port, delay_ms):
        ports = os.path.join(work, name + ".proxy-port")
        stats = os.path.join(work, name + ".proxy.json")
        process = self.processes.start(name, [
            f"{args.build}/tools/spex-proxy", f"--upstream=127.0.0.1:{upstream_port}",
            f"--delay_ms={delay_ms}", f"--port_file={ports}", f"--stats_file={stats}"])
        self.stats[name.split(".")[-1]] = stats
        return wait_for(ports, process=process)[0]

    def link_bytes(self):
        """Bytes both ways per link, from each proxy's last stats."""
        out = {}
        for link, path in self.stats.items():
            with open(path) as f:
                wire = json.load(f)
            out[link] = wire["bytes_up"] + wire["bytes_down"]
        return out


def run_config(args, processes, work, stages, policy, rate):
    tag = f"s{stages}-{policy}-r{rate}"
    chain = Chain(args, processes, work, stages, policy, tag)
    answers = os.path.join(work, tag + ".jsonl")
    summary_file = os.path.join(work, tag + ".summary.json")
    replay = [f"{args.build}/tools/spex-replay", f"--target=unix:{chain.socket}",
              f"--limit={args.limit}", f"--streams={args.streams}", f"--depth={args.depth}",
              f"--rate={rate}", f"--out={answers}", f"--summary={summary_file}"]
    subprocess.run(replay, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.2)  # the proxies' stats files are rewritten every 100 ms
    links = chain.link_bytes()
    processes.stop_all()
    with open(summary_file) as f:
        summary = json.load(f)
    records = [json.loads(line) for line in open(answers)]
    answered = [r for r in records if r["predicted"] >= 0]
    sent = len(records)
    by_stage = {}
    for r in answered:
        by_stage[str(r["stage"])] = by_stage.get(str(r["stage"]), 0) + 1
    latencies = [r["latency_us"] for r in answered]
    names = {"near": "edge->fog", "far": "fog->cloud", "direct": "edge->cloud"}
    return {
        "stages": stages,
        "policy": policy,
        "offered_rate": rate,
        "sent": sent,
        "answered": len(answered),
        "accuracy": round(sum(r["predicted"] == r["label"] for r in answered) / sent, 4),
        "samples_per_s": round(sent / summary["seconds"]),
        "p50_us": round(percentile(latencies, 0.50)),
        "p99_us": round(percentile(latencies, 0.99)),
        "answers_per_stage": {s: round(n / sent, 4) for s, n in sorted(by_stage.items())},
        "fallbacks": round(sum(r["path"] == "fallback" for r in answered) / sent, 4),
        "bytes_per_sample": {names[l]: round(b / sent, 1) for l, b in sorted(links.items())
                             if b > 0},
    }


COLORS = {(2, "static"): "#1f77b4", (2, "adaptive"): "#17becf",
          (3, "static"): "#d62728", (3, "adaptive"): "#ff7f0e"}


def write_svg(path, results):
    """Accuracy against samples answered per second, a point per
    configuration: filled at the fixed offered rate, hollow as fast as
    possible."""
    import math
    width, height, margin = 720, 440, 70
    accuracies = [100 * r["accuracy"] for r in results]
    rates = [r["samples_per_s"] for r in results]
    y_low, y_high = math.floor(min(accuracies) - 0.5), math.ceil(max(accuracies) + 0.5)
    x_low, x_high = 0, 1000 * math.ceil(max(rates) / 1000 + 0.5)

    def x_of(v):
        return margin + (width - 2 * margin) * (v - x_low) / (x_high - x_low)

    def y_of(v):
        return margin + (height - 2 * margin) * (y_high - v) / (y_high - y_low)

    bottom, right = height - margin, width - margin
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             'font-family="sans-serif" font-size="11">',
             '<rect width="100%" height="100%" fill="white"/>',
             f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="14">'
             'A chain of stages on Fashion-MNIST: accuracy against samples answered per second</text>',
             f'<rect x="{margin}" y="{margin}" width="{right - margin}" height="{bottom - margin}" '
             'fill="none" stroke="#444"/>']
    for tick in range(x_low, x_high + 1, max(1000, (x_high - x_low) // 8 // 1000 * 1000)):
        parts.append(f'<text x="{x_of(tick):.1f}" y="{bottom + 16}" text-anchor="middle">{tick:,}</text>')
    for tick in range(y_low, y_high + 1):
        parts.append(f'<text x="{margin - 6}" y="{y_of(tick) + 4:.1f}" text-anchor="end">{tick}</text>')
    parts.append(f'<text x="{width / 2}" y="{bottom + 36}" text-anchor="middle">samples answered per second</text>')
    parts.append(f'<text x="20" y="{height / 2}" text-anchor="middle" '
                 f'transform="rotate(-90 20 {height / 2})">accuracy, %</text>')
    for r in results:
        color = COLORS[(r["stages"], r["policy"])]
        x, y = x_of(r["samples_per_s"]), y_of(100 * r["accuracy"])
        fill = color if r["offered_rate"] > 0 else "white"
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{fill}" stroke="{color}" stroke-width="2"/>')
    for index, ((stages, policy), color) in enumerate(COLORS.items()):
        parts.append(f'<circle cx="{margin + 12}" cy="{margin + 14 + 16 * index}" r="5" fill="{color}"/>')
        parts.append(f'<text x="{margin + 22}" y="{margin + 18 + 16 * index}">{stages} stages, {policy}</text>')
    parts.append(f'<text x="{margin + 12}" y="{margin + 18 + 16 * 4}">filled: fixed offered rate; '
                 'hollow: as fast as possible</text>')
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts) + "\n")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default="build/release")
    parser.add_argument("--model", default="results/fashion-chain.spex")
    parser.add_argument("--limit", type=int, default=10000)
    parser.add_argument("--rate", type=int, default=1000, help="the fixed offered rate")
    parser.add_argument("--streams", type=int, default=4)
    parser.add_argument("--depth", type=int, default=8)
    parser.add_argument("--near_ms", type=float, default=2.0)
    parser.add_argument("--far_ms", type=float, default=15.0)
    parser.add_argument("--objective_ms", type=float, default=20.0)
    parser.add_argument("--quantile", type=float, default=0.95)
    parser.add_argument("--threshold_min", type=float, default=0.3)
    parser.add_argument("--out", default="results/chain")
    parser.add_argument("--command", default="./scripts/bench.sh chain")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="spex-chain-")
    processes = Processes(work)
    results = []
    try:
        os.makedirs(os.path.join(work, "models"))
        shutil.copy(args.model, os.path.join(work, "models", "fashion-chain.spex"))
        for rate in (args.rate, 0):
            for stages, policy in CONFIGS:
                log(f"chain: {stages} stages, {policy}, "
                    f"{'as fast as possible' if rate == 0 else f'{rate} samples/s'} ...")
                result = run_config(args, processes, work, stages, policy, rate)
                print(json.dumps(result), flush=True)
                results.append(result)
    finally:
        processes.stop_all()
        shutil.rmtree(work, ignore_errors=True)

    with open(args.out + ".jsonl", "w") as f:
        for r in results:
            f.write(json.dumps(r) + "\n")
    meta = {
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d"),
        "command": args.command,
        "samples": args.limit, "rate": args.rate,
        "streams": args.streams, "depth": args.depth,
        "near_ms": args.near_ms, "far_ms": args.far_ms,
        "objective_ms": args.objective_ms, "quantile": args.quantile,
        "threshold_min": args.threshold_min,
    }
    with open(args.out + ".meta.json", "w") as f:
        json.dump(meta, f, indent=1)
    write_svg(args.out + ".svg", results)
    log(f"chain: {args.out}.jsonl, {args.out}.svg")
    return 0


if __name__ == "__main__":
    sys.exit(main())
