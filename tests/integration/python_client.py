#!/usr/bin/python3
"""Calls a running spex-cloud from Python with stubs generated from the
project's protos at test time (Debian's python3-grpcio, protoc and
grpc_python_plugin): SplitInference with raw images, the Open Inference
Protocol, and gRPC health. Checks the answers against the Fashion-MNIST test
labels and against each other. Exit status 0 when every check passes.

Usage: python_client.py ADDRESS PROTO_DIR WORK_DIR
"""
import gzip
import os
import struct
import subprocess
import sys


def generate_stubs(proto_dir, out_dir):
    plugin = "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin"
    protos = ["spex/v1/activation.proto", "spex/v1/model.proto",
              "spex/v1/split_inference.proto",
              "inference/open_inference_grpc.proto"]
    subprocess.run(["protoc", "-I", proto_dir, "--python_out=" + out_dir,
                    "--grpc_out=" + out_dir, plugin] + protos, check=True)
    health_dir = "/usr/share/grpc-proto/grpc/health/v1"
    subprocess.run(["protoc", "-I", health_dir, "--python_out=" + out_dir,
                    "--grpc_out=" + out_dir, plugin, "health.proto"],
                   check=True)


def fashion_test_images(count):
    root = "/usr/share/datasets/fashion-mnist"
    with gzip.open(os.path.join(root, "t10k-images-idx3-ubyte.gz")) as f:
        magic, n, rows, cols = struct.unpack(">IIII", f.read(16))
        images = [f.read(rows * cols) for _ in range(count)]
    with gzip.open(os.path.join(root, "t10k-labels-idx1-ubyte.gz")) as f:
        f.read(8)
        labels = list(f.read(count))
    return images, labels, rows, cols


def main():
    address, proto_dir, work_dir = sys.argv[1:4]
    generate_stubs(proto_dir, work_dir)
    sys.path.insert(0, work_dir)
    import grpc
    import health_pb2
    import health_pb2_grpc
    from inference import open_inference_grpc_pb2 as oip
    from inference import open_inference_grpc_pb2_grpc as oip_grpc
    from spex.v1 import activation_pb2, split_inference_pb2
    from spex.v1 import split_inference_pb2_grpc

    channel = grpc.insecure_channel(address)
    health = health_pb2_grpc.HealthStub(channel)
    status = health.Check(health_pb2.HealthCheckRequest()).status
    assert status == health_pb2.HealthCheckResponse.SERVING, status

    spex = split_inference_pb2_grpc.SplitInferenceStub(channel)
    info = spex.GetModelInfo(split_inference_pb2.GetModelInfoRequest())
    assert len(info.models) == 1, info
    model = info.models[0]
    assert model.split_width == 196 and model.num_classes == 10, model
    assert list(model.split_shape) == [4, 7, 7], model  # a 7x7x4 map, NCHW

    count = 64
    images, labels, rows, cols = fashion_test_images(count)
    request = split_inference_pb2.InferRequest(
        request_id=7, model_id=model.model_id, from_layer=0, top_k=3,
        activation=activation_pb2.ActivationPayload(
            encoding=activation_pb2.ENCODING_UINT8, width=rows * cols,
            samples=count, data=b"".join(images)))
    response = spex.Infer(request)
    assert response.request_id == 7
    spex_labels = [r.label for r in response.results]
    correct = sum(a == b for a, b in zip(spex_labels, labels))
    assert correct >= 0.75 * count, (correct, spex_labels, labels)
    for r in response.results:
        assert len(r.top_k) == 3 and r.top_k[0].class_index == r.label

    # Errors arrive as gRPC status codes with a message.
    bad = split_inference_pb2.InferRequest()
    bad.CopyFrom(request)
    bad.from_layer = 3  # inside the head: not a cut
    try:
        spex.Infer(bad)
        raise AssertionError("from_layer 3 was accepted")
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error
        assert "from_layer" in error.details(), error.details()

    # The same images through the Open Inference Protocol.
    inference = oip_grpc.GRPCInferenceServiceStub(channel)
    assert inference.ServerLive(oip.ServerLiveRequest()).live
    assert inference.ServerReady(oip.ServerReadyRequest()).ready
    metadata = inference.ModelMetadata(
        oip.ModelMetadataRequest(name=model.name))
    assert metadata.inputs[0].name == "input", metadata
    assert list(metadata.inputs[0].shape) == [-1, rows, cols, 1], metadata
    tensor = oip.ModelInferRequest.InferInputTensor(
        name="input", datatype="UINT8", shape=[count, rows, cols, 1])
    tensor.contents.uint_contents.extend(b"".join(images))
    result = inference.ModelInfer(oip.ModelInferRequest(
        model_name=model.name, id="py", inputs=[tensor]))
    outputs = {o.name: o for o in result.outputs}
    assert result.id == "py"
    assert list(outputs["label"].contents.int64_contents) == spex_labels
    assert list(outputs["probabilities"].shape) == [count, 10]
    print("python client: %d/%d correct, OIP labels equal SplitInference's"
          % (correct, count))


if __name__ == "__main__":
    main()
