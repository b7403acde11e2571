#!/usr/bin/python3
"""Oversized requests against spex-cloud: 16 clients at once, each on its own
connection, send a 64 MiB Infer (16 times the default --max_message_bytes)
as fast as HTTP/2 flow control lets them (a raw HTTP/2 client,
tests/integration/raw_grpc.py, so nothing on the client side refuses first).

Checks: every one of them is refused (RESOURCE_EXHAUSTED, or the stream
reset), the cloud's peak RSS stays below 75 % of the memory limit its
Kubernetes deployment ships with (deploy/k8s/deployment.yaml), and its RSS
afterwards is within 20 % of what it was before. Then a normal request is
still answered.

Usage: oversized_requests_test.py BUILD_DIR SOURCE_DIR [--no-rss]
"""
import os
import re
import shutil
import struct
import sys
import tempfile
import time

import h2.exceptions
from daemon_ports import (default_model, model_id, rss_bytes, split_of,
                          start_cloud)
from raw_grpc import RawStream, generate_messages, grpc_frame

CLIENTS = 16
MESSAGE_BYTES = 64 << 20
CHUNK = 1 << 16


def memory_limit_bytes(source):
    with open(os.path.join(source, "deploy", "k8s", "deployment.yaml")) as f:
        text = f.read()
    limits = text[text.index("limits:"):]
    value = re.search(r"memory:\s*(\d+)Mi", limits)
    return int(value.group(1)) << 20


def main():
    build, source = sys.argv[1:3]
    check_rss = "--no-rss" not in sys.argv[3:]
    limit = memory_limit_bytes(source)
    work = tempfile.mkdtemp(prefix="spex-oversized-")
    cloud = None
    try:
        generate_messages(source, work)
        from spex.v1 import split_inference_pb2
        cloud, port, _ = start_cloud(build, source, work)
        split_after, width = split_of(build, default_model(source))
        good = split_inference_pb2.InferRequest(
            request_id=1, from_layer=split_after,
            model_id=model_id(build, default_model(source)))
        good.activation.encoding = 1  # float32
        good.activation.width = width
        good.activation.samples = 1
        good.activation.data = bytes(4 * width)

        def answered_normally():
            stream = RawStream(port, "/spex.v1.SplitInference/Infer", [])
            stream.send(grpc_frame(good), end_stream=True)
            status, message = stream.read_to_end()
            stream.sock.close()
            return status == "0" and stream.answers() == 1, status, message

        for _ in range(20):  # warm: the threads and buffers of normal work
            answered_normally()
        time.sleep(1)
        before = rss_bytes(cloud.pid)

        header = struct.pack(">BI", 0, MESSAGE_BYTES)
        payload = bytes(CHUNK)
        streams = []
        for _ in range(CLIENTS):
            stream = RawStream(port, "/spex.v1.SplitInference/Infer", [])
            stream.start_reading()
            stream.send(header)
            stream.to_send = MESSAGE_BYTES
            streams.append(stream)
        peak = before
        started = time.time()
        while time.time() - started < 120:
            open_streams = [s for s in streams if not s.ended]
            if not open_streams:
                break
            for stream in open_streams:
                try:
                    while stream.to_send > 0 and stream.window() > 0:
                        n = min(stream.window(), stream.to_send, CHUNK)
                        stream.conn.send_data(stream.stream, payload[:n],
                                              end_stream=stream.to_send == n)
                        stream.to_send -= n
                        stream.flush()
                    stream.pump(0.005)
                except (RuntimeError, OSError,
                        h2.exceptions.ProtocolError) as error:
                    stream.ended = True  # reset or closed: refused
                    stream.reset = str(error)
            peak = max(peak, rss_bytes(cloud.pid))
        refused = 0
        statuses = {}
        for stream in streams:
            status = (stream.trailers or {}).get(b"grpc-status", b"").decode()
            if getattr(stream, "reset", False) or status == "8":
                refused += 1
            sent = MESSAGE_BYTES - stream.to_send
            key = (status, getattr(stream, "reset", None) or
                   (stream.trailers or {}).get(b"grpc-message", b"").decode())
            statuses.setdefault(key, []).append(sent >> 20)
            stream.sock.close()
        time.sleep(2)
        after = rss_bytes(cloud.pid)
        print(f"{CLIENTS} requests of {MESSAGE_BYTES >> 20} MiB: {refused} "
              f"refused in {time.time() - started:.1f} s; RSS {before >> 20} "
              f"MB before, {peak >> 20} MB at peak, {after >> 20} MB after "
              f"(limit {limit >> 20} MB)")
        for (status, message), sent in sorted(statuses.items()):
            print(f"  {len(sent)} x grpc-status {status or 'none'}: "
                  f"{message[:90]} (MiB sent: {sorted(sent)})")
        ok = True
        if refused != CLIENTS:
            print(f"FAIL: {CLIENTS - refused} oversized requests not refused")
            ok = False
        if check_rss and peak >= 0.75 * limit:
            print(f"FAIL: peak RSS {peak >> 20} MB is not below 75 % of the "
                  f"{limit >> 20} MB limit")
            ok = False
        if check_rss and after > 1.2 * before:
            print(f"FAIL: RSS {after >> 20} MB afterwards, more than 20 % "
                  f"above {before >> 20} MB")
            ok = False
        normal, status, message = answered_normally()
        if not normal:
            print(f"FAIL: a normal request afterwards: {status} {message}")
            ok = False
        if cloud.poll() is not None:
            print(f"FAIL: spex-cloud exited ({cloud.returncode})")
            ok = False
        return 0 if ok else 1
    finally:
        if cloud is not None:
            cloud.terminate()
            cloud.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
