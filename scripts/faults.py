#!/usr/bin/env python3
"""Faults against the running pair, each during a paced replay of the
Fashion-MNIST test set through spex-edge: the cloud killed and restarted,
hung, its connections cut, a slow link, another model, a certificate from
another CA, an expired certificate, a wrong token, garbage and plain
HTTP/1.1 on every port, idle connections. For each: the answers per path (every sample must get exactly
one answer) and the time from the fault's end to the first sample the cloud
answered again.

  scripts/faults.py --build build/native [--check] [--markdown]
                    [--seconds S] [--rate R] [--model FILE] [--only NAME ...]

--check exits 1 unless every sample of every fault was answered and the
agent used the cloud again after each fault ended, within the replay or 30 s
after it (the test suite runs this);
--markdown prints the table docs/RELIABILITY.md holds.
"""
import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from spex_processes import Processes, free_port, metric, wait_for, wait_for_metric

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "results", "fashion-default.spex")


def log(message):
    print(message, file=sys.stderr, flush=True)


def make_certificates(directory):
    """A CA and a server certificate for 127.0.0.1 it signed; another CA and
    a server certificate it signed; and a server certificate from the first
    CA whose validity ended in 2020."""
    script = r"""set -e
ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
printf 'subjectAltName=IP:127.0.0.1\n' > san.ext
for ca in ca other-ca; do
  openssl req -x509 $ec -keyout $ca.key -out $ca.pem -days 2 -subj /CN=$ca 2>/dev/null
  openssl req $ec -keyout $ca-server.key -out $ca-server.csr -subj /CN=127.0.0.1 2>/dev/null
  openssl x509 -req -in $ca-server.csr -CA $ca.pem -CAkey $ca.key -CAcreateserial \
    -days 2 -extfile san.ext -out $ca-server.pem 2>/dev/null
done
# openssl ca sets both dates (openssl x509 -req cannot backdate).
printf '[ca]\ndefault_ca = spex\n[spex]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\ndefault_md = sha256\npolicy = any\n[any]\ncommonName = supplied\n' > ca.cnf
: > index.txt
echo 01 > serial
openssl req $ec -keyout expired-server.key -out expired-server.csr -subj /CN=127.0.0.1 2>/dev/null
openssl ca -batch -notext -config ca.cnf -cert ca.pem -keyfile ca.key \
  -in expired-server.csr -startdate 20200101000000Z -enddate 20200102000000Z \
  -extfile san.ext -out expired-server.pem 2>/dev/null
"""
    subprocess.run(["bash", "-c", script], cwd=directory, check=True)


class Run:
    """One fault's daemons: spex-cloud on a fixed port (so a restart keeps
    it), optionally spex-proxy in front, and spex-edge."""

    def __init__(self, args, work, name):
        self.args = args
        self.work = os.path.join(work, name)
        os.makedirs(self.work)
        self.processes = Processes(self.work)
        self.models = os.path.join(self.work, "models")
        os.makedirs(self.models)
        self.cloud_port = free_port()
        self.cloud_flags = ["--plaintext"]
        self.cloud = None
        self.proxy = None
        self.edge = None
        self.restarts = 0

    def start_cloud(self, model="", flags=None):
        if model == "":
            model = self.args.model
        if flags is not None:
            self.cloud_flags = flags
        if model is not None:
            for old in os.listdir(self.models):
                os.remove(os.path.join(self.models, old))
            shutil.copy(model, os.path.join(self.models, "model.spex"))
        ports = os.path.join(self.work, f"cloud-{self.restarts}.ports")
        self.cloud = self.processes.start(f"cloud-{self.restarts}", [
            f"{self.args.build}/cloud_service/spex-cloud", f"--model_dir={self.models}",
            f"--listen=127.0.0.1:{self.cloud_port}", "--metrics_listen=127.0.0.1:0",
            f"--port_file={ports}", "--drain_timeout=1s"] + self.cloud_flags)
        self.cloud_metrics = wait_for(ports, lines=2, process=self.cloud)[1]
        self.restarts += 1

    def start_proxy(self, schedule):
        ports = os.path.join(self.work, "proxy.port")
        self.proxy = self.processes.start("proxy", [
            f"{self.args.build}/tools/spex-proxy", f"--upstream=127.0.0.1:{self.cloud_port}",
            f"--schedule={schedule}", f"--port_file={ports}"])
        self.proxy_port = wait_for(ports, process=self.proxy)[0]

    def start_edge(self, flags, wait_for_cloud=True):
        target = self.proxy_port if self.proxy is not None else self.cloud_port
        if not any(flag.startswith("--cloud_ca=") for flag in flags):
            flags = flags + ["--cloud_plaintext"]
        ports = os.path.join(self.work, "edge.ports")
        self.socket = os.path.join(self.work, "edge.sock")
        self.edge = self.processes.start("edge", [
            f"{self.args.build}/edge_agent/spex-edge", f"--model={self.args.model}",
            f"--socket={self.socket}", "--tcp_listen=127.0.0.1:0",
            "--metrics_listen=127.0.0.1:0", f"--port_file={ports}",
            f"--cloud=127.0.0.1:{target}", "--deadline=250ms",
            "--reconnect_backoff_max=1s", "--breaker_open=1s"] + flags)
        self.edge_port, self.edge_metrics = wait_for(ports, lines=2, process=self.edge)[:2]
        if wait_for_cloud:
            wait_for_metric(self.edge_metrics, "spex_edge_cloud_up", 1.0)

    def replay(self, events):
        """A paced replay; `events` [(seconds, callable)] run during it."""
        answers = os.path.join(self.work, "answers.jsonl")
        samples = int(self.args.seconds * self.args.rate)
        start = time.time()

        def fire():
            for at, action in events:
                time.sleep(max(0.0, start + at - time.time()))
                action()

        driver = threading.Thread(target=fire)
        driver.start()
        replay = subprocess.run([f"{self.args.build}/tools/spex-replay",
                                 f"--target=unix:{self.socket}", f"--limit={samples}",
                                 f"--rate={self.args.rate}", "--streams=4", "--depth=16",
                                 f"--out={answers}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        driver.join()
        if replay.returncode != 0:
            # Say why, and what the daemons said, before their logs are gone.
            logs = ""
            for name in sorted(os.listdir(self.work)):
                if name.endswith(".log"):
                    with open(os.path.join(self.work, name)) as f:
                        logs += f"--- {name} (last lines)\n" + "".join(f.readlines()[-15:])
            raise RuntimeError(f"spex-replay exited {replay.returncode}: "
                               f"{replay.stderr.strip()[-2000:]}\n{logs}")
        records = [json.loads(line) for line in open(answers)]
        return records, samples, start

    def alive(self):
        return all(p.poll() is None for p in (self.cloud, self.edge) if p is not None)


# --- the faults ---------------------------------------------------------------
# Each sets up its run and returns (events, fault_end_seconds or None for a
# fault that should disturb nothing).

def cloud_killed_and_restarted(run, t0, t1):
    run.start_cloud()
    run.start_edge([])
    events, step = [], (t1 - t0) / 6
    for k in range(3):
        events.append((t0 + 2 * k * step, lambda: run.processes.stop(run.cloud, signal.SIGKILL)))
        events.append((t0 + (2 * k + 1) * step, lambda: run.start_cloud(model=None)))
    return events, t1 - step


def cloud_hung(run, t0, t1):
    run.start_cloud()
    run.start_edge([])
    return [(t0, lambda: run.cloud.send_signal(signal.SIGSTOP)),
            (t1, lambda: run.cloud.send_signal(signal.SIGCONT))], t1


def connections_cut(run, t0, t1):
    run.start_cloud()
    middle = (t0 + t1) / 2
    run.start_proxy(f"{t0:.2f}:cut,{middle:.2f}:cut,{t1:.2f}:cut")
    run.start_edge([])
    return [], t1


def slow_link(run, t0, t1):
    run.start_cloud()
    run.start_proxy(f"{t0:.2f}:200,{t1:.2f}:0")
    run.start_edge([])
    return [], t1


def another_model(run, t0, t1):
    another = os.path.join(run.work, "another.spex")
    # Another model: the default one with its exit threshold changed has
    # another model id (the id covers every field).
    shutil.copy(run.args.model, another)
    subprocess.run([f"{run.args.build}/tools/spex-train", "calibrate", "--model", another,
                    "--exit-fraction", "0.5"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run.start_cloud(model=another)
    run.start_edge([], wait_for_cloud=False)
    return [(t1, lambda: shutil.copy(run.args.model,
                                     os.path.join(run.models, "model.spex")))], t1


def served_certificate_until_fixed(run, t1, certificate):
    """The cloud serves `certificate` (and its key) until t1, then the valid
    one from the CA the agent trusts."""
    certificates = os.path.join(run.work, "tls")
    os.makedirs(certificates)
    make_certificates(certificates)
    path = lambda name: os.path.join(certificates, name)
    run.start_cloud(flags=[f"--tls_cert={path(certificate + '.pem')}",
                           f"--tls_key={path(certificate + '.key')}"])
    run.start_edge([f"--cloud_ca={path('ca.pem')}"], wait_for_cloud=False)

    def fix():  # the operator installs a valid certificate
        run.processes.stop(run.cloud)
        run.start_cloud(model=None, flags=[f"--tls_cert={path('ca-server.pem')}",
                                           f"--tls_key={path('ca-server.key')}"])
    return [(t1, fix)], t1


def wrong_certificate(run, t0, t1):
    return served_certificate_until_fixed(run, t1, "other-ca-server")


def expired_certificate(run, t0, t1):
    return served_certificate_until_fixed(run, t1, "expired-server")


def wrong_token(run, t0, t1):
    tokens = os.path.join(run.work, "tokens")
    with open(tokens, "w") as f:
        f.write("the-cloud-token\n")
    edge_token = os.path.join(run.work, "edge-token")
    with open(edge_token, "w") as f:
        f.write("an-old-token\n")
    run.start_cloud(flags=["--plaintext", f"--token_file={tokens}"])
    run.start_edge([f"--cloud_token_file={edge_token}"],
                   wait_for_cloud=False)

    def fix():  # the operator adds the edge's token and restarts the cloud
        with open(tokens, "a") as f:
            f.write("an-old-token\n")
        run.processes.stop(run.cloud)
        run.start_cloud(model=None)
    return [(t1, fix)], t1


def send_and_close(port, payload):
    try:
        with socket.create_connection(("127.0.0.1", int(port)), timeout=2) as s:
            s.sendall(payload)
            s.settimeout(1)
            try:
                s.recv(4096)
            except OSError:
                pass
    except OSError:
        pass


def garbage_and_http(run, t0, t1):
    run.start_cloud()
    run.start_edge([])
    rng = random.Random(1)
    payloads = [bytes(rng.getrandbits(8) for _ in range(4096)),
                b"GET / HTTP/1.1\r\nHost: spex\r\n\r\n",
                b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes(rng.getrandbits(8) for _ in range(512))]

    def attack():
        for port in (run.cloud_port, run.cloud_metrics, run.edge_port, run.edge_metrics):
            for payload in payloads:
                for _ in range(5):
                    send_and_close(port, payload)
    return [(t0, attack)], None


def idle_connections(run, t0, t1):
    run.start_cloud()
    run.start_edge([])
    held = []

    def open_idle():
        for port in (run.cloud_port, run.edge_port):
            for _ in range(100):
                try:
                    held.append(socket.create_connection(("127.0.0.1", int(port)), timeout=2))
                except OSError:
                    pass

    def close_idle():
        for s in held:
            s.close()
    return [(t0, open_idle), (t1, close_idle)], None


FAULTS = [
    ("cloud-killed", "spex-cloud SIGKILLed and restarted, 3 times", cloud_killed_and_restarted),
    ("cloud-hung", "spex-cloud SIGSTOPped (hung) for longer than the deadline, then resumed", cloud_hung),
    ("connections-cut", "the link cuts every connection mid-stream, 3 times", connections_cut),
    ("slow-link", "the link adds 200 ms each way (deadline 250 ms), then recovers", slow_link),
    ("another-model", "the cloud serves another model until the right one is copied in", another_model),
    ("wrong-certificate", "the cloud's certificate is from another CA until it is replaced", wrong_certificate),
    ("expired-certificate", "the cloud's certificate (from the right CA) expired until it is renewed", expired_certificate),
    ("wrong-token", "the agent's token is not accepted until the cloud accepts it", wrong_token),
    ("garbage", "random bytes, HTTP/1.1 and a broken HTTP/2 preface to every port of both daemons", garbage_and_http),
    ("idle-connections", "100 connections to each daemon's port opened and never used", idle_connections),
]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default="build/native")
    parser.add_argument("--seconds", type=float, default=9.0)
    parser.add_argument("--rate", type=float, default=400.0)
    parser.add_argument("--model", default=MODEL,
                        help="the model both daemons serve (default: the default model)")
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--only", nargs="*")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="spex-faults-")
    t0, t1 = args.seconds / 3, 2 * args.seconds / 3
    results, problems = [], []
    try:
        for name, description, setup in FAULTS:
            if args.only and name not in args.only:
                continue
            log(f"faults: {name} ...")
            run = Run(args, work, name)
            try:
                events, end = setup(run, t0, t1)
                records, samples, started = run.replay(events)
                still_up = run.alive()
                recovery = None
                if end is not None:
                    after = [r["sent_us"] / 1e6 for r in records
                             if r["path"] == "cloud" and r["sent_us"] / 1e6 >= end]
                    if after:
                        recovery = round(min(after) - end, 3)
                    else:
                        # Not within the replay: how long until the agent is
                        # connected again (at most 30 s more).
                        deadline = time.time() + 30
                        while time.time() < deadline and metric(
                                run.edge_metrics, "spex_edge_cloud_up") != 1.0:
                            time.sleep(0.05)
                        if metric(run.edge_metrics, "spex_edge_cloud_up") == 1.0:
                            recovery = round(time.time() - started - end, 3)
            finally:
                run.processes.stop_all()
            paths = {}
            for r in records:
                key = r["path"] if r["predicted"] >= 0 else "unanswered"
                if r["path"] == "fallback":
                    key = "fallback: " + r.get("fallback_reason", "?")
                paths[key] = paths.get(key, 0) + 1
            result = {"fault": name, "description": description, "samples": samples,
                      "answered": sum(1 for r in records if r["predicted"] >= 0),
                      "paths": dict(sorted(paths.items())),
                      "recovery_s": recovery, "daemons_up": still_up}
            print(json.dumps(result), flush=True)
            results.append(result)
            if len(records) != samples or result["answered"] != samples:
                problems.append(f"{name}: {result['answered']} of {samples} answered")
            if end is not None and recovery is None:
                problems.append(f"{name}: the agent did not use the cloud again "
                                "within 30 s of the fault's end")
            if end is None and any(k.startswith("fallback") for k in paths):
                problems.append(f"{name}: disturbed answers ({paths})")
            if not still_up:
                problems.append(f"{name}: a daemon died")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    if args.markdown:
        print("| fault | samples | local | cloud | fallback (reason: count) | recovery after the fault ends |")
        print("|---|---|---|---|---|---|")
        for r in results:
            fallbacks = ", ".join(f"{k[len('fallback: '):]}: {v}" for k, v in r["paths"].items()
                                  if k.startswith("fallback")) or "none"
            recovery = "no disruption" if r["recovery_s"] is None and not any(
                k.startswith("fallback") for k in r["paths"]) else (
                f"{r['recovery_s']:.2f} s" if r["recovery_s"] is not None else "never")
            print(f"| {r['description']} | {r['samples']} | {r['paths'].get('local', 0)} | "
                  f"{r['paths'].get('cloud', 0)} | {fallbacks} | {recovery} |")
    for problem in problems:
        log("FAIL: " + problem)
    return 1 if (args.check and problems) else 0


if __name__ == "__main__":
    sys.exit(main())
