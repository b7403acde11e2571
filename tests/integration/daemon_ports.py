"""What the Python tests that start spex's daemons share: waiting for a
daemon's --port_file (its port, then its metrics port)."""
import os
import time


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
