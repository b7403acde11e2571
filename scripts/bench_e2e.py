#!/usr/bin/env python3
"""The end-to-end benchmark (scripts/bench.sh e2e): the whole system on the
Fashion-MNIST test set, for the sparse default model and its dense twin, in
five modes, one run:

  edge-only            the whole network on the device, no cloud
  cloud-only           the raw input sent, the whole network in the cloud
  split                every sample offloaded at the split
  split+exit           the calibrated exit answers when confident
  split+exit+adaptive  the threshold moved to hold an offload budget while
                       the link's delay changes during the run

Real processes on loopback: spex-cloud serving both models, spex-edge, and
between them spex-proxy standing for the network (a fixed delay each way,
and the byte counts: what the wire carried, measured at the socket);
spex-replay is the application. Per mode one JSON line on stdout; the lines
go to results/e2e.jsonl and a picture to results/e2e.svg, then the table
and floors are checked (scripts/results_md.py puts them in docs/RESULTS.md).
Progress goes to stderr.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from spex_processes import Processes, cpu_seconds, machine, wait_for, wait_for_metric

MODES = ["edge-only", "cloud-only", "split", "split+exit", "split+exit+adaptive"]


def log(message):
    print(message, file=sys.stderr, flush=True)


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def model_costs(build, model):
    inspect = subprocess.run([f"{build}/tools/spex-model", "inspect", "--json", model],
                             capture_output=True, text=True, check=True).stdout
    return json.loads(inspect)["parts"]


def mode_flags(mode, budget):
    """spex-edge's flags for a mode (the cloud's address added by the caller)."""
    return {
        "edge-only": ["--placement=edge", "--early_exit=false"],
        "cloud-only": ["--placement=cloud"],
        "split": ["--early_exit=false"],
        "split+exit": [],
        "split+exit+adaptive": [f"--offload_budget={budget}"],
    }[mode]


def edge_macs(mode, costs, paths):
    """MACs the device computed per sample: what each answer's path ran."""
    head_and_exit = costs["edge"]["macs"]
    if mode == "edge-only":
        return costs["full"]["macs"] + costs["exits"]["macs"]
    if mode == "cloud-only":
        # The device computes the exit only for a fallback.
        return head_and_exit * paths.get("fallback", 0.0)
    return head_and_exit


def run_mode(args, processes, work, model_name, model, cloud_port, mode, costs):
    tag = f"{model_name}-{mode}"
    schedule = ""
    if mode == "split+exit+adaptive":
        # The link slows down for the middle third of the run, then recovers.
        third = args.adaptive_seconds / 3
        schedule = f"{third:.1f}:{args.adaptive_delay_ms},{2 * third:.1f}:{args.delay_ms}"
    proxy_ports = os.path.join(work, tag + ".proxy-port")
    proxy_stats = os.path.join(work, tag + ".proxy.json")
    proxy = processes.start(tag + ".proxy", [
        f"{args.build}/tools/spex-proxy", f"--upstream=127.0.0.1:{cloud_port}",
        f"--delay_ms={args.delay_ms}", f"--schedule={schedule}",
        f"--port_file={proxy_ports}", f"--stats_file={proxy_stats}"])
    proxy_port = wait_for(proxy_ports, process=proxy)[0]

    socket = os.path.join(work, tag + ".sock")
    edge_ports = os.path.join(work, tag + ".edge-ports")
    flags = [f"--model={model}", f"--socket={socket}", "--metrics_listen=127.0.0.1:0",
             f"--port_file={edge_ports}", "--audit_fraction=0", "--deadline=2s",
             f"--max_queued={args.streams * args.depth * 2}"]
    flags += mode_flags(mode, args.budget)
    if mode != "edge-only":
        flags += [f"--cloud=127.0.0.1:{proxy_port}", "--cloud_plaintext"]
    edge = processes.start(tag + ".edge", [f"{args.build}/edge_agent/spex-edge"] + flags)
    metrics_port = wait_for(edge_ports, lines=2, process=edge)[1]
    if mode != "edge-only":
        wait_for_metric(metrics_port, "spex_edge_cloud_up", 1.0)

    answers = os.path.join(work, tag + ".jsonl")
    summary_file = os.path.join(work, tag + ".summary.json")
    replay = [f"{args.build}/tools/spex-replay", f"--target=unix:{socket}",
              f"--limit={args.limit}", f"--streams={args.streams}",
              f"--depth={args.depth}", f"--out={answers}", f"--summary={summary_file}"]
    if mode == "split+exit+adaptive":
        # Paced, so that the run lasts through the link's schedule.
        replay.append(f"--rate={args.limit / args.adaptive_seconds:.0f}")
    cpu_before = cpu_seconds(edge.pid)
    subprocess.run(replay, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cpu_after = cpu_seconds(edge.pid)
    processes.stop(edge)
    processes.stop(proxy)
    with open(proxy_stats) as f:
        wire = json.load(f)
    with open(summary_file) as f:
        summary = json.load(f)
    records = [json.loads(line) for line in open(answers)]
    answered = [r for r in records if r["predicted"] >= 0]
    samples = len(records)
    paths = {}
    for r in answered:
        paths[r["path"]] = paths.get(r["path"], 0) + 1
    fractions = {p: n / samples for p, n in paths.items()}
    latencies = [r["latency_us"] for r in answered]
    result = {
        "model": model_name,
        "mode": mode,
        "samples": samples,
        "answered": len(answered),
        "accuracy": round(sum(r["predicted"] == r["label"] for r in answered) / samples, 4),
        "edge_macs": round(edge_macs(mode, costs, fractions)),
        "wire_bytes_per_sample": round((wire["bytes_up"] + wire["bytes_down"]) / samples, 1),
        "wire_bytes_up_per_sample": round(wire["bytes_up"] / samples, 1),
        "wire_bytes_down_per_sample": round(wire["bytes_down"] / samples, 1),
        "p50_us": round(percentile(latencies, 0.50)),
        "p99_us": round(percentile(latencies, 0.99)),
        "samples_per_s": round(samples / summary["seconds"]),
        "edge_cpu_us_per_sample": round(1e6 * (cpu_after - cpu_before) / samples, 1),
        "paths": {p: round(f, 4) for p, f in sorted(fractions.items())},
    }
    return result


def serving_cost(args, processes, work):
    """The agent's serving alone: CPU per sample of an echo server of the
    edge's local API (same messages, same socket kind, no model) under the
    same replay. What edge-only costs beyond it is the network's compute."""
    socket = os.path.join(work, "echo.sock")
    echo = processes.start("echo", [f"{args.build}/bench/spex-echo-server",
                                    "--service=edge", f"--listen=unix:{socket}"])
    deadline = time.time() + 30
    while not os.path.exists(socket):
        if time.time() > deadline or echo.poll() is not None:
            raise RuntimeError("spex-echo-server did not start")
        time.sleep(0.05)
    before = cpu_seconds(echo.pid)
    subprocess.run([f"{args.build}/tools/spex-replay", f"--target=unix:{socket}",
                    f"--limit={args.limit}", f"--streams={args.streams}",
                    f"--depth={args.depth}"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cost = 1e6 * (cpu_seconds(echo.pid) - before) / args.limit
    processes.stop(echo)
    return round(cost, 1)


SVG_COLORS = {"sparse": "#1f77b4", "dense": "#d62728"}


def write_svg(path, results):
    """Two panels: accuracy against wire bytes per sample (log scale), and
    accuracy against p99 latency (log scale); a point per model and mode."""
    import math
    width, height, margin = 980, 420, 70
    panel = (width - 3 * margin) / 2
    accuracies = [r["accuracy"] * 100 for r in results]
    y_low = math.floor(min(accuracies) - 0.5)
    y_high = math.ceil(max(accuracies) + 0.5)

    def y_of(accuracy):
        return margin + (height - 2 * margin) * (y_high - accuracy * 100) / (y_high - y_low)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             'font-family="sans-serif" font-size="11">',
             '<rect width="100%" height="100%" fill="white"/>',
             f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="14">'
             'Fashion-MNIST end to end: accuracy against bytes on the wire and p99 latency</text>']
    for index, (key, label) in enumerate([("wire_bytes_per_sample", "wire bytes per sample (both directions, log)"),
                                          ("p99_us", "p99 latency, microseconds (log)")]):
        left = margin + index * (panel + margin)
        values = [max(1.0, r[key]) for r in results]
        x_low = 10 ** math.floor(math.log10(min(values)))
        x_high = 10 ** math.ceil(math.log10(max(values)))

        def x_of(value):
            return left + panel * (math.log10(max(1.0, value)) - math.log10(x_low)) / (
                math.log10(x_high) - math.log10(x_low))

        bottom = height - margin
        parts.append(f'<rect x="{left}" y="{margin}" width="{panel}" height="{bottom - margin}" '
                     'fill="none" stroke="#444"/>')
        decade = x_low
        while decade <= x_high:
            x = x_of(decade)
            parts.append(f'<line x1="{x}" y1="{bottom}" x2="{x}" y2="{bottom + 4}" stroke="#444"/>')
            parts.append(f'<text x="{x}" y="{bottom + 16}" text-anchor="middle">{decade:g}</text>')
            decade *= 10
        for accuracy in range(y_low, y_high + 1):
            y = y_of(accuracy / 100)
            parts.append(f'<line x1="{left - 4}" y1="{y}" x2="{left}" y2="{y}" stroke="#444"/>')
            parts.append(f'<text x="{left - 6}" y="{y + 4}" text-anchor="end">{accuracy}</text>')
        parts.append(f'<text x="{left + panel / 2}" y="{bottom + 34}" text-anchor="middle">{label}</text>')
        parts.append(f'<text x="{left - 40}" y="{(margin + bottom) / 2}" text-anchor="middle" '
                     f'transform="rotate(-90 {left - 40} {(margin + bottom) / 2})">accuracy, %</text>')
        for r in results:
            x, y = x_of(r[key]), y_of(r["accuracy"])
            color = SVG_COLORS[r["model"]]
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{color}"/>')
            # (no bytes: drawn at the axis' 1)
            label = r["mode"] + (" (0 B)" if r[key] == 0 else "")
            parts.append(f'<text x="{x + 6:.1f}" y="{y - 5:.1f}" fill="{color}">{label}</text>')
    for index, (model, color) in enumerate(SVG_COLORS.items()):
        parts.append(f'<circle cx="{margin + 10}" cy="{44 + 14 * index}" r="4" fill="{color}"/>')
        parts.append(f'<text x="{margin + 20}" y="{48 + 14 * index}">{model}</text>')
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts) + "\n")


def floors(results, serving_us):
    """The floors, from this run's figures: (description, ok). A run of a
    subset of the modes or models checks the floors it has figures for."""
    at = {(r["model"], r["mode"]): r for r in results}
    checks = []

    def have(*keys):
        return all(key in at for key in keys)

    edge_only, exit_ = ("sparse", "edge-only"), ("sparse", "split+exit")
    if have(edge_only, exit_):
        checks.append(
            ("sparse split+exit within 0.5 accuracy point of sparse edge-only",
             at[edge_only]["accuracy"] - at[exit_]["accuracy"] <= 0.005))
    if have(exit_, ("sparse", "cloud-only")):
        checks.append(
            ("sparse split+exit: at least 10x fewer wire bytes per sample than cloud-only",
             at[("sparse", "cloud-only")]["wire_bytes_per_sample"]
             >= 10 * at[exit_]["wire_bytes_per_sample"]))
    if have(exit_, ("sparse", "split")):
        checks.append(
            ("sparse split+exit: at least 2x the samples/s of split against the same cloud",
             at[exit_]["samples_per_s"] >= 2 * at[("sparse", "split")]["samples_per_s"]))
    # The device's compute has to show: the sparse agent's CPU per sample at
    # most a third of the dense twin's where the device runs the network.
    for key in (edge_only, exit_):
        dense = ("dense", key[1])
        if not have(key, dense):
            continue
        sparse_cpu = at[key]["edge_cpu_us_per_sample"]
        dense_cpu = at[dense]["edge_cpu_us_per_sample"]
        checks.append(
            (f"sparse {key[1]}: edge CPU per sample at most 1/3 of the dense twin's "
             f"({sparse_cpu:g} against {dense_cpu:g} us, {sparse_cpu / dense_cpu:.2f})",
             3 * sparse_cpu <= dense_cpu))
        checks.append(
            (f"the same, beyond the {serving_us:g} us the local API's serving costs "
             f"alone ({sparse_cpu - serving_us:.1f} against {dense_cpu - serving_us:.1f} us)",
             3 * (sparse_cpu - serving_us) <= dense_cpu - serving_us))
    return checks


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default="build/release")
    parser.add_argument("--sparse", default="results/fashion-default.spex")
    parser.add_argument("--dense", default="build/e2e/fashion-default-dense.spex")
    parser.add_argument("--limit", type=int, default=10000)
    parser.add_argument("--streams", type=int, default=4)
    parser.add_argument("--depth", type=int, default=8)
    parser.add_argument("--delay_ms", type=float, default=5.0)
    parser.add_argument("--adaptive_delay_ms", type=float, default=40.0)
    parser.add_argument("--adaptive_seconds", type=float, default=9.0)
    parser.add_argument("--budget", type=float, default=0.15)
    parser.add_argument("--out", default="results/e2e")
    parser.add_argument("--command", default="./scripts/bench.sh e2e")
    parser.add_argument("--modes", default=",".join(MODES),
                        help="comma-separated subset of " + ", ".join(MODES))
    parser.add_argument("--models", default="sparse,dense",
                        help="comma-separated subset of sparse, dense")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="spex-e2e-")
    processes = Processes(work)
    results = []
    try:
        models_dir = os.path.join(work, "models")
        os.makedirs(models_dir)
        models = {"sparse": args.sparse, "dense": args.dense}
        models = {name: models[name] for name in args.models.split(",")}
        modes = [mode for mode in MODES if mode in args.modes.split(",")]
        for name, path in models.items():
            shutil.copy(path, os.path.join(models_dir, f"fashion-{name}.spex"))
        cloud_ports = os.path.join(work, "cloud.ports")
        cloud = processes.start("cloud", [
            f"{args.build}/cloud_service/spex-cloud", f"--model_dir={models_dir}",
            "--plaintext", "--listen=127.0.0.1:0", "--metrics_listen=",
            f"--port_file={cloud_ports}"])
        cloud_port = wait_for(cloud_ports, lines=2, process=cloud)[0]
        log("e2e: the local API's serving alone (echo server) ...")
        serving_us = serving_cost(args, processes, work)
        for name, path in models.items():
            costs = model_costs(args.build, path)
            for mode in modes:
                log(f"e2e: {name} {mode} ...")
                result = run_mode(args, processes, work, name, path, cloud_port, mode, costs)
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
        "models": f"`{args.sparse}` and its dense twin `{args.dense}`",
        "serving_cpu_us_per_sample": serving_us,
        "samples_per_mode": args.limit,
        "streams": args.streams, "depth": args.depth,
        "delay_ms": args.delay_ms, "adaptive_delay_ms": args.adaptive_delay_ms,
        "adaptive_seconds": args.adaptive_seconds, "budget": args.budget,
        "floors": [{"floor": d, "met": m} for d, m in floors(results, serving_us)],
    }
    with open(args.out + ".meta.json", "w") as f:
        json.dump(meta, f, indent=1)
    write_svg(args.out + ".svg", results)
    log(f"e2e: {args.out}.jsonl, {args.out}.svg")
    ok = True
    for description, met in floors(results, serving_us):
        log(f"  {'met   ' if met else 'MISSED'} {description}")
        ok = ok and met
    return 0


if __name__ == "__main__":
    sys.exit(main())
