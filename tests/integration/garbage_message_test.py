#!/usr/bin/python3
"""Bytes that are not a request, sent to every request-taking method of both
daemons by a raw HTTP/2 client (tests/integration/raw_grpc.py).

Checks, for spex-cloud's InferStream and spex-edge's ClassifyStream: a good
request, a message whose bytes do not parse, a good request, then the
client's half-close: the first request is answered, and the stream ends
with INVALID_ARGUMENT naming the bad message (its number and type) and how
many requests before it were answered, so the client knows the third was
never read. For the unary methods (Infer, GetModelInfo, the Open Inference
Protocol's ModelInfer and ServerLive, the edge's Classify): INVALID_ARGUMENT
naming the request's type (docs/SERVING.md).

Usage: garbage_message_test.py BUILD_DIR SOURCE_DIR
"""
import shutil
import sys
import tempfile

from daemon_ports import (default_model, model_id, split_of, start_cloud,
                          start_edge)
from raw_grpc import RawStream, generate_messages, grpc_frame

GARBAGE = b"\x00" + b"\x00\x00\x00\x03" + b"\xff\xff\xff"  # 3 bytes: no message
INVALID_ARGUMENT = "3"


def check(name, got, want_status, want_in_message):
    status, message = got
    print(f"{name}: grpc-status {status}, message: {message!r}")
    missing = [w for w in want_in_message if w not in message]
    if status != want_status or missing:
        print(f"FAIL {name}: want status {want_status} and a message with "
              f"{missing}")
        return False
    return True


def stream_case(name, port, path, metadata, request_of, type_name):
    stream = RawStream(port, path, metadata)
    stream.send(grpc_frame(request_of(1)) + GARBAGE + grpc_frame(request_of(2)),
                end_stream=True)
    got = stream.read_to_end()
    answers = stream.answers()
    stream.sock.close()
    ok = check(name + " stream", got, INVALID_ARGUMENT,
               ["message 2", type_name, "1 request(s) before it"])
    print(f"{name} stream: {answers} answer(s)")
    if answers != 1:
        print(f"FAIL {name} stream: the request before the bad message must "
              f"be answered, once")
        ok = False
    return ok


def unary_case(name, port, path, metadata, type_name):
    stream = RawStream(port, path, metadata)
    stream.send(GARBAGE, end_stream=True)
    got = stream.read_to_end()
    stream.sock.close()
    return check(name, got, INVALID_ARGUMENT, [type_name])


def main():
    build, source = sys.argv[1:3]
    work = tempfile.mkdtemp(prefix="spex-garbage-")
    processes = []
    try:
        generate_messages(source, work)
        from spex.v1 import edge_inference_pb2, split_inference_pb2
        cloud, cloud_port, _ = start_cloud(build, source, work)
        processes.append(cloud)
        edge, edge_port, _ = start_edge(build, source, work)
        processes.append(edge)

        split_after, width = split_of(build, default_model(source))

        def infer_request(i):
            request = split_inference_pb2.InferRequest(
                request_id=i, from_layer=split_after)
            request.activation.encoding = 1  # float32
            request.activation.width = width
            request.activation.samples = 1
            request.activation.data = bytes(4 * width)
            return request

        def classify_request(i):
            return edge_inference_pb2.ClassifyRequest(
                request_id=i, pixels=bytes(784))

        cloud_metadata = [("spex-model-id",
                           model_id(build, default_model(source)))]
        ok = stream_case("spex-cloud InferStream", cloud_port,
                         "/spex.v1.SplitInference/InferStream", cloud_metadata,
                         infer_request, "spex.v1.InferRequest")
        ok = stream_case("spex-edge ClassifyStream", edge_port,
                         "/spex.v1.EdgeInference/ClassifyStream", [],
                         classify_request, "spex.v1.ClassifyRequest") and ok
        for name, port, path, type_name in [
                ("spex-cloud Infer", cloud_port,
                 "/spex.v1.SplitInference/Infer", "spex.v1.InferRequest"),
                ("spex-cloud GetModelInfo", cloud_port,
                 "/spex.v1.SplitInference/GetModelInfo",
                 "spex.v1.GetModelInfoRequest"),
                ("spex-cloud ModelInfer", cloud_port,
                 "/inference.GRPCInferenceService/ModelInfer",
                 "inference.ModelInferRequest"),
                ("spex-cloud ServerLive", cloud_port,
                 "/inference.GRPCInferenceService/ServerLive",
                 "inference.ServerLiveRequest"),
                ("spex-edge Classify", edge_port,
                 "/spex.v1.EdgeInference/Classify",
                 "spex.v1.ClassifyRequest")]:
            ok = unary_case(name, port, path, cloud_metadata, type_name) and ok
        for process in processes:
            if process.poll() is not None:
                print(f"FAIL: {process.args[0]} exited ({process.returncode})")
                ok = False
        return 0 if ok else 1
    finally:
        for process in processes:
            process.terminate()
            process.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
