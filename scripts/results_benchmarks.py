"""The benchmarks' sections of docs/RESULTS.md (scripts/results_md.py writes
the rest): the end-to-end benchmark and the chain of stages, each from the
JSON lines its `scripts/bench.sh` command left in results/."""
import json
import os


def verdict(ok):
    return "**met**" if ok else "**MISSED**"


def end_to_end(results, w):
    """The end-to-end benchmark's section, when scripts/bench.sh e2e ran."""
    path = os.path.join(results, "e2e.jsonl")
    if not os.path.exists(path):
        return
    rows = [json.loads(line) for line in open(path)]
    with open(os.path.join(results, "e2e.meta.json")) as f:
        meta = json.load(f)
    w("## End to end: the trade-offs on the running system\n")
    # Runs before the CNN became the default recorded no model: they ran
    # the sparse MLP.
    models = meta.get("models", "the sparse MLP (`results/fashion-mlp.spex`, "
                      "the default model of the day) and its dense twin")
    w(f"Command: `{meta['command']}` ({meta['date']}; machine: {meta['machine']}). "
      f"Models: {models}. "
      f"Real processes on loopback: spex-replay sends the first "
      f"{meta['samples_per_mode']:,} Fashion-MNIST test images ({meta['streams']} "
      f"streams x {meta['depth']} in flight) to spex-edge, which offloads through "
      f"spex-proxy to one spex-cloud serving both models. The proxy stands for "
      f"the network: {meta['delay_ms']:g} ms each way (a {2 * meta['delay_ms']:g} ms "
      "round trip), and it counts the bytes the wire carried in both directions "
      "(gRPC and HTTP/2 framing included). Audits are off. "
      "`split+exit+adaptive` holds an offload budget of "
      f"{100 * meta['budget']:g} % while the link slows to "
      f"{meta['adaptive_delay_ms']:g} ms each way for the middle third of a run "
      f"paced over {meta['adaptive_seconds']:g} s. Edge MACs: what the device "
      "computed per sample (head and exit; the whole network in edge-only; "
      "only fallbacks in cloud-only). Edge CPU: the agent process's own CPU "
      "time over the replay, per sample (its gRPC serving included). Latency: "
      "the application's, request sent to answer received. The local API's "
      "serving alone (an echo server of the same messages under the same "
      f"replay) costs {meta['serving_cpu_us_per_sample']:g} us of CPU per sample.\n")
    w("| model | mode | accuracy % | edge MACs | wire B/sample (up + down) | p50 us | p99 us | samples/s | edge CPU us/sample | answered by |")
    w("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        paths = ", ".join(f"{p} {100 * f:.0f} %" for p, f in r["paths"].items())
        w(f"| {r['model']} | {r['mode']} | {100 * r['accuracy']:.2f} | {r['edge_macs']:,} | "
          f"{r['wire_bytes_per_sample']:.0f} ({r['wire_bytes_up_per_sample']:.0f} + "
          f"{r['wire_bytes_down_per_sample']:.0f}) | {r['p50_us']:,} | {r['p99_us']:,} | "
          f"{r['samples_per_s']:,} | {r['edge_cpu_us_per_sample']:.1f} | {paths} |")
    w("")
    w("![accuracy against wire bytes and p99 latency per mode](../results/e2e.svg)\n")
    w("Floors, this run:\n")
    for floor in meta["floors"]:
        w(f"- {floor['floor']}: {verdict(floor['met'])}")
    w("")
    cpu_floor_note(rows, meta, w)


def cpu_floor_note(rows, meta, w):
    """What the agent's CPU per sample is made of, from the run's figures:
    the network at the rate edge-only measured, the local API's serving
    (the echo's), and each offloaded sample's offload (split mode)."""
    at = {(r["model"], r["mode"]): r for r in rows}
    needed = [(m, mode) for m in ("sparse", "dense")
              for mode in ("edge-only", "split", "split+exit")]
    if not all(key in at for key in needed):
        return
    serving = meta["serving_cpu_us_per_sample"]
    figures = {}
    for model in ("sparse", "dense"):
        edge_only = at[(model, "edge-only")]
        rate = edge_only["edge_macs"] / (edge_only["edge_cpu_us_per_sample"] - serving)
        head = at[(model, "split+exit")]["edge_macs"] / rate
        figures[model] = {"rate": rate, "head": head,
                          "offloaded": at[(model, "split+exit")]["paths"].get("cloud", 0.0)}
    offload = at[("sparse", "split")]["edge_cpu_us_per_sample"] - serving - figures["sparse"]["head"]
    sparse, dense = figures["sparse"], figures["dense"]
    best = ((serving + sparse["head"] + sparse["offloaded"] * offload)
            / (serving + dense["head"] + dense["offloaded"] * offload))
    measured = (at[("sparse", "split+exit")]["edge_cpu_us_per_sample"]
                / at[("dense", "split+exit")]["edge_cpu_us_per_sample"])
    w("**What the agent's CPU is made of.** In edge-only both agents run the "
      "whole network one sample at a time at the same rate beyond the serving "
      f"({sparse['rate'] / 1e3:.1f} and {dense['rate'] / 1e3:.1f} GMAC/s), so the "
      "sparse network's fewer MACs show in full. In split+exit the device "
      f"computes the head and exit, {at[('sparse', 'split+exit')]['edge_macs']:,} "
      f"MACs against the twin's {at[('dense', 'split+exit')]['edge_macs']:,}: "
      f"{sparse['head']:.0f} and {dense['head']:.0f} us at those rates. Both "
      "agents pay on top what sparsity does not shrink: the local API's serving "
      f"({serving:g} us, the echo's) and, for each sample the exit does not "
      "answer, its offload (encoding, the stream to the cloud, the answer back: "
      f"{offload:.0f} us per offloaded sample, from `split` mode), for "
      f"{100 * sparse['offloaded']:.0f} % of the samples on the sparse agent and "
      f"{100 * dense['offloaded']:.0f} % on the twin, whose exit answers fewer. "
      f"With these figures the ratio can be no lower than {best:.2f} "
      f"(measured: {measured:.2f}; CPU time on this shared machine varies by "
      "about 20 % between runs): "
      + ("below 1/3." if best <= 1 / 3 else
         "above 1/3 until the offload or the serving costs less, or the sparse "
         "head runs more MACs per second than the dense one.")
      + " docs/BENCHMARKS.md (\"What the device pays, whole\") counts the "
      "same comparison in instructions on arm64, without timing noise.\n")


def chain(results, groups, w):
    """The chain benchmark's section, when scripts/bench.sh chain ran."""
    path = os.path.join(results, "chain.jsonl")
    if not os.path.exists(path):
        return
    rows = [json.loads(line) for line in open(path)]
    with open(os.path.join(results, "chain.meta.json")) as f:
        meta = json.load(f)
    w("## A chain of stages: edge, fog and cloud\n")
    chosen = groups.get("fashion-chain", [None])[0]
    if chosen:
        w("**The three-stage model.** A CNN cut twice (`scripts/train-chain-model.sh`: "
          f"{chosen['topology']}), with an exit in each of the first two stages, "
          "trained jointly and calibrated together for a 0.5-point budget "
          "(docs/TRAINING.md); test accuracy of each classifier alone:\n")
        w("| stage | runs on | layers | MACs (with its exit) | int8 bytes at its cut | its classifier's accuracy % |")
        w("|---|---|---|---|---|---|")
        accuracies = [e["test_accuracy"] for e in chosen["exits"]] + [chosen["final_test_accuracy"]]
        for s, accuracy in zip(chosen["stages"], accuracies):
            layers = (str(s["first_layer"]) if s["first_layer"] == s["last_layer"]
                      else f"{s['first_layer']}-{s['last_layer']}")
            w(f"| {s['stage']} | {s['runs_on']} | {layers} | {s['cost']['macs']:,} | "
              f"{s.get('cut_bytes_int8', '-')} | {100 * accuracy:.2f} |")
        w("")
        w("Each cut is far below the raw image's "
          f"{chosen['raw_input_bytes']} bytes, and each later classifier adds "
          "accuracy; the thresholds decide how many samples each stage answers.\n")
    exit_after = [e["after_layer"] for e in chosen["exits"]] if chosen else ["?", "?"]
    fog_layers = (f"{chosen['stages'][1]['first_layer']}-{chosen['stages'][1]['last_layer']}"
                  if chosen else "of the second stage")
    w(f"Command: `{meta['command']}` ({meta['date']}; machine: {meta['machine']}). "
      "The three-stage model (`results/fashion-chain.spex`, "
      f"`scripts/train-chain-model.sh`: an exit on the edge after layer {exit_after[0]}, "
      f"one on the fog after layer {exit_after[1]}, both thresholds calibrated "
      f"together for a 0.5-point budget) answers the first {meta['samples']:,} Fashion-MNIST test images, "
      f"sent by spex-replay ({meta['streams']} streams x {meta['depth']} in flight) "
      "to spex-edge. Each link is a spex-proxy: edge to fog "
      f"{meta['near_ms']:g} ms each way, fog to cloud {meta['far_ms']:g} ms, edge to "
      f"cloud (two stages, and the edge's skip link) {meta['near_ms'] + meta['far_ms']:g} ms. "
      "Two stages: the edge sends what its exit does not answer to the cloud, which "
      "runs every later layer. Three: the fog runs layers "
      f"{fog_layers} and its exit, and sends the rest on. Adaptive: the edge (and the fog) move their exit threshold to "
      f"hold a p{100 * meta['quantile']:g} latency of {meta['objective_ms']:g} ms "
      f"(thresholds within [{meta['threshold_min']:g}, 1]); with three stages the "
      "edge may skip the fog (`--skip_to`) and the fog routes each sample to the "
      "cloud or runs the rest itself (`--policy=adaptive`), by measured cost. "
      f"Fixed rate: {meta['rate']:,} samples/s offered; as fast as possible: the "
      "replay's in-flight window is the only limit. Every process shares this "
      "machine's cores, so the stages compete for CPU as separate devices would "
      "not; latency is the application's, sent to answered.\n")
    w("| stages | policy | offered/s | accuracy % | answered/s | p50 us | p99 us | answered at stage 1 / 2 / 3 | bytes/sample per link |")
    w("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        stages = " / ".join(f"{100 * r['answers_per_stage'].get(str(s), 0):.1f} %"
                            for s in (1, 2, 3))
        links = ", ".join(f"{l} {b:.1f}" for l, b in r["bytes_per_sample"].items())
        offered = f"{r['offered_rate']:,}" if r["offered_rate"] else "max"
        w(f"| {r['stages']} | {r['policy']} | {offered} | {100 * r['accuracy']:.2f} | "
          f"{r['samples_per_s']:,} | {r['p50_us']:,} | {r['p99_us']:,} | {stages} | {links} |")
    w("")
    w("![accuracy against samples answered per second, per configuration](../results/chain.svg)\n")
    at = {(r["stages"], r["policy"], r["offered_rate"]): r for r in rows}
    rate = meta["rate"]
    lines = []
    for policy in ("static", "adaptive"):
        two, three = at.get((2, policy, 0)), at.get((3, policy, 0))
        if two and three:
            lines.append(
                f"- As fast as possible, {policy}: three stages answer "
                f"{three['samples_per_s']:,} samples/s against two stages' "
                f"{two['samples_per_s']:,} ({three['samples_per_s'] / two['samples_per_s']:.2f}x) "
                f"at {100 * three['accuracy']:.2f} % against {100 * two['accuracy']:.2f} % "
                f"({100 * (three['accuracy'] - two['accuracy']):+.2f} points).")
    for stages in (2, 3):
        static, adaptive = at.get((stages, "static", rate)), at.get((stages, "adaptive", rate))
        if static and adaptive:
            lines.append(
                f"- At {rate:,} samples/s, {stages} stages: adaptive "
                f"{100 * adaptive['accuracy']:.2f} % with p99 {adaptive['p99_us']:,} us against "
                f"static {100 * static['accuracy']:.2f} % with p99 {static['p99_us']:,} us.")
    two, three = at.get((2, "adaptive", rate)), at.get((3, "adaptive", rate))
    if two and three:
        lines.append(
            f"- At {rate:,} samples/s under the same latency objective: three stages "
            f"{100 * three['accuracy']:.2f} % against two stages' {100 * two['accuracy']:.2f} % "
            f"({100 * (three['accuracy'] - two['accuracy']):+.2f} points).")
    w("What this run shows, against MDI-Exit's claims (more samples answered at a "
      "fixed accuracy, higher accuracy at a fixed rate):\n")
    for line in lines:
        w(line)
    w("")
    s2, s3 = at.get((2, "static", 0)), at.get((3, "static", 0))
    a2, a3 = at.get((2, "adaptive", rate)), at.get((3, "adaptive", rate))
    if s2 and s3 and a2 and a3:
        more = (s3["samples_per_s"] > s2["samples_per_s"]
                and abs(s3["accuracy"] - s2["accuracy"]) <= 0.005)
        w(f"**More samples at the same accuracy: {'yes' if more else 'no'}, "
          "with static thresholds.** The edge's exit answers the same samples in both chains; what differs "
          "is where the others go. With two stages every one of them waits a "
          f"{2 * (meta['near_ms'] + meta['far_ms']):g} ms round trip to the cloud; "
          f"with three, the fog {2 * meta['near_ms']:g} ms away answers "
          f"{100 * s3['answers_per_stage'].get('2', 0):.1f} % of all samples with its "
          f"exit and only {100 * s3['answers_per_stage'].get('3', 0):.1f} % travel on. "
          "The replay keeps a fixed window of samples in flight, so samples "
          "answered per second are the window over the mean time in flight "
          f"(Little's law): {s3['samples_per_s'] / s2['samples_per_s']:.1f}x here, at "
          f"about the same accuracy ({100 * s2['accuracy']:.2f} % and "
          f"{100 * s3['accuracy']:.2f} %: the joint calibration lets the fog's "
          "exit answer only where that costs at most half a point overall). At "
          "the fixed rate neither chain is saturated and both answer everything "
          "offered.\n")
        higher = a3["accuracy"] > a2["accuracy"]
        w(f"**Higher accuracy at a fixed rate: {'yes' if higher else 'no'}, "
          "under a latency objective.** "
          f"Both adaptive chains move their thresholds toward a "
          f"p{100 * meta['quantile']:g} of {meta['objective_ms']:g} ms at {rate:,} "
          "samples/s. With two stages the edge answers "
          f"{100 * a2['answers_per_stage'].get('1', 0):.1f} % itself, "
          f"at {100 * a2['accuracy']:.2f} % overall. With three, the fog "
          "is close enough that the edge sends "
          f"{100 * (1 - a3['answers_per_stage'].get('1', 0)):.1f} % of the samples "
          "on, where the fog's deeper exit (and the cloud, for "
          f"{100 * a3['answers_per_stage'].get('3', 0):.1f} %) answers them: "
          f"{100 * a3['accuracy']:.2f} %, {100 * (a3['accuracy'] - a2['accuracy']):+.2f} "
          "points at the same objective.\n")
        f2, f3 = at.get((2, "adaptive", 0)), at.get((3, "adaptive", 0))
        if f2 and f3:
            w("**Where it does not.** As fast as possible, the adaptive two-stage "
              f"chain answers more samples per second ({f2['samples_per_s']:,} "
              f"against {f3['samples_per_s']:,}) because it answers "
              f"{100 * f2['answers_per_stage'].get('1', 0):.1f} % at the edge, in "
              "microseconds, at a lower accuracy "
              f"({100 * f2['accuracy']:.2f} % against {100 * f3['accuracy']:.2f} %): "
              "the objective is on latency alone, so each chain settles at its "
              "own accuracy rather than at a common one, and the two points are "
              "not comparable as \"more samples at a fixed accuracy\". The "
              "adaptive fog also computes the cloud's layers itself for most of "
              "what it would send on (the `fog->cloud` bytes fall), because its "
              "measured cost of computing them is far below a "
              f"{2 * meta['far_ms']:g} ms round trip; on this machine that "
              "costs nothing, since every stage shares the same two cores: the "
              "cloud's extra capacity, the reason to send work there, does not "
              "exist here, and the benchmark cannot show it.\n")


def drift(results, w):
    """The drift benchmark's section, when scripts/bench.sh drift ran."""
    path = os.path.join(results, "drift.jsonl")
    if not os.path.exists(path):
        return
    rows = [json.loads(line) for line in open(path)]
    with open(os.path.join(results, "drift.meta.json")) as f:
        meta = json.load(f)
    with open(os.path.join(results, "drift.scan.json")) as f:
        scan = json.load(f)
    objective = meta["objective"]
    window = meta["window"]
    w("## Under drift: an accuracy objective kept from audits\n")
    w(f"Command: `{meta['command']}` ({meta['date']}; machine: {meta['machine']}). "
      f"The default model, calibrated offline by `spex-train calibrate --max-loss "
      f"{100 * objective:g}` (threshold {meta['threshold']:.3f} on clean validation "
      "data): the static policy. First, offline, `spex-model labels` gives the full "
      "network's label and the exit's label and confidence for every test image "
      "under each corruption of `spex-replay --drift` (seeded, deterministic); a "
      "loss against the full network is the fraction of all samples the exit "
      "answers with a label the full network would not give:\n")
    w("| corruption | severity | full network accuracy % | static threshold: loss against the full network % | offloaded % |")
    w("|---|---|---|---|---|")
    for r in scan:
        w(f"| {r['corruption']} | {r['severity']} | {100 * r['full_accuracy']:.2f} | "
          f"{100 * r['loss_vs_full']:.2f} | {100 * r['offload_fraction']:.1f} |")
    w("")
    w(f"Then through real processes (spex-cloud behind a spex-proxy adding "
      f"{meta['link_ms']:g} ms each way, spex-edge, spex-replay at {meta['rate']:,g} "
      f"samples/s, {meta['streams']} streams x {meta['depth']} in flight): "
      f"`{meta['drift']}` (the test set repeated; the corruption is the scan's worst at "
      f"severity {meta['severity']}), once per policy: static; an offload budget at "
      "the static threshold's clean offload fraction; a latency objective whose "
      "quantile holds the same fraction; the accuracy objective "
      f"(`--accuracy_objective={objective:g}`, audits at the rate it chooses); "
      "always offload. Per window of "
      f"{window:,} samples, the loss is exact: each answer against the full "
      "network's offline label for the same (corrupted) image.\n")
    first = int(meta["drift"].split(",")[1].split("-")[0])
    last = int(meta["drift"].split(",")[1].split("-")[1].split(":")[0])
    phases = [("clean, settled", range(first // window // 2, first // window)),
              (f"{meta['corruption']} {meta['severity']}, after its first window",
               range(first // window + 1, (last + 1) // window)),
              ("clean again, after its first window",
               range((last + 1) // window + 1, max(r["window"] for r in rows) + 1))]
    w("| policy | phase (windows) | accuracy % | loss against full, mean / worst window % | offloaded % | audit bytes per sample | p99 us (worst window) |")
    w("|---|---|---|---|---|---|---|")
    for policy in dict.fromkeys(r["policy"] for r in rows):
        for name, span in phases:
            chunk = [r for r in rows if r["policy"] == policy and r["window"] in span]
            if not chunk:
                continue
            n = len(chunk)
            w(f"| {policy} | {name} ({span.start}-{span.stop - 1}) | "
              f"{100 * sum(r['accuracy'] for r in chunk) / n:.2f} | "
              f"{100 * sum(r['loss_vs_full'] for r in chunk) / n:.2f} / "
              f"{100 * max(r['loss_vs_full'] for r in chunk):.2f} | "
              f"{100 * sum(r['offload_fraction'] for r in chunk) / n:.1f} | "
              f"{sum(r['audit_bytes_per_sample'] for r in chunk) / n:.1f} | "
              f"{max(r['p99_us'] for r in chunk):,} |")
    w("")
    w("![loss against the full network and offloaded fraction per window, per policy](../results/drift.svg)\n")
    w("Floors of the accuracy objective under drift:\n")
    for f in meta["floors"]:
        w(f"- {f['floor']}: {f['measured']}"
          + ("" if f["met"] is None else f": {verdict(f['met'])}"))
    changes = meta["totals"].get("accuracy", {}).get("input_changes_total")
    if changes is not None:
        w(f"\nThe accuracy objective's agent counted {changes:g} changes of its inputs "
          "(`spex_edge_input_changes_total`) over the run.")
    w("")
