#!/usr/bin/python3
"""Models trained in PyTorch, on spex's own patterns or under a plain mask,
written by spex.export or imported from ONNX, served by spex.

A predefined-sparse MLP (block and tile patterns, an exit after layer 1) and
a predefined-sparse CNN (convolutions, poolings, an exit after a pooling with
a pooling of its own) are built from python/spex, trained two epochs on
Fashion-MNIST by PyTorch (Adam, exits and final classifier jointly),
exported with `spex.export` and through ONNX (torch.onnx.export, then
`spex-model import`); a plain PyTorch MLP trained dense under a fixed mask
(torch.nn.utils.prune, the mask spex's pattern) goes through ONNX too, and
after magnitude pruning of its classifier (no exact degrees) is refused
with the degrees named, or kept dense with --allow-dense. Checked:

- the package installs with pip (into a venv over Debian's torch) and an
  installed copy exports a model spex verifies; what spex cannot run (an
  unsupported module, a ReLU after a pooling, a classifier without a
  Linear, a cut outside the network) is refused with the module named;
- the patterns are spex's: `spex-model pattern` with the same arguments, and
  the file's layers hold exactly them (spex-model inspect --json);
- the import recovers each layer's pattern kind (tile, block, random) and
  the mask's degrees;
- for every model, spex-cloud (real process, loopback), through the Open Inference Protocol,
  gives PyTorch's probabilities within 1e-4 relative and its labels on at
  least 99.9 % of the 10,000 test images;
- spex-edge with the exported threshold in front of it: every image
  answered once, on the device exactly where PyTorch's exit is confident
  (but for confidences within 1e-4 of the threshold), the device's answers
  PyTorch's exit labels with its confidence, and the answers overall
  PyTorch's split-and-exit labels on at least 99.5 % (the cut crosses as
  int8).

Usage: pytorch_export_test.py BUILD_DIR SOURCE_DIR
"""
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import torch
from torch import nn

EPOCHS = 2
THRESHOLD = 0.9


def idx(path):
    with gzip.open(path) as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return torch.frombuffer(bytearray(data[4 + 4 * dims:]), dtype=torch.uint8).reshape(shape)


def fashion(split):
    root = os.environ.get("SPEX_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
    prefix = "train" if split == "train" else "t10k"
    return (idx(os.path.join(root, f"{prefix}-images-idx3-ubyte.gz")),
            idx(os.path.join(root, f"{prefix}-labels-idx1-ubyte.gz")).long())


def mlp(spex):
    return spex.Network(nn.Sequential(
        nn.Flatten(),
        spex.SparseLinear(784, 128, fan_out=16, kind="block", seed=11), nn.ReLU(),
        spex.SparseLinear(128, 64, fan_out=16, kind="tile4", seed=12), nn.ReLU(),
        nn.Linear(64, 10)),
        exits=[spex.Exit(1, nn.Linear(128, 10), threshold=THRESHOLD)]), 1


def cnn(spex):
    return spex.Network(nn.Sequential(
        spex.SparseConv2d(1, 8, 3, fan_out=8, padding=1, seed=21), nn.ReLU(),
        nn.MaxPool2d(2),                                                   # 14x14x8
        spex.SparseConv2d(8, 16, 3, fan_out=8, padding=1, seed=22), nn.ReLU(),
        nn.MaxPool2d(2),                                                   # 7x7x16
        nn.Flatten(),
        spex.SparseLinear(784, 64, fan_out=16, seed=23), nn.ReLU(),
        nn.Linear(64, 10)),
        exits=[spex.Exit(2, nn.Sequential(nn.AvgPool2d(2), nn.Flatten(), nn.Linear(392, 10)),
                         threshold=THRESHOLD)]), 4


def train(net, images, labels):
    optimiser = torch.optim.Adam(net.parameters(), lr=2e-3)
    generator = torch.Generator().manual_seed(1)
    x_all = images.float().div(255).unsqueeze(1)
    for epoch in range(EPOCHS):
        order = torch.randperm(len(labels), generator=generator)
        started, total = time.time(), 0.0
        for b in range(0, len(order), 128):
            batch = order[b:b + 128]
            final, exits = net(x_all[batch])
            loss = nn.functional.cross_entropy(final, labels[batch])
            for e, logits in zip(net.exits, exits):
                loss = loss + e.loss_weight * nn.functional.cross_entropy(logits, labels[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item() * len(batch)
        print(f"  epoch {epoch + 1}: loss {total / len(order):.4f} ({time.time() - started:.0f} s)",
              flush=True)


def oip_stubs(source, work):
    subprocess.run(["protoc", "-I", os.path.join(source, "proto"), "--python_out=" + work,
                    "--grpc_out=" + work,
                    "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin",
                    "inference/open_inference_grpc.proto"], check=True)
    sys.path.insert(0, work)
    from inference import open_inference_grpc_pb2 as oip
    from inference import open_inference_grpc_pb2_grpc as oip_grpc
    return oip, oip_grpc


def installed_package_exports(source, work):
    """pip install --no-build-isolation ./python into a venv that sees
    Debian's torch; the installed copy (no checkout on its path) writes a
    model that spex-model verifies."""
    # A copy to install from: pip builds in the tree it is given.
    tree = os.path.join(work, "tree")
    shutil.copytree(os.path.join(source, "python"), os.path.join(tree, "python"),
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    os.makedirs(os.path.join(tree, "proto", "spex", "v1"))
    shutil.copy(os.path.join(source, "proto", "spex", "v1", "model.proto"),
                os.path.join(tree, "proto", "spex", "v1"))
    venv = os.path.join(work, "venv")
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", venv],
                   check=True)
    subprocess.run([f"{venv}/bin/pip", "install", "--quiet", "--no-build-isolation",
                    "--no-index", os.path.join(tree, "python")], check=True,
                   cwd=work, env=dict(os.environ, PIP_CACHE_DIR=os.path.join(work, "pip")))
    script = ("import spex, torch\nfrom torch import nn\n"
              "assert '/site-packages/' in spex.__file__, spex.__file__\n"
              "net = nn.Sequential(spex.SparseLinear(784, 32, fan_out=4, seed=1), nn.ReLU(),"
              " nn.Linear(32, 10))\n"
              "print(spex.export(net, 'installed.spex', split_after=1))\n")
    run = subprocess.run([f"{venv}/bin/python", "-c", script], cwd=work, capture_output=True,
                         text=True)
    return run.returncode == 0 and len(run.stdout.strip()) == 64, run.stderr[-500:]


def refusals(spex):
    """What export refuses, each with the message naming the problem."""
    cases = [
        (nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.Tanh(), nn.Linear(32, 10)), 1,
         "backbone module 2 (Tanh): not supported"),
        (nn.Sequential(nn.Conv2d(1, 4, 3), nn.MaxPool2d(2), nn.ReLU(), nn.Flatten(),
                       nn.Linear(4 * 13 * 13, 10)), 1, "a ReLU follows a Linear or a convolution"),
        (nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU()), 1,
         "the classifier's Linear gives logits (no ReLU after it)"),
        (nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2)), 1,
         "a classifier ends with a Linear layer"),
        (nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10)), 2,
         "split_after 2: the cut falls after a layer from 1 to 1"),
        (nn.Sequential(nn.Flatten(), nn.Linear(700, 10)), 1,
         "takes 700 inputs, but its input has 784"),
    ]
    found = []
    for net, split_after, expected in cases:
        try:
            spex.model_message(net, split_after)
            found.append(f"accepted (expected '{expected}')")
        except spex.ExportError as error:
            if expected not in str(error):
                found.append(f"'{error}' (expected '{expected}')")
    return found


def main():
    build, source = (os.path.abspath(path) for path in sys.argv[1:3])
    sys.path.insert(0, os.path.join(source, "python"))
    sys.path.insert(0, os.path.join(source, "tests", "integration"))
    os.environ["SPEX_MODEL"] = f"{build}/tools/spex-model"
    import grpc
    import spex
    from daemon_ports import wait_for_ports

    torch.manual_seed(1)
    torch.set_num_threads(1)
    work = tempfile.mkdtemp(prefix="spex-pytorch-test-")
    os.environ["XDG_CACHE_HOME"] = work  # the compiled schema, fresh
    failures = []
    processes = []

    def check(ok, what):
        print(("ok    " if ok else "FAIL  ") + what, flush=True)
        if not ok:
            failures.append(what)

    try:
        installed, why = installed_package_exports(source, work)
        check(installed, "pip installs the package and the installed copy exports a model "
              "spex verifies" + ("" if installed else f": {why}"))
        wrong = refusals(spex)
        check(not wrong, "export refuses what spex cannot run, naming it" +
              ("" if not wrong else ": " + "; ".join(wrong)))

        train_images, train_labels = fashion("train")
        test_images, test_labels = fashion("test")
        x_test = test_images.float().div(255).unsqueeze(1)
        models = os.path.join(work, "models")
        os.makedirs(models)
        served = {}  # model name -> (file, split_after, PyTorch's final and exit probabilities)

        def outputs_of(net):
            with torch.no_grad():
                final, exits = net(x_test)
            return final.double().softmax(1), exits[0].double().softmax(1)

        def import_onnx(net, name, split_after, exit_after, extra=()):
            """torch.onnx.export, then spex-model import; the import's
            output (its report) or its error."""
            onnx_path = os.path.join(work, f"{name}.onnx")
            torch.onnx.export(net, x_test[:1], onnx_path, input_names=["image"],
                              output_names=["logits", "exit1"],
                              dynamic_axes={"image": {0: "batch"}}, opset_version=13)
            return subprocess.run(
                [f"{build}/tools/spex-model", "import", onnx_path, "--split-after",
                 str(split_after), "--exit", f"exit1:{exit_after}:{THRESHOLD}",
                 "--input-scale", str(1 / 255), "--input-range", "0,255",
                 "-o", os.path.join(models, f"{name}.spex"), *extra],
                capture_output=True, text=True)

        for name, build_net in (("torch-mlp", mlp), ("torch-cnn", cnn)):
            net, split_after = build_net(spex)
            print(f"{name}: training {EPOCHS} epochs", flush=True)
            train(net, train_images, train_labels)
            net.eval()
            path = os.path.join(models, f"{name}.spex")
            model_id = spex.export(net, path, split_after=split_after,
                                   training={"dataset": "fashion-mnist", "epochs": EPOCHS})
            final, exit_probabilities = outputs_of(net)
            served[name] = (path, final, exit_probabilities)
            accuracy = (final.argmax(1) == test_labels).double().mean().item()
            check(accuracy > 0.8, f"{name}: PyTorch's test accuracy {accuracy:.4f}")

            # The file's patterns are spex's own.
            summary = json.loads(subprocess.run(
                [f"{build}/tools/spex-model", "inspect", path, "--json"], check=True,
                capture_output=True, text=True).stdout)
            sparse = [m for m in net.backbone if isinstance(m, (spex.SparseLinear,
                                                                spex.SparseConv2d))]
            for m in sparse:
                p = m.pattern
                again = json.loads(subprocess.run(
                    [f"{build}/tools/spex-model", "pattern", f"--n_in={p.n_in}",
                     f"--n_out={p.n_out}", f"--fan_out={p.d_out}", f"--kind={p.kind}"
                     if p.kind != "dense" else "--kind=random", f"--seed={p.seed}"],
                    check=True, capture_output=True, text=True).stdout)
                check(again["rows"] == p.rows and again["indices"] == p.indices,
                      f"{name}: {m.extra_repr()}: spex-model pattern gives the same pattern")
            check(summary["model_id"] == model_id, f"{name}: spex reads the id export wrote")

            # The same network through ONNX: the sparsity recovered, each
            # layer's pattern kind as trained.
            exit_after = net.exits[0].after_layer
            imported = import_onnx(net, f"{name}-onnx", split_after, exit_after)
            kinds = [m.pattern.kind for m in sparse if not m.pattern.dense]
            ok = imported.returncode == 0 and all(f": {kind}" in imported.stdout
                                                  for kind in kinds)
            check(ok, f"{name}: torch.onnx.export, spex-model import recovers the {kinds} "
                  "patterns" + ("" if ok else
                                f": {imported.stdout.strip() or imported.stderr.strip()}"))
            served[f"{name}-onnx"] = (os.path.join(models, f"{name}-onnx.spex"), final,
                                      exit_probabilities)

        # A plain PyTorch model, dense weights under a fixed mask (as the
        # research's reference code trains): the mask is spex's pattern, so
        # the import finds exact degrees.
        from torch.nn.utils import prune

        class MaskedMlp(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1, self.fc2, self.exit = nn.Linear(784, 128), nn.Linear(128, 10), \
                    nn.Linear(128, 10)
                mask = torch.zeros(128, 784)
                for o, row in enumerate(spex.pattern(784, 128, 16, seed=5).rows):
                    mask[o, row] = 1
                prune.custom_from_mask(self.fc1, "weight", mask)
                self.exits = [spex.Exit(1, None)]  # for train(): one exit, weight 1

            def forward(self, x):
                h = torch.relu(self.fc1(x.flatten(1)))
                return self.fc2(h), [self.exit(h)]

        masked = MaskedMlp()
        print(f"masked-mlp: training {EPOCHS} epochs", flush=True)
        train(masked, train_images, train_labels)
        masked.eval()
        final, exit_probabilities = outputs_of(masked)
        imported = import_onnx(masked, "masked-mlp-onnx", 1, 1)
        ok = imported.returncode == 0 and "d_in 98 of 784, d_out 16 of 128: random" in \
            imported.stdout
        check(ok, "masked-mlp: a dense-under-mask model imports with its mask's degrees" +
              ("" if ok else f": {imported.stdout.strip() or imported.stderr.strip()}"))
        served["masked-mlp-onnx"] = (os.path.join(models, "masked-mlp-onnx.spex"), final,
                                     exit_probabilities)
        # Magnitude pruning leaves no exact degrees: refused with what was
        # found, or kept dense when asked.
        prune.l1_unstructured(masked.fc2, "weight", amount=0.5)
        final, exit_probabilities = outputs_of(masked)
        refused = import_onnx(masked, "pruned-mlp-onnx", 1, 1)
        check(refused.returncode == 1 and "its zeros are not a predefined-sparse pattern "
              "(nonzeros per output" in refused.stderr and "--allow-dense" in refused.stderr,
              f"pruned-mlp: irregular zeros refused, naming the degrees "
              f"({refused.stderr.strip()[-150:]})")
        allowed = import_onnx(masked, "pruned-mlp-onnx", 1, 1, ["--allow-dense"])
        ok = allowed.returncode == 0 and "stored dense (--allow-dense)" in allowed.stdout
        check(ok, "pruned-mlp: --allow-dense keeps it dense" +
              ("" if ok else f": {allowed.stdout.strip() or allowed.stderr.strip()}"))
        served["pruned-mlp-onnx"] = (os.path.join(models, "pruned-mlp-onnx.spex"), final,
                                     exit_probabilities)

        # spex-cloud serves them all; the Open Inference Protocol runs the
        # whole network on the raw pixels.
        cloud = subprocess.Popen([
            f"{build}/cloud_service/spex-cloud", f"--model_dir={models}", "--plaintext",
            "--listen=127.0.0.1:0", "--metrics_listen=127.0.0.1:0",
            f"--port_file={work}/cloud"], stderr=subprocess.DEVNULL)
        processes.append(cloud)
        cloud_port, _ = wait_for_ports(f"{work}/cloud", cloud)
        oip, oip_grpc = oip_stubs(source, work)
        inference = oip_grpc.GRPCInferenceServiceStub(
            grpc.insecure_channel(f"127.0.0.1:{cloud_port}"))
        for name, (path, torch_final, torch_exit) in served.items():
            probabilities = []
            for b in range(0, 10000, 250):
                tensor = oip.ModelInferRequest.InferInputTensor(
                    name="input", datatype="UINT8", shape=[250, 28, 28, 1])
                answer = inference.ModelInfer(oip.ModelInferRequest(
                    model_name=name, inputs=[tensor],
                    raw_input_contents=[test_images[b:b + 250].contiguous().numpy().tobytes()]))
                index = [o.name for o in answer.outputs].index("probabilities")
                probabilities.append(torch.frombuffer(
                    bytearray(answer.raw_output_contents[index]), dtype=torch.float32))
            answered = torch.cat(probabilities).reshape(10000, 10).double()
            same = (answered.argmax(1) == torch_final.argmax(1)).sum().item()
            check(same >= 9990, f"{name}: spex-cloud's labels are PyTorch's on {same} of 10000")
            # Relative error where a probability is not lost in float32's
            # rounding of the others (a probability below 1e-6 carries the
            # error of the sum, not its own).
            meaningful = torch_final >= 1e-6
            relative = ((answered - torch_final).abs() / torch_final)[meaningful].max().item()
            check(relative <= 1e-4, f"{name}: spex-cloud's probabilities within 1e-4 relative "
                  f"of PyTorch's (largest {relative:.2e})")

            # spex-edge in front of it: the exit and its threshold.
            edge = subprocess.Popen([
                f"{build}/edge_agent/spex-edge", f"--model={path}",
                f"--socket={work}/{name}.sock", "--metrics_listen=127.0.0.1:0",
                f"--cloud=127.0.0.1:{cloud_port}", "--cloud_plaintext", "--audit_fraction=0",
                f"--port_file={work}/{name}.edge"], stderr=subprocess.DEVNULL)
            processes.append(edge)
            wait_for_ports(f"{work}/{name}.edge", edge)
            answers = os.path.join(work, f"{name}.jsonl")
            subprocess.run([f"{build}/tools/spex-replay", f"--target=unix:{work}/{name}.sock",
                            "--streams=2", "--depth=8", f"--out={answers}"], check=True,
                           stdout=subprocess.DEVNULL, timeout=600)
            edge.terminate()
            edge.wait(timeout=30)
            records = sorted((json.loads(line) for line in open(answers)),
                             key=lambda r: r["id"])
            check([r["id"] for r in records] == list(range(10000)),
                  f"{name}: spex-edge answered every test image once")
            confidence = torch_exit.max(1).values
            confident = confidence >= THRESHOLD
            unclear = (confidence - THRESHOLD).abs() < 1e-4
            local = torch.tensor([r["path"] == "local" for r in records])
            wrong_place = ((local != confident) & ~unclear).sum().item()
            check(wrong_place == 0 and not any(r["path"] == "fallback" for r in records),
                  f"{name}: answered on the device exactly where PyTorch's exit is confident "
                  f"({local.sum().item()} of 10000 on the device, {wrong_place} elsewhere)")
            on_device = [r for r in records if r["path"] == "local"]
            exit_labels = torch_exit.argmax(1)
            check(all(r["predicted"] == exit_labels[r["id"]].item() and
                      abs(r["confidence"] - confidence[r["id"]].item()) <= 1e-4
                      for r in on_device),
                  f"{name}: the device's answers are PyTorch's exit labels and confidences")
            expected = torch.where(confident, exit_labels, torch_final.argmax(1))
            same = sum(r["predicted"] == expected[r["id"]].item() for r in records)
            check(same >= 9950, f"{name}: split and exit give PyTorch's labels on {same} of 10000")
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print(f"{len(failures)} check(s) failed")
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
