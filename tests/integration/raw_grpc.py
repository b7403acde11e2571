"""A gRPC client on raw HTTP/2 (Debian's python3-h2) for the hostile-client
tests: it sends what no gRPC library would (bytes that are not the method's
message, a stream whose answers it does not read) and sees every byte and
status that comes back."""
import os
import select
import socket
import struct
import subprocess
import sys
import time
import urllib.parse

import h2.config
import h2.connection
import h2.events


def generate_messages(source, work):
    subprocess.run(["protoc", "-I", os.path.join(source, "proto"),
                    "--python_out=" + work, "spex/v1/activation.proto",
                    "spex/v1/model.proto", "spex/v1/split_inference.proto",
                    "spex/v1/edge_inference.proto"], check=True)
    sys.path.insert(0, work)


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
            elif isinstance(event, (h2.events.TrailersReceived,
                                    h2.events.ResponseReceived)):
                # A status without answers comes in the response headers.
                self.trailers = {**(self.trailers or {}), **dict(event.headers)}
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

    def send(self, data, end_stream=False):
        """Sends `data` (gRPC frames, or any bytes) on the stream, in DATA
        frames no larger than the server allows."""
        size = self.conn.max_outbound_frame_size
        for start in range(0, max(len(data), 1), size):
            last = start + size >= len(data)
            self.conn.send_data(self.stream, data[start:start + size],
                                end_stream=end_stream and last)
        self.flush()

    def can_send(self, n):
        """True when the flow-control windows take n more bytes."""
        return self.conn.local_flow_control_window(self.stream) >= n

    def read_to_end(self, timeout=60):
        """Reads with the window open until the stream ends; returns its
        grpc-status (a string, "?" if none came) and grpc-message."""
        self.start_reading()
        deadline = time.time() + timeout
        while not self.ended and time.time() < deadline:
            self.pump(0.2)
        trailers = self.trailers or {}
        return (trailers.get(b"grpc-status", b"?").decode(),
                urllib.parse.unquote(
                    trailers.get(b"grpc-message", b"").decode()))
