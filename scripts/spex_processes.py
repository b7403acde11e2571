"""What the Python drivers of spex's daemons share (bench_e2e.py,
bench_chain.py, faults.py): daemons started with their logs in a scratch
folder and stopped with SIGTERM (so they drain), waits for the files daemons
write once they serve, a metric scraped from a daemon, a process's CPU
time, the machine a benchmark ran on."""
import os
import signal
import subprocess
import time


class Processes:
    """Daemons started for a run; stop_all() stops those still running."""

    def __init__(self, work):
        self.work = work
        self.running = []

    def start(self, name, command):
        out = open(os.path.join(self.work, name + ".log"), "w")
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        self.running.append(process)
        return process

    def stop(self, process, sig=signal.SIGTERM):
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process in self.running:
            self.running.remove(process)

    def stop_all(self):
        for process in list(self.running):
            if process.poll() is None:
                # A stopped (SIGSTOP) process cannot act on SIGTERM.
                process.send_signal(signal.SIGCONT)
            self.stop(process)

    def log(self, name):
        with open(os.path.join(self.work, name + ".log")) as f:
            return f.read()


def wait_for(path, lines=1, timeout=60, process=None):
    """The whitespace-separated words of a file once it has `lines` of them
    (a --port_file), or RuntimeError."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(path):
            with open(path) as f:
                content = f.read().split()
            if len(content) >= lines:
                return content
        if process is not None and process.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(f"{path} did not appear")


def metric(port, name):
    """A metric's value from a daemon's /metrics, or None."""
    try:
        text = subprocess.run(["curl", "-sf", f"http://127.0.0.1:{port}/metrics"],
                              capture_output=True, text=True, timeout=5).stdout
    except subprocess.TimeoutExpired:
        return None
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return None


def wait_for_metric(port, name, value, timeout=30):
    deadline = time.time() + timeout
    while metric(port, name) != value:
        if time.time() > deadline:
            raise RuntimeError(f"{name} did not reach {value}")
        time.sleep(0.05)


def cpu_seconds(pid):
    """User + system CPU time of a process so far, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid):
    """Resident memory of a process, KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine():
    """This machine for a benchmark's record: CPU model, cores, AVX-512."""
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    name = next((line.split(":", 1)[1].strip() for line in cpu.splitlines()
                 if line.startswith("Model name:")), "unknown CPU")
    flags = open("/proc/cpuinfo").read()
    return f"{name}, {os.cpu_count()} cores, AVX-512: {'yes' if 'avx512f' in flags else 'no'}"
