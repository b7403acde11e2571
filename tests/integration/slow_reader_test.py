#!/usr/bin/python3
"""A hostile client against both daemons' streams: it writes requests on one
stream (spex-cloud's InferStream, spex-edge's ClassifyStream) as fast as
HTTP/2 lets it, but never opens its own receive window, so no answer beyond
the first window can leave. A raw HTTP/2 client (Debian's python3-h2) does
what no gRPC library would.

Checks, for each daemon: the daemon stops reading once the stream holds its
bound of unwritten answers (docs/SERVING.md: 1,024), so the client is held
back by flow control and the daemon's memory stays bounded however long it
writes; then, once the client reads again, every request it wrote is
answered and the stream ends with OK.

Usage: slow_reader_test.py BUILD_DIR SOURCE_DIR [--no-rss]
  --no-rss  leave memory unchecked (AddressSanitizer keeps what is freed).
"""
import os
import select
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

import h2.config
import h2.connection
import h2.events
from daemon_ports import wait_for_ports

STREAM_BOUND = 1024      # kMaxInflightPerStream
WRITE_SECONDS = 8.0      # how long the client keeps writing
RSS_GROWTH_MAX = 48 << 20


def generate_messages(source, work):
    subprocess.run(["protoc", "-I", os.path.join(source, "proto"),
                    "--python_out=" + work, "spex/v1/activation.proto",
                    "spex/v1/model.proto", "spex/v1/split_inference.proto",
                    "spex/v1/edge_inference.proto"], check=True)
    sys.path.insert(0, work)


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def scrape(metrics_port, name):
    text = urllib.request.urlopen(
        f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def grpc_frame(message):
    body = message.SerializeToString()
    return struct.pack(">BI", 0, len(body)) + body


class RawStream:
    """One gRPC stream over a raw HTTP/2 connection that acknowledges no data
    until told to."""

    def __init__(self, port, path, metadata):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.conn = h2.connection.H2Connection(
            config=h2.config.H2Configuration(client_side=True))
        self.conn.initiate_connection()
        self.stream = self.conn.get_next_available_stream_id()
        self.conn.send_headers(self.stream, [
            (":method", "POST"), (":scheme", "http"), (":path", path),
            (":authority", f"127.0.0.1:{port}"),
            ("content-type", "application/grpc"), ("te", "trailers")] + metadata)
        self.flush()
        self.received = b""
        self.unacknowledged = 0
        self.reading = False
        self.trailers = None
        self.ended = False

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def window(self):
        return min(self.conn.local_flow_control_window(self.stream),
                   self.conn.max_outbound_frame_size)

    def pump(self, timeout):
        """Reads what the server sent within `timeout` seconds."""
        ready, _, _ = select.select([self.sock], [], [], timeout)
        if not ready:
            return
        data = self.sock.recv(1 << 20)
        if not data:
            raise RuntimeError("the server closed the connection")
        for event in self.conn.receive_data(data):
            if isinstance(event, h2.events.DataReceived):
                self.received += event.data
                self.unacknowledged += event.flow_controlled_length
                if self.reading:
                    self.acknowledge()
            elif isinstance(event, h2.events.TrailersReceived):
                self.trailers = dict(event.headers)
            elif isinstance(event, h2.events.StreamEnded):
                self.ended = True
            elif isinstance(event, h2.events.StreamReset):
                raise RuntimeError(f"stream reset: {event.error_code}")
        self.flush()

    def acknowledge(self):
        if self.unacknowledged:
            self.conn.acknowledge_received_data(self.unacknowledged, self.stream)
            self.unacknowledged = 0

    def start_reading(self):
        self.reading = True
        self.conn.increment_flow_control_window(1 << 30)
        self.conn.increment_flow_control_window(1 << 30, self.stream)
        self.acknowledge()
        self.flush()

    def answers(self):
        count, offset = 0, 0
        while offset + 5 <= len(self.received):
            (length,) = struct.unpack(">I", self.received[offset + 1:offset + 5])
            if offset + 5 + length > len(self.received):
                break
            offset += 5 + length
            count += 1
        return count


def attack(name, process, port, metrics_port, path, metadata, request_of,
           answered_metric, check_rss):
    rss_before = rss_bytes(process.pid)
    stream = RawStream(port, path, metadata)
    sent, rss_peak, chunk = 0, rss_before, 64
    started = time.time()
    blocked_since = None
    while time.time() - started < WRITE_SECONDS:
        data = b"".join(grpc_frame(request_of(sent + i)) for i in range(chunk))
        if stream.window() >= len(data):
            stream.conn.send_data(stream.stream, data)
            stream.flush()
            sent += chunk
            blocked_since = None
        else:
            blocked_since = blocked_since or time.time()
            stream.pump(0.05)
        rss_peak = max(rss_peak, rss_bytes(process.pid))
        if blocked_since and time.time() - blocked_since > 3:
            break  # held back by flow control: the daemon stopped reading
    for _ in range(20):  # what the daemon answered settles
        stream.pump(0.05)
    time.sleep(0.5)
    answered = scrape(metrics_port, answered_metric)
    delivered = stream.answers()
    held = answered - delivered
    print(f"{name}: wrote {sent} requests; the daemon answered {answered:.0f}, "
          f"{delivered} reached the client, {held:.0f} held; RSS "
          f"{rss_before >> 20} MB before, {rss_peak >> 20} MB at peak")
    ok = True
    if held > STREAM_BOUND:
        print(f"FAIL {name}: {held:.0f} answers held for a client that does not "
              f"read (the bound is {STREAM_BOUND})")
        ok = False
    if check_rss and rss_peak - rss_before > RSS_GROWTH_MAX:
        print(f"FAIL {name}: RSS grew by {(rss_peak - rss_before) >> 20} MB")
        ok = False
    # The client reads again: every request it wrote is answered.
    stream.start_reading()
    deadline = time.time() + 120
    while stream.answers() < sent and time.time() < deadline:
        stream.pump(0.2)
    stream.conn.end_stream(stream.stream)
    stream.flush()
    while not stream.ended and time.time() < deadline:
        stream.pump(0.2)
    status = (stream.trailers or {}).get(b"grpc-status", b"?").decode()
    print(f"{name}: after reading, {stream.answers()} of {sent} answered, "
          f"grpc-status {status}; RSS {rss_bytes(process.pid) >> 20} MB")
    if stream.answers() != sent or status != "0":
        print(f"FAIL {name}: an accepted request went unanswered")
        ok = False
    stream.sock.close()
    return ok


def main():
    build, source = sys.argv[1:3]
    check_rss = "--no-rss" not in sys.argv[3:]
    work = tempfile.mkdtemp(prefix="spex-slow-reader-")
    processes = []
    try:
        generate_messages(source, work)
        from spex.v1 import edge_inference_pb2, split_inference_pb2
        model = os.path.join(source, "results", "fashion-default.spex")
        models = os.path.join(work, "models")
        os.makedirs(models)
        shutil.copy(model, models)

        cloud = subprocess.Popen([
            f"{build}/cloud_service/spex-cloud", f"--model_dir={models}",
            "--plaintext", "--listen=127.0.0.1:0",
            "--metrics_listen=127.0.0.1:0",
            f"--port_file={work}/cloud"], stderr=subprocess.DEVNULL)
        processes.append(cloud)
        cloud_port, cloud_metrics = wait_for_ports(f"{work}/cloud", cloud)
        request = split_inference_pb2.InferRequest(from_layer=1)
        request.activation.encoding = 3  # int8
        request.activation.width = 64
        request.activation.samples = 1
        request.activation.data = bytes(64)
        request.activation.scales.append(0.01)
        request.activation.zero_points.append(0)

        def infer_request(i):
            request.request_id = i + 1
            return request

        model_id = subprocess.run(
            [f"{build}/tools/spex-model", "inspect", "--json", model],
            check=True, capture_output=True, text=True).stdout
        model_id = model_id.split('"model_id": "')[1].split('"')[0]
        ok = attack("spex-cloud", cloud, cloud_port, cloud_metrics,
                    "/spex.v1.SplitInference/InferStream",
                    [("spex-model-id", model_id)], infer_request,
                    "spex_cloud_requests_total", check_rss)

        edge = subprocess.Popen([
            f"{build}/edge_agent/spex-edge", f"--model={model}",
            f"--socket={work}/edge.sock", "--tcp_listen=127.0.0.1:0",
            "--metrics_listen=127.0.0.1:0", "--threshold=0",
            "--audit_fraction=0", f"--port_file={work}/edge"],
            stderr=subprocess.DEVNULL)
        processes.append(edge)
        edge_port, edge_metrics = wait_for_ports(f"{work}/edge", edge)
        classify = edge_inference_pb2.ClassifyRequest(pixels=bytes(784))

        def classify_request(i):
            classify.request_id = i + 1
            return classify

        ok = attack("spex-edge", edge, edge_port, edge_metrics,
                    "/spex.v1.EdgeInference/ClassifyStream", [],
                    classify_request, "spex_edge_requests_total",
                    check_rss) and ok
        return 0 if ok else 1
    finally:
        for process in processes:
            process.terminate()
            process.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
