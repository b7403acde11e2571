#!/usr/bin/env python3
"""The drift benchmark (scripts/bench.sh drift): what each exit policy does
when the inputs change and change back.

First, offline, `spex-model labels` gives the full network's label, the
exit's label and its confidence for every test image under each corruption
(noise, blur, contrast, brightness, shift) at each severity; the static
threshold's loss against the full network under each is the scan (which
corruptions break a threshold fixed on clean data). Then, through real
processes (spex-cloud, a spex-proxy adding a link's delay, spex-edge), a
replay with `spex-replay --drift`: clean, then the corruption the scan found
worst for the static threshold, then clean again, once per policy:

  static     the threshold `spex-train calibrate --max-loss` chose offline
             for the same objective (on clean validation data);
  budget     --offload_budget at the static threshold's clean offload rate;
  latency    --latency_objective at the latency the static threshold gives
             at that rate;
  accuracy   --accuracy_objective (audits and offloads, adapting);
  offload    --early_exit=false: everything to the cloud.

Per window of 1,000 samples one JSON line: {"policy", "window",
"corruption", "severity", "accuracy", "loss_vs_full", "offload_fraction",
"audit_bytes_per_sample", "p99_us"} on stdout and in results/drift.jsonl;
the scan in results/drift.scan.json, the run's settings in
results/drift.meta.json, a picture in results/drift.svg (loss and offload
against the sample index, per policy); the floors are checked at the end.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from spex_processes import Processes, machine, metric, wait_for, wait_for_metric  # noqa: E402

CORRUPTIONS = ["noise", "blur", "contrast", "brightness", "shift"]
POLICIES = ["static", "budget", "latency", "accuracy", "offload"]
COLORS = {"static": "#1f77b4", "budget": "#2ca02c", "latency": "#9467bd",
          "accuracy": "#d62728", "offload": "#7f7f7f"}


def log(message):
    print(message, file=sys.stderr, flush=True)


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def labels(args, model, drift, repeat):
    """The offline reference: one dict per sample id."""
    command = [f"{args.build}/tools/spex-model", "labels", model,
               f"--repeat={repeat}", f"--drift_seed={args.seed}"]
    if drift:
        command.append(f"--drift={drift}")
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines()]


def threshold_of(model_file, build):
    summary = json.loads(subprocess.run(
        [f"{build}/tools/spex-model", "inspect", model_file, "--json"],
        check=True, capture_output=True, text=True).stdout)
    return summary["exits"][0]["threshold"]


def static_figures(reference, threshold):
    """Loss against the full network and offload fraction of a fixed
    threshold on reference samples."""
    n = len(reference)
    here = [r for r in reference if r["confidence"] >= threshold]
    loss = sum(r["exit"] != r["full"] for r in here) / n
    return loss, 1 - len(here) / n


def scan(args, model, threshold, corruptions):
    """The static threshold under every corruption and severity."""
    rows = []
    clean = labels(args, model, "", 1)
    loss, offload = static_figures(clean, threshold)
    rows.append({"corruption": "none", "severity": 0, "loss_vs_full": round(loss, 4),
                 "offload_fraction": round(offload, 4),
                 "full_accuracy": round(sum(r["full"] == r["label"] for r in clean) / len(clean), 4)})
    for corruption, severities in corruptions:
        for severity in severities:
            ref = labels(args, model, f"0-9999:{corruption}:{severity}", 1)
            loss, offload = static_figures(ref, threshold)
            rows.append({"corruption": corruption, "severity": severity,
                         "loss_vs_full": round(loss, 4),
                         "offload_fraction": round(offload, 4),
                         "full_accuracy": round(sum(r["full"] == r["label"] for r in ref) / len(ref), 4)})
            log(f"scan: {corruption} {severity}: static loss {100 * loss:.2f} %, "
                f"offload {100 * offload:.1f} %")
    return rows


def run_policy(args, processes, work, models, model, policy, flags, drift, total):
    tag = f"drift-{policy}"
    build = args.build
    cloud_ports = os.path.join(work, tag + ".cloud-ports")
    cloud = processes.start(tag + ".cloud", [
        f"{build}/cloud_service/spex-cloud", f"--model_dir={models}", "--plaintext",
        "--listen=127.0.0.1:0", "--metrics_listen=127.0.0.1:0",
        f"--port_file={cloud_ports}"])
    cloud_port = wait_for(cloud_ports, lines=2, process=cloud)[0]
    proxy_port_file = os.path.join(work, tag + ".proxy-port")
    proxy = processes.start(tag + ".proxy", [
        f"{build}/tools/spex-proxy", f"--upstream=127.0.0.1:{cloud_port}",
        f"--delay_ms={args.link_ms}", f"--port_file={proxy_port_file}"])
    proxy_port = wait_for(proxy_port_file, process=proxy)[0]
    socket = os.path.join(work, tag + ".sock")
    edge_ports = os.path.join(work, tag + ".edge-ports")
    edge = processes.start(tag + ".edge", [
        f"{build}/edge_agent/spex-edge", f"--model={model}", f"--socket={socket}",
        "--metrics_listen=127.0.0.1:0", f"--port_file={edge_ports}",
        f"--cloud=127.0.0.1:{proxy_port}", "--cloud_plaintext", "--deadline=2s",
        "--max_queued=512"] + flags)
    edge_metrics = wait_for(edge_ports, lines=2, process=edge)[1]
    wait_for_metric(edge_metrics, "spex_edge_cloud_up", 1.0)
    answers = os.path.join(work, tag + ".jsonl")
    subprocess.run([f"{build}/tools/spex-replay", f"--target=unix:{socket}",
                    f"--repeat={total // 10000}", f"--drift={drift}",
                    f"--drift_seed={args.seed}", f"--rate={args.rate}",
                    f"--streams={args.streams}", f"--depth={args.depth}",
                    f"--out={answers}"],
                   check=True, stdout=subprocess.DEVNULL)
    totals = {name: metric(edge_metrics, "spex_edge_" + name) or 0
              for name in ("audit_bytes_total", "offload_bytes_total",
                           "input_changes_total")}
    processes.stop_all()
    return [json.loads(line) for line in open(answers)], totals


def windows_of(policy, records, reference, audit_bytes, window):
    audited = sum(1 for r in records if r.get("audited"))
    per_audit = audit_bytes / audited if audited else 0
    rows = []
    for start in range(0, len(records), window):
        chunk = records[start:start + window]
        n = len(chunk)
        here = [r for r in chunk if r["path"] in ("local", "fallback")]
        lost = sum(r["predicted"] != reference[r["id"]]["full"] for r in here)
        rows.append({
            "policy": policy,
            "window": start // window,
            "corruption": chunk[0].get("corruption", "none"),
            "severity": chunk[0].get("severity", 0),
            "accuracy": round(sum(r["predicted"] == r["label"] for r in chunk) / n, 4),
            "loss_vs_full": round(lost / n, 4),
            "offload_fraction": round(sum(r["path"] != "local" for r in chunk) / n, 4),
            "audit_bytes_per_sample": round(
                per_audit * sum(1 for r in chunk if r.get("audited")) / n, 2),
            "p99_us": round(percentile([r["latency_us"] for r in chunk], 0.99)),
        })
    return rows


def floors(args, rows, totals, first, last):
    """The accuracy objective's floors, checked and printed; returned for the
    meta file (met: None for a figure kept only for the record)."""
    window = args.window
    changed = {first // window, (last + 1) // window}
    corrupted = range(first // window, (last + 1) // window)

    def of(policy):
        return [r for r in rows if r["policy"] == policy]

    def mean(values):
        values = list(values)
        return sum(values) / len(values) if values else float("nan")

    # Settled: the second half of the first clean phase.
    settled = range(first // window // 2, first // window)
    results = []
    accuracy = of("accuracy")
    if accuracy:
        kept = [r for r in accuracy if r["window"] not in changed]
        worst = max(kept, key=lambda r: r["loss_vs_full"])
        results.append(("accuracy objective: every window but the first after a change has "
                        f"loss_vs_full <= {args.objective + 0.005:g}",
                        f"worst {worst['loss_vs_full']:.4f} (window {worst['window']}, "
                        f"{worst['corruption']})",
                        worst["loss_vs_full"] <= args.objective + 0.005))
        total = totals["accuracy"]
        share = total["audit_bytes_total"] / max(total["offload_bytes_total"], 1)
        results.append(("accuracy objective: audit bytes at most 10 % of all bytes sent",
                        f"{100 * share:.1f} %", share <= 0.1))
    static = of("static")
    if accuracy and static:
        a = mean(r["offload_fraction"] for r in accuracy if r["window"] in settled)
        b = mean(r["offload_fraction"] for r in static if r["window"] in settled)
        results.append(("accuracy objective: clean offload at most 1.25x the static "
                        f"threshold's (windows {settled.start}-{settled.stop - 1})",
                        f"{a:.3f} against {b:.3f}: {a / b:.2f}x", a <= 1.25 * b))
        after = range((last + 1) // window + 1, max(r["window"] for r in rows) + 1)
        a2 = mean(r["offload_fraction"] for r in accuracy if r["window"] in after)
        b2 = mean(r["offload_fraction"] for r in static if r["window"] in after)
        results.append(("(after the corruption, for the record)",
                        f"{a2:.3f} against {b2:.3f}: {a2 / b2:.2f}x", None))
    if static:
        broken = mean(r["loss_vs_full"] for r in static if r["window"] in corrupted)
        results.append(("static threshold breaks the objective under the corruption",
                        f"mean loss {broken:.4f}", broken > args.objective))
    for what, measured, met in results:
        print(f"  {what}: {measured}" + ("" if met is None else "  met" if met else "  MISSED"))
    return [{"floor": w, "measured": m, "met": ok} for w, m, ok in results]


def write_svg(path, rows, corrupted, window, title):
    width, height, left, top, panel = 760, 460, 60, 30, 170
    windows = max(r["window"] for r in rows) + 1
    max_loss = max(0.02, max(r["loss_vs_full"] for r in rows) * 1.1)

    def x_of(w):
        return left + (w + 0.5) * (width - left - 20) / windows

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             'font-family="sans-serif" font-size="11">',
             f'<text x="{left}" y="16" font-size="13">{title}</text>']
    first, last = corrupted
    x0 = left + first / window * (width - left - 20) / windows
    x1 = left + (last + 1) / window * (width - left - 20) / windows
    for p, (key, top_of, scale, label) in enumerate([
            ("loss_vs_full", top, max_loss, "loss against the full network"),
            ("offload_fraction", top + panel + 50, 1.0, "offloaded fraction")]):
        parts.append(f'<rect x="{x0:.1f}" y="{top_of}" width="{x1 - x0:.1f}" height="{panel}" '
                     'fill="#f3e6d0"/>')
        parts.append(f'<rect x="{left}" y="{top_of}" width="{width - left - 20}" '
                     f'height="{panel}" fill="none" stroke="#888"/>')
        parts.append(f'<text x="{left}" y="{top_of - 4}">{label} (top: {scale:.3g})</text>')
        for policy in POLICIES:
            points = [(x_of(r["window"]), top_of + panel * (1 - r[key] / scale))
                      for r in rows if r["policy"] == policy]
            if points:
                d = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
                parts.append(f'<polyline points="{d}" fill="none" stroke="{COLORS[policy]}" '
                             'stroke-width="1.5"/>')
        if key == "loss_vs_full":
            y = top_of + panel * (1 - 0.01 / scale)
            parts.append(f'<line x1="{left}" x2="{width - 20}" y1="{y:.1f}" y2="{y:.1f}" '
                         'stroke="#d62728" stroke-dasharray="4 3"/>')
    for i, policy in enumerate(POLICIES):
        y = height - 12
        x = left + i * 130
        parts.append(f'<rect x="{x}" y="{y - 9}" width="12" height="3" fill="{COLORS[policy]}"/>')
        parts.append(f'<text x="{x + 16}" y="{y - 4}">{policy}</text>')
    parts.append(f'<text x="{left}" y="{height - 30}">sample index (windows of {window}); '
                 'shaded: corrupted inputs</text>')
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts) + "\n")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default="build/release")
    parser.add_argument("--model", default="results/fashion-default.spex")
    parser.add_argument("--objective", type=float, default=0.01)
    parser.add_argument("--rate", type=float, default=2000)
    parser.add_argument("--streams", type=int, default=4)
    parser.add_argument("--depth", type=int, default=8)
    parser.add_argument("--link_ms", type=float, default=10)
    parser.add_argument("--seed", type=int, default=1)
    # The accuracy objective's window fills in about 100,000 samples (the
    # audits a tight bound needs): the clean phase lets it settle.
    parser.add_argument("--clean", type=int, default=150000)
    parser.add_argument("--corrupted", type=int, default=20000)
    parser.add_argument("--after", type=int, default=50000)
    parser.add_argument("--window", type=int, default=1000)
    parser.add_argument("--out", default="results/drift")
    parser.add_argument("--policies", default=",".join(POLICIES))
    parser.add_argument("--corruption", default="",
                        help="KIND:SEVERITY instead of the scan's worst")
    parser.add_argument("--command", default="./scripts/bench.sh drift")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="spex-drift-")
    processes = Processes(work)
    try:
        # The static policy's model: the same file calibrated offline for the
        # same objective; every policy serves it (and starts from its
        # threshold).
        models = os.path.join(work, "models")
        os.makedirs(models)
        model = os.path.join(models, os.path.basename(args.model))
        shutil.copy(args.model, model)
        subprocess.run([f"{args.build}/tools/spex-train", "calibrate", f"--model={model}",
                        f"--max-loss={100 * args.objective:g}",
                        f"--out-prefix={os.path.join(work, 'calibration')}"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        threshold = threshold_of(model, args.build)
        log(f"static threshold for a loss of {100 * args.objective:g} %: {threshold:.3f}")
        if args.corruption:
            kind, severity = args.corruption.split(":")
            scanned = scan(args, model, threshold, [(kind, [int(severity)])])
        else:
            scanned = scan(args, model, threshold,
                           [(kind, (1, 3, 5)) for kind in CORRUPTIONS])
        worst = max((r for r in scanned if r["severity"] == 3),
                    key=lambda r: r["loss_vs_full"])
        first = args.clean
        last = args.clean + args.corrupted - 1
        total = args.clean + args.corrupted + args.after
        if total % 10000:
            raise SystemExit("the phases must add up to a multiple of 10,000 samples")
        drift = (f"0-{first - 1}:none,{first}-{last}:{worst['corruption']}:3,"
                 f"{last + 1}-{total - 1}:none")
        log(f"drift: {drift}")
        reference = labels(args, model, drift, total // 10000)
        clean = scanned[0]
        budget = clean["offload_fraction"]
        flags = {
            "static": ["--audit_fraction=0"],
            "budget": ["--audit_fraction=0", f"--offload_budget={budget}"],
            # Between a local answer's latency and an offload's (two link
            # delays): the quantile 1 - budget holds the offload fraction.
            "latency": ["--audit_fraction=0",
                        f"--latency_objective={args.link_ms:g}ms",
                        f"--latency_quantile={1 - budget:.3f}"],
            "accuracy": [f"--accuracy_objective={args.objective}"],
            "offload": ["--audit_fraction=0", "--early_exit=false"],
        }
        rows = []
        totals = {}
        for policy in args.policies.split(","):
            log(f"drift: {policy} ...")
            records, totals[policy] = run_policy(args, processes, work, models, model, policy,
                                                 flags[policy], drift, total)
            for row in windows_of(policy, records, reference,
                                  totals[policy]["audit_bytes_total"], args.window):
                print(json.dumps(row), flush=True)
                rows.append(row)
        with open(args.out + ".jsonl", "w") as f:
            for row in rows:
                f.write(json.dumps(row) + "\n")
        with open(args.out + ".scan.json", "w") as f:
            json.dump(scanned, f, indent=1)
        meta = {"machine": machine(), "command": args.command,
                "date": subprocess.run(["date", "+%Y-%m-%d"], capture_output=True,
                                       text=True).stdout.strip(),
                "model": args.model, "objective": args.objective, "threshold": threshold,
                "drift": drift, "corruption": worst["corruption"], "severity": 3,
                "window": args.window, "rate": args.rate, "link_ms": args.link_ms,
                "streams": args.streams, "depth": args.depth, "flags": flags,
                "totals": totals, "floors": floors(args, rows, totals, first, last)}
        with open(args.out + ".meta.json", "w") as f:
            json.dump(meta, f, indent=1)
        write_svg(args.out + ".svg", rows, (first, last), args.window,
                  f"Drift: clean, {worst['corruption']} (severity 3), clean; "
                  f"objective {100 * args.objective:g} % (dashed)")
        log(f"drift: {args.out}.jsonl, {args.out}.svg")
    finally:
        processes.stop_all()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
