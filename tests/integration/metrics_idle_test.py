#!/usr/bin/python3
"""Idle connections against both daemons' metrics endpoints: a client opens
200 TCP connections to the port and sends nothing, holding them open; a
Prometheus scrape made meanwhile must be answered within a second, and the
daemons keep serving. (prometheus-cpp's defaults stalled every scrape for
about 30 s behind two such connections.)

Usage: metrics_idle_test.py BUILD_DIR SOURCE_DIR
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from daemon_ports import wait_for_ports

IDLE_CONNECTIONS = 200
SCRAPE_SECONDS_MAX = 1.0


def scrape_seconds(port):
    """Seconds a scrape took; infinity when it got no answer in 10 s."""
    started = time.time()
    try:
        body = urllib.request.urlopen(
            f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    except OSError as e:
        print(f"  scrape failed after {time.time() - started:.1f} s: {e}")
        return float("inf")
    if "spex_build_info" not in body:
        raise RuntimeError("the scrape did not return spex's metrics")
    return time.time() - started


def check(name, metrics_port):
    idle = [socket.create_connection(("127.0.0.1", metrics_port))
            for _ in range(IDLE_CONNECTIONS)]
    time.sleep(0.2)
    slowest = max(scrape_seconds(metrics_port) for _ in range(3))
    for s in idle:
        s.close()
    print(f"{name}: scrapes behind {IDLE_CONNECTIONS} idle connections took "
          f"at most {slowest:.3f} s")
    if slowest > SCRAPE_SECONDS_MAX:
        print(f"FAIL {name}: a scrape took {slowest:.3f} s "
              f"(at most {SCRAPE_SECONDS_MAX} s)")
        return False
    return True


def main():
    build, source = sys.argv[1:3]
    work = tempfile.mkdtemp(prefix="spex-metrics-idle-")
    processes = []
    try:
        model = os.path.join(source, "results", "fashion-default.spex")
        os.makedirs(os.path.join(work, "models"))
        shutil.copy(model, os.path.join(work, "models"))
        cloud = subprocess.Popen([
            f"{build}/cloud_service/spex-cloud", f"--model_dir={work}/models",
            "--plaintext", "--listen=127.0.0.1:0", "--metrics_listen=127.0.0.1:0",
            f"--port_file={work}/cloud"], stderr=subprocess.DEVNULL)
        processes.append(cloud)
        edge = subprocess.Popen([
            f"{build}/edge_agent/spex-edge", f"--model={model}",
            f"--socket={work}/edge.sock", "--metrics_listen=127.0.0.1:0",
            f"--port_file={work}/edge"], stderr=subprocess.DEVNULL)
        processes.append(edge)
        ok = check("spex-cloud", wait_for_ports(f"{work}/cloud", cloud)[1])
        ok = check("spex-edge", wait_for_ports(f"{work}/edge", edge)[1]) and ok
        for process in processes:
            if process.poll() is not None:
                print("FAIL: a daemon exited")
                ok = False
        return 0 if ok else 1
    finally:
        for process in processes:
            process.terminate()
            process.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
