"""What the Python tests that start spex's daemons share: starting
spex-cloud and spex-edge on loopback with the default model, waiting for a
daemon's --port_file (its port, then its metrics port), the model's id and
split, a process's resident memory, and a metric as a scrape shows it."""
import json
import os
import shutil
import subprocess
import time
import urllib.request


def wait_for_ports(path, process, seconds=30):
    """The two ports `process` writes to `path` once it serves; raises when
    it exits first or takes longer than `seconds`."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the daemon exited ({process.returncode})")
        if os.path.exists(path):
            lines = open(path).read().split()
            if len(lines) >= 2:
                return int(lines[0]), int(lines[1])
        time.sleep(0.05)
    raise RuntimeError("the daemon did not write its ports")


def default_model(source):
    return os.path.join(source, "results", "fashion-default.spex")


def start_cloud(build, source, work):
    """spex-cloud in plain text serving a copy of the default model from
    work/models, its gRPC and metrics ports picked on loopback. Returns the
    process, its port and its metrics port."""
    models = os.path.join(work, "models")
    os.makedirs(models, exist_ok=True)
    shutil.copy(default_model(source), models)
    cloud = subprocess.Popen([
        f"{build}/cloud_service/spex-cloud", f"--model_dir={models}",
        "--plaintext", "--listen=127.0.0.1:0", "--metrics_listen=127.0.0.1:0",
        f"--port_file={work}/cloud"], stderr=subprocess.DEVNULL)
    try:
        port, metrics_port = wait_for_ports(f"{work}/cloud", cloud)
    except RuntimeError:
        cloud.terminate()
        raise
    return cloud, port, metrics_port


def start_edge(build, source, work):
    """spex-edge with the default model and no cloud, answering every sample
    itself (threshold 0, no audits), on a Unix socket in `work` and a
    loopback TCP port. Returns the process, its TCP port and its metrics
    port."""
    edge = subprocess.Popen([
        f"{build}/edge_agent/spex-edge", f"--model={default_model(source)}",
        f"--socket={work}/edge.sock", "--tcp_listen=127.0.0.1:0",
        "--metrics_listen=127.0.0.1:0", "--threshold=0", "--audit_fraction=0",
        f"--port_file={work}/edge"], stderr=subprocess.DEVNULL)
    try:
        port, metrics_port = wait_for_ports(f"{work}/edge", edge)
    except RuntimeError:
        edge.terminate()
        raise
    return edge, port, metrics_port


def inspect(build, model):
    """What spex-model says of the file `model` (its JSON form)."""
    return json.loads(subprocess.run(
        [f"{build}/tools/spex-model", "inspect", "--json", model],
        check=True, capture_output=True, text=True).stdout)


def model_id(build, model):
    """The model id spex-model reads from the file `model`."""
    return inspect(build, model)["model_id"]


def split_of(build, model):
    """(split_after, split_width): where the model's tail starts and the
    values per sample it takes there."""
    described = inspect(build, model)
    return described["split_after"], described["split_width"]


def rss_bytes(pid):
    """The resident memory of process `pid`, in bytes."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def scrape(metrics_port, name):
    """Metric `name` on a daemon's metrics port, summed over its label
    sets."""
    text = urllib.request.urlopen(
        f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total
