#!/usr/bin/python3
"""The dashboards and rules against a real Prometheus: Debian's prometheus
on loopback scrapes a live spex-cloud and spex-edge, an idle spex-edge
holding an accuracy objective, and a chain's fog and edge (with the
project's recording and alert rules loaded) while spex-replay
sends the Fashion-MNIST test set through both edges; then every PromQL
expression in
deploy/prometheus/rules/*.yml and deploy/grafana/dashboards/*.json goes
through Prometheus' HTTP API and must return data. For an alert, the
measured side of its comparison is queried (the alert itself rightly has no
data while all is well). Then the figures an operator reads must be the
daemons' own: Prometheus' offload fraction and exit agreement over the
replays equal the ratios of the agents' counters over the same replays
within 1 point.

Usage: observability_test.py SOURCE_DIR NATIVE_BUILD_DIR
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

import yaml

SOURCE, BUILD = sys.argv[1], sys.argv[2]
work = tempfile.mkdtemp(prefix="spex_observability_")
processes = []


def start(name, command):
    log = open(os.path.join(work, name + ".log"), "w")
    process = subprocess.Popen(command, stdout=log, stderr=log)
    processes.append(process)
    return process


def wait_for(predicate, what, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    for name in os.listdir(work):
        if name.endswith(".log"):
            print(f"--- {name}\n" + open(os.path.join(work, name)).read())
    raise SystemExit(f"observability_test: {what} did not happen")


def ports(path):
    try:
        lines = open(path).read().split()
        return [int(x) for x in lines] if len(lines) >= 2 else None
    except OSError:
        return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


def counters(metrics_port):
    """An agent's counters: {metric{labels}: value}."""
    text = get(f"http://127.0.0.1:{metrics_port}/metrics").decode()
    out = {}
    for line in text.splitlines():
        if line.startswith(("spex_edge_requests_total{", "spex_edge_audit_total{")):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


def counted(before, after, key):
    """The rise of one counter (or the sum of those matching) over a run."""
    return sum(after[k] - before.get(k, 0) for k in after if k.startswith(key))


def query(prometheus, expr):
    url = f"http://127.0.0.1:{prometheus}/api/v1/query?" + urllib.parse.urlencode(
        {"query": expr})
    answer = json.loads(get(url))
    if answer.get("status") != "success":
        return None, answer.get("error")
    return answer["data"]["result"], None


# The measured side of an alert: everything before its last top-level
# comparison with a number.
COMPARISON = re.compile(r"\s*(==|!=|>=|<=|>|<)\s*[0-9.e+-]+\s*$")


def measured(expr):
    return COMPARISON.sub("", expr.strip())


def main():
    try:
        models = os.path.join(work, "models")
        os.makedirs(models)
        shutil.copy(os.path.join(SOURCE, "results/fashion-default.spex"), models)
        shutil.copy(os.path.join(SOURCE, "results/fashion-chain.spex"), models)
        start("cloud", [f"{BUILD}/cloud_service/spex-cloud", f"--model_dir={models}",
                        "--plaintext", "--listen=127.0.0.1:0",
                        "--metrics_listen=127.0.0.1:0",
                        f"--port_file={work}/cloud.ports"])
        wait_for(lambda: ports(f"{work}/cloud.ports"), "spex-cloud start")
        cloud_port, cloud_metrics = ports(f"{work}/cloud.ports")
        socket_path = os.path.join(work, "edge.sock")
        start("edge", [f"{BUILD}/edge_agent/spex-edge",
                       f"--model={SOURCE}/results/fashion-default.spex",
                       f"--socket={socket_path}", f"--cloud=127.0.0.1:{cloud_port}",
                       "--cloud_plaintext", "--audit_fraction=0.2",
                       "--metrics_listen=127.0.0.1:0",
                       f"--port_file={work}/edge.ports"])
        wait_for(lambda: ports(f"{work}/edge.ports"), "spex-edge start")
        _, edge_metrics = ports(f"{work}/edge.ports")
        # An agent holding an accuracy objective, for the objective's rule,
        # panels and alert; idle, so that the offload fraction the replays
        # measure stays the steady one of the agent above (the objective's
        # moves while it learns, and under the sanitizers the replays
        # outlast the rule's one-minute window).
        start("edge-objective", [f"{BUILD}/edge_agent/spex-edge",
                                 f"--model={SOURCE}/results/fashion-default.spex",
                                 f"--socket={work}/edge-objective.sock",
                                 f"--cloud=127.0.0.1:{cloud_port}", "--cloud_plaintext",
                                 "--accuracy_objective=0.01",
                                 "--metrics_listen=127.0.0.1:0",
                                 f"--port_file={work}/edge-objective.ports"])
        wait_for(lambda: ports(f"{work}/edge-objective.ports"), "spex-edge with an objective")
        _, objective_metrics = ports(f"{work}/edge-objective.ports")
        # A chain for the chain dashboard: a fog (stage 2, adaptive, holding
        # a latency objective) in front of the same cloud, and an edge on
        # the three-stage model offloading to it.
        start("fog", [f"{BUILD}/cloud_service/spex-cloud", f"--model_dir={models}",
                      "--plaintext", "--listen=127.0.0.1:0",
                      "--metrics_listen=127.0.0.1:0", "--stage=2",
                      f"--next=127.0.0.1:{cloud_port}", "--next_plaintext",
                      "--policy=adaptive", "--latency_objective=50ms",
                      "--accuracy_objective=0.01",
                      f"--port_file={work}/fog.ports"])
        wait_for(lambda: ports(f"{work}/fog.ports"), "spex-cloud --stage=2 start")
        fog_port, fog_metrics = ports(f"{work}/fog.ports")
        chain_socket = os.path.join(work, "edge-chain.sock")
        start("edge-chain", [f"{BUILD}/edge_agent/spex-edge",
                             f"--model={SOURCE}/results/fashion-chain.spex",
                             f"--socket={chain_socket}", f"--cloud=127.0.0.1:{fog_port}",
                             "--cloud_plaintext", "--metrics_listen=127.0.0.1:0",
                             f"--port_file={work}/edge-chain.ports"])
        wait_for(lambda: ports(f"{work}/edge-chain.ports"), "chain spex-edge start")
        _, chain_edge_metrics = ports(f"{work}/edge-chain.ports")

        config = yaml.safe_load(open(f"{SOURCE}/deploy/prometheus/prometheus.yml"))
        config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
        config["rule_files"] = [f"{SOURCE}/deploy/prometheus/{f}"
                                for f in config["rule_files"]]
        config["scrape_configs"] = [
            {"job_name": "spex-cloud",
             "static_configs": [{"targets": [f"127.0.0.1:{cloud_metrics}"]}]},
            {"job_name": "spex-edge",
             "static_configs": [{"targets": [f"127.0.0.1:{edge_metrics}"]}]},
            {"job_name": "spex-fog",
             "static_configs": [{"targets": [f"127.0.0.1:{fog_metrics}"]}]},
            {"job_name": "spex-edge-chain",
             "static_configs": [{"targets": [f"127.0.0.1:{chain_edge_metrics}"]}]},
            {"job_name": "spex-edge-objective",
             "static_configs": [{"targets": [f"127.0.0.1:{objective_metrics}"]}]},
        ]
        with open(f"{work}/prometheus.yml", "w") as f:
            yaml.safe_dump(config, f)
        check = subprocess.run(["promtool", "check", "config", f"{work}/prometheus.yml"],
                               capture_output=True, text=True)
        if check.returncode != 0:
            raise SystemExit(check.stdout + check.stderr)
        prometheus = free_port()
        start("prometheus", ["prometheus", f"--config.file={work}/prometheus.yml",
                             f"--web.listen-address=127.0.0.1:{prometheus}",
                             f"--storage.tsdb.path={work}/tsdb"])

        def ready():
            try:
                get(f"http://127.0.0.1:{prometheus}/-/ready")
                return True
            except OSError:
                return False
        wait_for(ready, "Prometheus ready")

        # Traffic once Prometheus has scraped the agents (a window must hold
        # a sample from before the replays); the counters before and after.
        def scraped():
            result, _ = query(prometheus, 'count(up{job=~"spex-edge.*"} == 1)')
            return bool(result) and result[0]["value"][1] == "3"
        wait_for(scraped, "Prometheus scraping the three agents")
        before = [counters(edge_metrics), counters(chain_edge_metrics)]

        # Traffic for the rates: test images through both edges at once,
        # paced, few enough that the replays end well inside the rule's
        # one-minute window in the sanitizer build too (a window holding
        # only part of them would read another mix of the two agents).
        replay_started = time.time()
        replays = [subprocess.Popen(
            [f"{BUILD}/tools/spex-replay", f"--target=unix:{target}",
             "--rate=800", "--limit=2500", "--streams=4"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for target in (socket_path, chain_socket)]
        for replay in replays:
            output, _ = replay.communicate()
            if replay.returncode != 0:
                raise SystemExit("spex-replay failed:\n" + output)
        replay_seconds = time.time() - replay_started
        print(f"replays took {replay_seconds:.1f} s")
        if replay_seconds > 50:
            raise SystemExit(f"the replays took {replay_seconds:.0f} s: longer than "
                             "the one-minute window the comparison needs")

        after = [counters(edge_metrics), counters(chain_edge_metrics)]
        failures = []
        # Two more scrapes and an evaluation: the 1m window then holds both
        # replays whole. Prometheus' ratios against the counters'.
        time.sleep(3)
        own = {}
        rise = {k: sum(counted(b, a, k) for b, a in zip(before, after)) for k in (
            'spex_edge_requests_total{path="cloud"}',
            'spex_edge_requests_total{path="fallback"}', "spex_edge_requests_total",
            'spex_edge_audit_total{agree="true"}', "spex_edge_audit_total")}
        own["spex:edge_offload_fraction:rate1m"] = (
            (rise['spex_edge_requests_total{path="cloud"}']
             + rise['spex_edge_requests_total{path="fallback"}'])
            / rise["spex_edge_requests_total"])
        own["spex:edge_audit_agreement:rate5m"] = (
            rise['spex_edge_audit_total{agree="true"}'] / rise["spex_edge_audit_total"])
        for expr, expected in own.items():
            value = None
            for _ in range(30):
                result, _ = query(prometheus, expr)
                if result and result[0]["value"][1] not in ("NaN", "nan"):
                    value = float(result[0]["value"][1])
                    break
                time.sleep(1)
            line = (f"{expr}: Prometheus {value}, the agents' counters {expected:.4f}")
            if value is None or abs(value - expected) > 0.01:
                failures.append(line)
            else:
                print("ok  " + line)

        expressions = []
        for rules in ("recording.yml", "alerts.yml"):
            for group in yaml.safe_load(open(f"{SOURCE}/deploy/prometheus/rules/{rules}"))["groups"]:
                for rule in group["rules"]:
                    name = rule.get("record") or rule.get("alert")
                    expr = rule["expr"] if "record" in rule else measured(rule["expr"])
                    expressions.append((f"{rules}: {name}", expr))
        dashboards = os.path.join(SOURCE, "deploy/grafana/dashboards")
        for name in sorted(os.listdir(dashboards)):
            for panel in json.load(open(os.path.join(dashboards, name)))["panels"]:
                for target in panel["targets"]:
                    expressions.append((f"{name}: {panel['title']}", target["expr"]))

        # Recording rules and 1m windows need a few evaluations.
        for label, expr in expressions:
            result, error = None, None
            for _ in range(30):
                result, error = query(prometheus, expr)
                if result:
                    break
                time.sleep(1)
            if not result:
                failures.append(f"{label}: {expr!r} -> {error or 'no data'}")
            else:
                print(f"ok  {label}: {len(result)} series")
        if failures:
            print("\n".join(["FAILED"] + failures))
            return 1
        print(f"all {len(expressions)} expressions return data")
        return 0
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
