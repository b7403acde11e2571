#!/usr/bin/python3
"""The accuracy objective through real processes: spex-cloud and spex-edge
(--accuracy_objective=0.01) on loopback, spex-replay sending 30,000 test
images with a drift in the middle (clean, brightness at severity 3, clean),
and the full network's label of every (corrupted) image computed offline by
`spex-model labels`.

Checks: every sample answered exactly once, with the corruption recorded
where the schedule put it; the cloud's answers are the full network's; the
agent audited some of its own answers and counted both changes of its
inputs; under the corruption, after its first 1,000 samples, the agent's
loss against the full network stays within the objective (with a point of
slack for 9,000 samples' noise) where the model's own calibrated threshold,
fixed, would lose more than 5 points on the same images; audits cost at
most a tenth of the bytes sent (a little more allowed for the start-up).

Usage: drift_replay_test.py BUILD_DIR SOURCE_DIR
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

from daemon_ports import default_model, inspect, scrape, start_cloud, wait_for_ports

OBJECTIVE = 0.01
DRIFT = "0-9999:none,10000-19999:brightness:3,20000-29999:none"
REPEAT = 3



def main():
    build, source = sys.argv[1], sys.argv[2]
    work = tempfile.mkdtemp(prefix="spex-drift-test-")
    processes = []
    failures = []

    def check(ok, what):
        print(("ok    " if ok else "FAIL  ") + what, flush=True)
        if not ok:
            failures.append(what)

    try:
        cloud, cloud_port, _ = start_cloud(build, source, work)
        processes.append(cloud)
        socket = os.path.join(work, "edge.sock")
        edge = subprocess.Popen([
            f"{build}/edge_agent/spex-edge", f"--model={default_model(source)}",
            f"--socket={socket}", "--metrics_listen=127.0.0.1:0",
            f"--cloud=127.0.0.1:{cloud_port}", "--cloud_plaintext",
            f"--accuracy_objective={OBJECTIVE}", "--max_queued=512",
            f"--port_file={work}/edge"], stderr=subprocess.DEVNULL)
        processes.append(edge)
        _, metrics_port = wait_for_ports(f"{work}/edge", edge)

        answers = os.path.join(work, "answers.jsonl")
        subprocess.run([f"{build}/tools/spex-replay", f"--target=unix:{socket}",
                        f"--repeat={REPEAT}", f"--drift={DRIFT}", "--drift_seed=1",
                        "--streams=4", "--depth=8", f"--out={answers}"],
                       check=True, stdout=subprocess.DEVNULL, timeout=600)
        records = [json.loads(line) for line in open(answers)]
        reference = [json.loads(line) for line in subprocess.run(
            [f"{build}/tools/spex-model", "labels", default_model(source),
             f"--repeat={REPEAT}", f"--drift={DRIFT}", "--drift_seed=1"],
            check=True, capture_output=True, text=True).stdout.splitlines()]
        n = 10000 * REPEAT

        ids = sorted(r["id"] for r in records)
        check(ids == list(range(n)), f"every one of {n} samples answered exactly once")
        check(all((r.get("corruption", "none") == "brightness") == (10000 <= r["id"] < 20000)
                  for r in records), "the corruption is recorded where the schedule put it")
        cloud_answers = [r for r in records if r["path"] == "cloud"]
        same = sum(r["predicted"] == reference[r["id"]]["full"] for r in cloud_answers)
        check(cloud_answers and same >= 0.995 * len(cloud_answers),
              f"the cloud's answers are the full network's ({same} of {len(cloud_answers)})")
        audited = [r for r in records if r.get("audited")]
        check(len(audited) >= 50 and all(r["path"] == "local" for r in audited),
              f"the agent audited its own answers ({len(audited)})")
        changes = scrape(metrics_port, "spex_edge_input_changes_total")
        check(changes >= 2, f"both changes of the inputs counted ({changes:g})")

        threshold = inspect(build, default_model(source))["exits"][0]["threshold"]
        window = [r for r in records if 11000 <= r["id"] < 20000]
        lost = sum(r["path"] != "cloud" and r["predicted"] != reference[r["id"]]["full"]
                   for r in window) / len(window)
        fixed = sum(reference[r["id"]]["confidence"] >= threshold
                    and reference[r["id"]]["exit"] != reference[r["id"]]["full"]
                    for r in window) / len(window)
        check(fixed > 0.05, f"the calibrated threshold, fixed, would lose {100 * fixed:.2f} "
              "points under the corruption (the drift matters)")
        check(lost <= OBJECTIVE + 0.01,
              f"under the corruption the agent loses {100 * lost:.2f} points "
              f"(objective {100 * OBJECTIVE:g})")
        audit_bytes = scrape(metrics_port, "spex_edge_audit_bytes_total")
        sent = scrape(metrics_port, "spex_edge_offload_bytes_total")
        check(0 < audit_bytes <= 0.12 * sent,
              f"audits {100 * audit_bytes / max(sent, 1):.1f} % of the bytes sent")
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        sys.exit(f"{len(failures)} checks failed")


if __name__ == "__main__":
    main()
