#!/usr/bin/python3
"""Idle connections against both daemons' metrics endpoints: a client opens
200 TCP connections to the port and sends nothing, holding them open; a
Prometheus scrape made meanwhile must be answered within a second, and the
daemons keep serving. (prometheus-cpp's defaults stalled every scrape for
about 30 s behind two such connections.)

Usage: metrics_idle_test.py BUILD_DIR SOURCE_DIR
"""
import shutil
import socket
import sys
import tempfile
import time
import urllib.request

from daemon_ports import start_cloud, start_edge

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
        cloud, _, cloud_metrics = start_cloud(build, source, work)
        processes.append(cloud)
        edge, _, edge_metrics = start_edge(build, source, work)
        processes.append(edge)
        ok = check("spex-cloud", cloud_metrics)
        ok = check("spex-edge", edge_metrics) and ok
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
