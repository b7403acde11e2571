#!/usr/bin/env python3
"""The arm64 cost of each NEON kernel at batch 1, measured without an ARM
machine (scripts/bench.sh kernels-arm64):

- instructions retired per forward call, counted exactly under qemu-aarch64
  by bench/arm64/instruction_count_plugin.c between two marks of
  spex_instruction_count;
- cycles per iteration of the hottest loop (the block that retired the most
  instructions between the marks), modelled by llvm-mca-14 for several ARM
  cores.

Against XNNPACK's arm64 fully connected operator and Eigen's GEMV on the same
(dense) layer; then spex's predefined-sparse convolutions (each pattern kind,
the NEON kernel the dispatch picks) against XNNPACK's arm64 convolution at
the shapes of conv_problem.h, with "op": "conv2d". Prints one JSON object per
(implementation, layer, density), then tables and the floors. Neither figure sees memory: no cache misses, no
stalls on loads (a Pi's L2 holds the sparse packs, not the dense matrix)."""
import argparse
import json
import re
import subprocess
import sys
import tempfile

# LLVM 14's scheduling models: cortex-a72 (Raspberry Pi 4) and cortex-a76
# (Pi 5) both get the Cortex-A57 model, which is exact for the Jetson Nano's
# A57; cortex-a55 (in-order) is a model of its own.
CPUS = ["cortex-a72", "cortex-a76", "cortex-a57", "cortex-a55"]
SIZES = [(784, 512), (1024, 1024), (4096, 4096)]
DENSITIES = [1 / 2, 1 / 4, 1 / 8, 1 / 16, 1 / 32]
CALLS = 10
CONV_CALLS = 2  # a convolution is 10^6-10^8 multiply-adds: counts are exact
CONV_DENSITIES = [1 / 2, 1 / 4, 1 / 8]
CONV_KINDS = ["random", "block", "tile4", "tile8"]


def neon_kernels(table):
    with open(table) as f:
        return re.findall(r"^SPEX_KERNEL\((f32_\w+_neon),", f.read(), re.M)


def count(args, impl, n_in, n_out, density):
    """Runs one implementation under the plugin; None if it cannot take the
    layer (a tile size that does not divide it)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        run = subprocess.run(
            ["qemu-aarch64", "-E", f"LD_LIBRARY_PATH={args.libs}",
             "-plugin", f"{args.plugin},out={out.name}", args.program, impl,
             str(n_out), str(n_in), repr(density), str(CALLS)],
            capture_output=True, text=True)
        if run.returncode != 0:
            if "tile pattern" in run.stderr:
                return None
            sys.exit(f"{impl} {n_in}->{n_out} {density}: {run.stderr.strip()}")
        with open(out.name) as f:
            plugin = json.load(f)
    guest = json.loads(run.stdout)
    marks = plugin["marks"]
    return {
        "instructions": (marks[1] - marks[0]) / CALLS,
        "macs": guest["macs_per_call"],
        "density": guest["density"],
        "hot": plugin["hot"],
    }


def count_conv(args, impl, case, density):
    """One convolution implementation under the plugin; None if the pattern
    kind does not fit the channel counts."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        run = subprocess.run(
            ["qemu-aarch64", "-E", f"LD_LIBRARY_PATH={args.libs}",
             "-plugin", f"{args.plugin},out={out.name}", args.program, "conv",
             impl, str(case), repr(density), "1", str(CONV_CALLS)],
            capture_output=True, text=True)
        if run.returncode == 1:
            return None
        if run.returncode != 0:
            sys.exit(f"conv {impl} case {case} {density}: {run.stderr.strip()}")
        with open(out.name) as f:
            plugin = json.load(f)
    guest = json.loads(run.stdout)
    marks = plugin["marks"]
    return guest | {"instructions": (marks[1] - marks[0]) / CONV_CALLS,
                    "macs": guest["macs_per_call"], "hot": plugin["hot"]}


def conv_cases(args):
    run = subprocess.run(
        ["qemu-aarch64", "-E", f"LD_LIBRARY_PATH={args.libs}", args.program,
         "conv-cases"], capture_output=True, text=True, check=True)
    return int(run.stdout)


def measure_convs(args, quick):
    """The convolution rows: XNNPACK dense, then each kind at each density."""
    cases = [2] if quick else list(range(conv_cases(args)))
    densities = [1 / 4] if quick else CONV_DENSITIES
    plan = [(case, "xnnpack", 1.0) for case in cases]
    plan += [(case, kind, d) for case in cases for d in densities
             for kind in CONV_KINDS]
    rows = []
    for i, (case, impl, density) in enumerate(plan):
        print(f"[conv {i + 1}/{len(plan)}] case {case} {impl} density "
              f"{density:g}", file=sys.stderr)
        measured = count_conv(args, impl, case, density)
        if measured is None:
            continue
        row = {
            "op": "conv2d",
            "impl": impl if impl == "xnnpack" else f"spex_{impl}",
            "kernel": measured["kernel"], "case": measured["case"],
            **{k: measured[k] for k in ("h", "w", "c_in", "c_out", "k", "stride")},
        } | cost_fields(measured, density, CONV_CALLS)
        rows.append(row)
        print_row(row)
    return rows


def cost_fields(measured, density, calls):
    """A row's measured fields: density, instructions per call, the hot loop
    and its modelled cycles."""
    hot = measured["hot"]
    return {
        "density": measured["density"], "density_requested": density,
        "batch": 1, "instructions": round(measured["instructions"]),
        "macs": measured["macs"],
        "hot_loop": {"instructions": hot["insns"],
                     "runs_per_call": hot["execs"] / calls,
                     "disas": hot["disas"]},
        "mca_cycles": mca_cycles(hot),
    }


def print_row(row):
    print(json.dumps({k: v for k, v in row.items() if k != "hot_loop"}
                     | {"hot_loop": {k: v for k, v in row["hot_loop"].items()
                                     if k != "disas"}}), flush=True)


def mca_cycles(hot):
    """Cycles per iteration of the hot block, per modelled core."""
    # qemu prints branch targets as absolute addresses: point them at the
    # block's start, which is what a loop's back edge is.
    lines = ["loop:"] + [
        re.sub(r"(\b(?:b(?:\.\w+)?|cbn?z\s+\w+,|tbn?z\s+\w+,\s*#\d+,))\s*#0x[0-9a-f]+",
               r"\1 loop", line) for line in hot["disas"]]
    cycles = {}
    with tempfile.NamedTemporaryFile("w", suffix=".s") as source:
        source.write("\n".join(lines) + "\n")
        source.flush()
        for cpu in CPUS:
            run = subprocess.run(
                ["llvm-mca-14", "-mtriple=aarch64-linux-gnu", f"-mcpu={cpu}",
                 "-iterations=100", source.name], capture_output=True, text=True)
            match = re.search(r"Total Cycles:\s+(\d+)", run.stdout)
            if run.returncode != 0 or not match:
                sys.exit(f"llvm-mca-14 ({cpu}): {run.stderr.strip()}")
            cycles[cpu] = int(match.group(1)) / 100
    return cycles


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--program", required=True)
    parser.add_argument("--plugin", required=True)
    parser.add_argument("--libs", required=True)
    parser.add_argument("--table", default="common/kernels/kernel_table.inc")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    sizes, densities = SIZES, DENSITIES
    if args.quick:
        sizes, densities = [(1024, 1024)], [1 / 2, 1 / 8]
    kernels = neon_kernels(args.table)
    sparse = [k for k in kernels if "_dense_" not in k]
    rows = []
    total = len(sizes) * (3 + len(densities) * len(sparse))
    for n_in, n_out in sizes:
        plan = [(impl, 1.0) for impl in ("xnnpack", "eigen_dense")]
        plan += [(k, 1.0) for k in kernels if "_dense_" in k]
        plan += [(k, d) for d in densities for k in sparse]
        for impl, density in plan:
            print(f"[{len(rows) + 1}/{total}] {impl} {n_in}->{n_out} "
                  f"density {density:g}", file=sys.stderr)
            measured = count(args, impl, n_in, n_out, density)
            if measured is None:
                total -= 1
                continue
            row = {"impl": impl, "out": n_out, "in": n_in} | cost_fields(
                measured, density, CALLS)
            rows.append(row)
            print_row(row)
    conv_rows = measure_convs(args, args.quick)
    report(rows, sizes, densities)
    report_convs(conv_rows)


def report(rows, sizes, densities):
    print("\n(instructions retired per forward call under qemu-aarch64, exact; "
          "x xnnpack = XNNPACK's count / this count; hot loop = the block that "
          "retired the most, its instructions and runs per call, and its share "
          "of the call's instructions; cycles = llvm-mca-14 per run of the hot "
          "loop, cortex-a72 / cortex-a55 models, and per call on the A72 model; "
          "density* = the nearest valid density, counted for a requested one "
          "the layer cannot take)")
    for n_in, n_out in sizes:
        at = [r for r in rows if (r["in"], r["out"]) == (n_in, n_out)]
        xnn = next(r for r in at if r["impl"] == "xnnpack")
        print(f"\n{n_in} -> {n_out}, batch 1 (XNNPACK: {xnn['instructions']:,} "
              "instructions)")
        print(f"{'density':<9} {'impl':<16} {'instructions':>12} {'per MAC':>8} "
              f"{'x xnnpack':>9} {'hot loop':>16} {'share':>6} {'cycles A72/A55':>15} "
              f"{'A72 cycles/call':>15}")
        for density in [1.0] + densities:
            for r in (r for r in at if r["density_requested"] == density):
                hot = r["hot_loop"]
                cycles = r["mca_cycles"]
                share = hot["instructions"] * hot["runs_per_call"] / r["instructions"]
                shown = (f"{r['density']:.5g}" if abs(r["density"] - density) < 1e-9
                         else f"{r['density']:.5g}*")
                print(f"{shown:<9} {r['impl']:<16} {r['instructions']:>12,} "
                      f"{r['instructions'] / r['macs']:>8.2f} "
                      f"{xnn['instructions'] / r['instructions']:>8.2f}x "
                      f"{hot['instructions']:>4} x {hot['runs_per_call']:>9,.0f} "
                      f"{100 * share:>5.0f}% "
                      f"{cycles['cortex-a72']:>7.2f}/{cycles['cortex-a55']:<7.2f} "
                      f"{cycles['cortex-a72'] * hot['runs_per_call']:>15,.0f}")
    print("\nfloor (density 1/8, batch 1: the best NEON kernel retires at most "
          "1/4 of XNNPACK's instructions):")
    for n_in, n_out in sizes:
        at = [r for r in rows if (r["in"], r["out"]) == (n_in, n_out)]
        xnn = next(r for r in at if r["impl"] == "xnnpack")
        best = min((r for r in at if r["density_requested"] == 1 / 8 and
                    r["impl"].endswith("_neon")),
                   key=lambda r: r["instructions"], default=None)
        if best is None:
            continue
        ratio = best["instructions"] / xnn["instructions"]
        print(f"  {n_in} -> {n_out}: {best['impl']} {best['instructions']:,} = "
              f"{ratio:.3f} of XNNPACK  floor 0.25  "
              f"{'met' if ratio <= 0.25 else 'MISSED'}")


def report_convs(rows):
    print("\nconvolutions, batch 1 (instructions per call under qemu-aarch64; "
          "x xnnpack = XNNPACK's dense convolution / this; the kernel is the "
          "one spex's dispatch picks; cycles = llvm-mca-14 per run of the hot "
          "loop, cortex-a72 / cortex-a55; density* = the nearest valid "
          "density, counted for a requested one the layer cannot take)")
    cases = list(dict.fromkeys(r["case"] for r in rows))
    for case in cases:
        at = [r for r in rows if r["case"] == case]
        xnn = next(r for r in at if r["impl"] == "xnnpack")
        print(f"\n{case}: {xnn['h']}x{xnn['w']}x{xnn['c_in']} -> {xnn['c_out']}, "
              f"{xnn['k']}x{xnn['k']} stride {xnn['stride']} (XNNPACK: "
              f"{xnn['instructions']:,} instructions, "
              f"{xnn['instructions'] / xnn['macs']:.3f} per MAC)")
        print(f"{'density':<9} {'impl':<12} {'kernel':<26} {'instructions':>12} "
              f"{'per MAC':>8} {'x xnnpack':>9} {'cycles A72/A55':>15}")
        for r in at:
            if r["impl"] == "xnnpack":
                continue
            cycles = r["mca_cycles"]
            shown = (f"{r['density']:.5g}"
                     if abs(r["density"] - r["density_requested"]) < 1e-9
                     else f"{r['density']:.5g}*")
            print(f"{shown:<9} {r['impl']:<12} {r['kernel']:<26} "
                  f"{r['instructions']:>12,} {r['instructions'] / r['macs']:>8.3f} "
                  f"{xnn['instructions'] / r['instructions']:>8.2f}x "
                  f"{cycles['cortex-a72']:>7.2f}/{cycles['cortex-a55']:<7.2f}")
    print("\nfloor (convolutions with at least 32 channels in and out, density "
          "1/4, batch 1: the best NEON kernel retires at most 1/3 of XNNPACK's "
          "instructions):")
    for case in cases:
        at = [r for r in rows if r["case"] == case]
        xnn = next(r for r in at if r["impl"] == "xnnpack")
        best = min((r for r in at if r["density_requested"] == 1 / 4 and
                    r["impl"] != "xnnpack"),
                   key=lambda r: r["instructions"], default=None)
        if best is None or min(xnn["c_in"], xnn["c_out"]) < 32:
            continue
        ratio = best["instructions"] / xnn["instructions"]
        print(f"  {case}: {best['impl']} ({best['kernel']}) "
              f"{best['instructions']:,} = {ratio:.3f} of XNNPACK  floor 0.333  "
              f"{'met' if ratio <= 1 / 3 else 'MISSED'}")


if __name__ == "__main__":
    main()
