#!/usr/bin/env python3
"""The soak run: 8 spex-edge agents, each with an application replaying the
Fashion-MNIST test set through it (paced), against one spex-cloud, for a
few minutes. Afterwards every sample must have exactly one answer, no
answer may be an error, and the resident memory of the cloud and of each
agent may have grown by less than 10 % since the end of the warm-up (the
first quarter of the run).

  scripts/soak.py --build build/native [--agents 8] [--repeats 3]
                  [--rate 250] [--check]

One JSON object on stdout: samples, answers per path, errors, and each
process's memory at warm-up and at the end.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from spex_processes import Processes, rss_kib, wait_for, wait_for_metric

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "results", "fashion-default.spex")
TEST_SET = 10000


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default="build/native")
    parser.add_argument("--agents", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3,
                        help="test sets each agent's application sends")
    parser.add_argument("--rate", type=float, default=250.0,
                        help="samples/s each application sends")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="spex-soak-")
    processes = Processes(work)
    seconds = args.repeats * TEST_SET / args.rate
    try:
        models = os.path.join(work, "models")
        os.makedirs(models)
        shutil.copy(MODEL, models)
        ports = os.path.join(work, "cloud.ports")
        cloud = processes.start("cloud", [
            f"{args.build}/cloud_service/spex-cloud", f"--model_dir={models}", "--plaintext",
            "--listen=127.0.0.1:0", "--metrics_listen=", f"--port_file={ports}"])
        cloud_port = wait_for(ports, lines=2, process=cloud)[0]
        agents = []
        for a in range(args.agents):
            agent_ports = os.path.join(work, f"edge{a}.ports")
            edge = processes.start(f"edge{a}", [
                f"{args.build}/edge_agent/spex-edge", f"--model={MODEL}",
                f"--socket={work}/edge{a}.sock", f"--cloud=127.0.0.1:{cloud_port}",
                "--cloud_plaintext", "--metrics_listen=127.0.0.1:0",
                f"--port_file={agent_ports}"])
            metrics_port = wait_for(agent_ports, lines=2, process=edge)[1]
            wait_for_metric(metrics_port, "spex_edge_cloud_up", 1.0)
            agents.append(edge)

        outputs = [os.path.join(work, f"answers{a}.jsonl") for a in range(args.agents)]
        replays = [subprocess.Popen(
            [f"{args.build}/tools/spex-replay", f"--target=unix:{work}/edge{a}.sock",
             f"--repeat={args.repeats}", f"--rate={args.rate}", "--streams=2", "--depth=8",
             f"--out={outputs[a]}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for a in range(args.agents)]
        names = ["cloud"] + [f"edge{a}" for a in range(args.agents)]
        pids = [cloud.pid] + [edge.pid for edge in agents]
        warm = {}
        print(f"soak: {args.agents} agents x {args.repeats * TEST_SET} samples, "
              f"about {seconds:.0f} s", file=sys.stderr, flush=True)
        time.sleep(seconds / 4)
        warm = {name: rss_kib(pid) for name, pid in zip(names, pids)}
        for replay in replays:
            replay.wait()
        end = {name: rss_kib(pid) for name, pid in zip(names, pids)}
        alive = all(p.poll() is None for p in [cloud] + agents)
    finally:
        processes.stop_all()

    samples, errors, paths = 0, 0, {}
    per_agent = []
    for output in outputs:
        records = [json.loads(line) for line in open(output)] if os.path.exists(output) else []
        per_agent.append(len(records))
        for r in records:
            samples += 1
            if r["predicted"] < 0 or "error" in r:
                errors += 1
            else:
                paths[r["path"]] = paths.get(r["path"], 0) + 1
    shutil.rmtree(work, ignore_errors=True)
    growth = {name: round(end[name] / warm[name] - 1, 4) for name in warm}
    result = {"agents": args.agents, "seconds": round(seconds), "samples": samples,
              "expected": args.agents * args.repeats * TEST_SET, "errors": errors,
              "paths": paths, "rss_warm_kib": warm, "rss_end_kib": end,
              "rss_growth": growth, "daemons_up": alive}
    print(json.dumps(result))
    problems = []
    if samples != result["expected"] or any(n != args.repeats * TEST_SET for n in per_agent):
        problems.append(f"{samples} answers for {result['expected']} samples")
    if errors:
        problems.append(f"{errors} errors")
    for name, g in growth.items():
        if g >= 0.10:
            problems.append(f"{name}'s memory grew {100 * g:.1f} % after warm-up")
    if not alive:
        problems.append("a daemon died")
    for problem in problems:
        print("FAIL: " + problem, file=sys.stderr)
    return 1 if (args.check and problems) else 0


if __name__ == "__main__":
    sys.exit(main())
