#!/usr/bin/env python3
"""What the device pays, whole (scripts/bench.sh edge-arm64): the arm64
spex-edge under qemu-aarch64, with bench/arm64/instruction_count_plugin.c
counting every instruction the whole process retires (all its threads:
the local API, the kernels, the codec, the cloud stream), while the
x86-64 spex-replay asks it to classify Fashion-MNIST test images over its
Unix socket, one at a time.

Per sample, start-up and loading left out: two runs of the same lifetime
(start to exit: what a daemon's timers do while it idles cancels out), one
answering W warm-up images, one answering the same W then N more; the
difference of their counts over N. Sparse default model and its dense
twin, edge-only (the whole network on the device) and split+exit (the
x86-64 spex-cloud finishing the offloaded samples), and the bare echo of
the same local API (spex-echo-server --service=edge, arm64 too): what
serving alone costs there.

Prints one JSON line per run, then a table. Instructions are counted, not
timed: a machine's speed or load does not change them, only the threads'
timing does, a little (two runs of one model differ by well under 1 % at
300 samples; tests/integration/arm64_edge_count_test.sh bounds it).
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


def log(message):
    print(message, file=sys.stderr, flush=True)


def counted(args, name, command):
    """The command under qemu-aarch64 and the plugin in process mode; the
    plugin writes its count to the returned path at exit."""
    out = os.path.join(args.work, name + ".count.json")
    return out, ["qemu-aarch64", "-E", f"LD_LIBRARY_PATH={args.libs}",
                 "-plugin", f"{args.plugin},out={out},process=on"] + command


def replay(args, socket, samples):
    subprocess.run([f"{args.native}/tools/spex-replay", f"--target=unix:{socket}",
                    f"--limit={samples}", "--streams=1", "--depth=1"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def one_run(args, processes, name, model, mode, cloud_port, samples, lifetime):
    """Starts the counted process, replays `samples` images, waits until
    `lifetime` seconds have passed since the start (0: no wait), stops it;
    (instructions retired, seconds from start to stop)."""
    socket = os.path.join(args.work, name + ".sock")
    started = time.time()
    if model is None:
        count_file, command = counted(args, name, [
            args.echo, "--service=edge", f"--listen=unix:{socket}"])
        daemon = processes.start(name, command)
        deadline = time.time() + 120
        while not os.path.exists(socket):
            if time.time() > deadline or daemon.poll() is not None:
                raise RuntimeError(f"{name}: the echo server did not start:\n"
                                   + processes.log(name))
            time.sleep(0.1)
    else:
        ports = os.path.join(args.work, name + ".ports")
        flags = [f"--model={model}", f"--socket={socket}", "--metrics_listen=127.0.0.1:0",
                 f"--port_file={ports}", "--audit_fraction=0", "--deadline=60s"]
        if mode == "edge-only":
            flags += ["--placement=edge", "--early_exit=false"]
        else:
            flags += [f"--cloud=127.0.0.1:{cloud_port}", "--cloud_plaintext"]
        count_file, command = counted(args, name, [args.edge] + flags)
        daemon = processes.start(name, command)
        metrics_port = wait_for(ports, lines=2, timeout=180, process=daemon)[1]
        if mode != "edge-only":
            wait_for_metric(metrics_port, "spex_edge_cloud_up", 1.0, timeout=120)
    replay(args, socket, samples)
    if lifetime > time.time() - started:
        time.sleep(lifetime - (time.time() - started))
    lived = time.time() - started
    processes.stop(daemon)
    if daemon.returncode != 0:
        raise RuntimeError(f"{name} exited with {daemon.returncode}:\n" + processes.log(name))
    with open(count_file) as f:
        return json.load(f)["retired"], lived


def measure(args, processes, model_name, model, mode, cloud_port):
    tag = f"{model_name}-{mode}"
    log(f"bench_edge_arm64: {tag}: {args.warmup} + {args.samples} images")
    full, lived = one_run(args, processes, tag + ".full", model, mode, cloud_port,
                          args.warmup + args.samples, 0)
    base, _ = one_run(args, processes, tag + ".base", model, mode, cloud_port,
                      args.warmup, lived)
    return {"model": model_name, "mode": mode, "samples": args.samples,
            "instructions_per_sample": round((full - base) / args.samples)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--edge", required=True, help="the arm64 spex-edge")
    parser.add_argument("--echo", required=True, help="the arm64 spex-echo-server")
    parser.add_argument("--libs", required=True, help="arm64 libraries not installed")
    parser.add_argument("--plugin", required=True, help="the counting plugin")
    parser.add_argument("--native", required=True,
                        help="x86-64 build with spex-cloud and spex-replay")
    parser.add_argument("--sparse", default="results/fashion-default.spex")
    parser.add_argument("--dense", required=True,
                        help="the dense twin (the sparse model again: a "
                        "measure of the counts' repeatability)")
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--command", default="./scripts/bench.sh edge-arm64")
    args = parser.parse_args()
    args.work = tempfile.mkdtemp(prefix="spex-edge-arm64-")
    processes = Processes(args.work)
    results = []
    try:
        models = os.path.join(args.work, "models")
        os.makedirs(models)
        for model in (args.sparse, args.dense):
            shutil.copy(model, models)
        cloud_ports = os.path.join(args.work, "cloud.ports")
        cloud = processes.start("cloud", [
            f"{args.native}/cloud_service/spex-cloud", f"--model_dir={models}",
            "--plaintext", "--listen=127.0.0.1:0", "--metrics_listen=",
            f"--port_file={cloud_ports}"])
        cloud_port = wait_for(cloud_ports, process=cloud)[0]
        for model_name, model in (("sparse", args.sparse), ("dense", args.dense)):
            for mode in ("edge-only", "split+exit"):
                result = measure(args, processes, model_name, model, mode, cloud_port)
                print(json.dumps(result), flush=True)
                results.append(result)
        result = measure(args, processes, "echo", None, "edge-only", cloud_port)
        print(json.dumps(result), flush=True)
        results.append(result)
    finally:
        processes.stop_all()
        shutil.rmtree(args.work, ignore_errors=True)

    by = {(r["model"], r["mode"]): r["instructions_per_sample"] for r in results}
    echo = by[("echo", "edge-only")]
    print(f"\nmachine: {machine()} (instructions counted, not timed)")
    print(f"command: {args.command}")
    print("arm64 spex-edge under qemu-aarch64, whole process, instructions per sample")
    print(f"{'model':8} {'mode':11} {'instructions':>13} {'sparse/dense':>13} {'echo share':>11}")
    for (model_name, mode), n in by.items():
        if model_name == "echo":
            print(f"{'echo':8} {'local API':11} {n:13,d}")
            continue
        ratio = n / by[("dense", mode)]
        print(f"{model_name:8} {mode:11} {n:13,d} {ratio:13.3f} {echo / n:11.1%}")
    floor = by[("sparse", "edge-only")] / by[("dense", "edge-only")]
    verdict = "met" if floor <= 1 / 3 else "missed"
    print(f"floor: sparse edge-only at most 1/3 of the dense twin's: {floor:.3f} ({verdict})")


if __name__ == "__main__":
    main()
