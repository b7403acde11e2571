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
import shutil
import sys
import tempfile
import time

from daemon_ports import (default_model, model_id, rss_bytes, scrape, split_of,
                          start_cloud, start_edge)
from raw_grpc import RawStream, generate_messages, grpc_frame

STREAM_BOUND = 1024      # kMaxInflightPerStream
WRITE_SECONDS = 8.0      # how long the client keeps writing
RSS_GROWTH_MAX = 48 << 20



def attack(name, process, port, metrics_port, path, metadata, request_of,
           answered_metric, check_rss):
    rss_before = rss_bytes(process.pid)
    stream = RawStream(port, path, metadata)
    sent, rss_peak, chunk = 0, rss_before, 64
    started = time.time()
    blocked_since = None
    while time.time() - started < WRITE_SECONDS:
        data = b"".join(grpc_frame(request_of(sent + i)) for i in range(chunk))
        if stream.can_send(len(data)):
            stream.send(data)
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
        cloud, cloud_port, cloud_metrics = start_cloud(build, source, work)
        processes.append(cloud)
        split_after, width = split_of(build, default_model(source))
        request = split_inference_pb2.InferRequest(from_layer=split_after)
        request.activation.encoding = 3  # int8
        request.activation.width = width
        request.activation.samples = 1
        request.activation.data = bytes(width)
        request.activation.scales.append(0.01)
        request.activation.zero_points.append(0)

        def infer_request(i):
            request.request_id = i + 1
            return request

        ok = attack("spex-cloud", cloud, cloud_port, cloud_metrics,
                    "/spex.v1.SplitInference/InferStream",
                    [("spex-model-id",
                      model_id(build, default_model(source)))], infer_request,
                    "spex_cloud_requests_total", check_rss)

        edge, edge_port, edge_metrics = start_edge(build, source, work)
        processes.append(edge)
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
