"""The convolutional networks' sections of docs/RESULTS.md (written by
results_md.py): the default model (the sparse CNN, calibrated) and its
floors; the sparse CNN over seeds against its dense twin, a dense CNN with the
sparse one's parameter budget and a sparser CNN, their floors, and a picture
of parameters against accuracy for both families (fully connected and
convolutional, sparse and dense) with the equal-budget pairs joined."""
import math
import os
import statistics

from results_benchmarks import verdict

SPARSE = "fashion-cnn-tile4"
TWIN = "fashion-cnn-dense"
NARROW = "fashion-cnn-narrow-dense"
EIGHTH = "fashion-cnn-tile4-eighth"
MLP_SPARSE = "fashion-mlp-tile4"
MLP_TWIN = "fashion-mlp-dense"
MLP_NARROW = "fashion-mlp-narrow-dense"
PICTURE = "params-accuracy.svg"


def accuracy(reports, key="final"):
    pick = ((lambda r: r["final_test_accuracy"]) if key == "final"
            else (lambda r: r["exits"][0]["test_accuracy"]))
    return statistics.mean(pick(r) for r in reports)


def spread(reports):
    values = [100 * r["final_test_accuracy"] for r in reports]
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"


def edge_macs(r):
    return r["macs"]["head"] + r["macs"]["exit"]


def write_svg(path, points, pairs):
    """points: (label, family, sparse, params, accuracy %); pairs: label
    pairs to join with a dashed line (the same budget, sparse and dense)."""
    width, height, left, right, top, bottom = 720, 420, 70, 190, 30, 50
    xs = [math.log10(p[3]) for p in points]
    ys = [p[4] for p in points]
    x_lo, x_hi = math.floor(min(xs) * 4) / 4, math.ceil(max(xs) * 4) / 4
    y_lo, y_hi = math.floor(min(ys)) - 0.5, math.ceil(max(ys)) + 0.5

    def x_of(params):
        return left + (math.log10(params) - x_lo) / (x_hi - x_lo) * (
            width - left - right)

    def y_of(acc):
        return top + (y_hi - acc) / (y_hi - y_lo) * (height - top - bottom)

    colour = {"mlp": "#1f77b4", "cnn": "#d62728"}
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
             f'height="{height}" font-family="sans-serif" font-size="11">',
             f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<text x="{left}" y="18" font-size="13">Fashion-MNIST test '
             'accuracy against parameters (filled: predefined-sparse; hollow: '
             'dense)</text>']
    tick = 10 ** x_lo
    while tick <= 10 ** x_hi * 1.0001:
        for mantissa in (1, 2, 5):
            value = mantissa * tick
            if 10 ** x_lo <= value <= 10 ** x_hi:
                x = x_of(value)
                parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" '
                             f'y2="{height - bottom}" stroke="#eee"/>')
                parts.append(f'<text x="{x:.1f}" y="{height - bottom + 15}" '
                             f'text-anchor="middle">{value:,.0f}</text>')
        tick *= 10
    acc = math.ceil(y_lo)
    while acc <= y_hi:
        y = y_of(acc)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" '
                     f'y2="{y:.1f}" stroke="#eee"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" '
                     f'text-anchor="end">{acc} %</text>')
        acc += 1
    parts.append(f'<text x="{(left + width - right) / 2}" y="{height - 12}" '
                 'text-anchor="middle">parameters (log scale)</text>')
    where = {p[0]: (x_of(p[3]), y_of(p[4])) for p in points}
    for a, b in pairs:
        if a in where and b in where:
            (x1, y1), (x2, y2) = where[a], where[b]
            parts.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" '
                         f'y2="{y2:.1f}" stroke="#888" stroke-dasharray="4 3"/>')
    for label, family, sparse, params, acc in points:
        x, y = x_of(params), y_of(acc)
        fill = colour[family] if sparse else "white"
        if family == "cnn":
            parts.append(f'<rect x="{x - 5:.1f}" y="{y - 5:.1f}" width="10" '
                         f'height="10" fill="{fill}" stroke="{colour[family]}" '
                         'stroke-width="2"/>')
        else:
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{fill}" '
                         f'stroke="{colour[family]}" stroke-width="2"/>')
        parts.append(f'<text x="{x + 9:.1f}" y="{y + 4:.1f}">{label} '
                     f'({acc:.2f} %)</text>')
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts) + "\n")


def calibration_table(calibration, w):
    """A calibrated threshold's figures on the validation and test sets."""
    v, test = calibration["validation"], calibration["test"]
    w("| | validation | test |\n|---|---|---|")
    for key, label in (("exit_fraction", "samples answered on the device"),
                       ("exit_accuracy", "accuracy of those"),
                       ("overall_accuracy", "overall accuracy"),
                       ("full_accuracy", "full network")):
        w(f"| {label} | {100 * v[key]:.2f} % | {100 * test[key]:.2f} % |")
    w(f"| drop | {v['drop_points']:.2f} points | {test['drop_points']:.2f} points |")
    w(f"| bytes sent per sample (int8) | {v['bytes_sent_per_sample']:.1f} | "
      f"{test['bytes_sent_per_sample']:.1f} |")
    w("")


def default_section(r, calibration, w):
    """The default model: the calibrated sparse CNN (`r`: its report)."""
    test = calibration["test"]
    raw = r["raw_input_bytes"]
    values = r["split_width"]
    int8 = r["split_bytes"]["int8"]
    agreement = r["split_label_agreement"]["int8"]
    floor_accuracy = test["overall_accuracy"] >= 0.915 and test["exit_fraction"] >= 0.6
    floor_bytes = values <= raw / 4
    floor_agreement = agreement >= 0.995
    w("## The default model: a sparse CNN (Fashion-MNIST)\n")
    w(f"`{r['topology']}`, split after layer {r['split_after']} (a 7x7x4 map, "
      f"{values} values), a linear exit on the cut; `{r['pattern']}` channel "
      f"patterns, {r['params']:,} parameters, {edge_macs(r):,} MACs on the "
      f"edge (head and exit) and {r['macs']['full']:,} in the full network. "
      "Recipe: `scripts/train-default-model.sh`; the file is "
      "`results/fashion-default.spex` "
      f"(model_id `{calibration['model_id'][:16]}…`). Its seeds, its dense "
      "twin and the narrow dense CNN are in \"Convolutional networks\" "
      "below.\n")
    w("| floor | measured | verdict |\n|---|---|---|")
    w(f"| at the calibrated threshold, >= 91.5 % overall with >= 60 % answered "
      f"on the device | {100 * test['overall_accuracy']:.2f} % overall, "
      f"{100 * test['exit_fraction']:.1f} % on the device (full network "
      f"{100 * test['full_accuracy']:.2f} %) | {verdict(floor_accuracy)} |")
    w(f"| the cut at most 1/4 of the raw image | {values} values: {values} int8 "
      f"bytes ({int8} with the scale and zero point) against {raw} | "
      f"{verdict(floor_bytes)} |")
    w(f"| labels after the int8 round trip as the full network's on >= 99.5 % "
      f"| {100 * agreement:.2f} % (one scale per tensor; float16 "
      f"{100 * r['split_label_agreement']['float16']:.2f} %) | "
      f"{verdict(floor_agreement)} |")
    w("")
    w(f"`spex-train calibrate --max-drop 0.5` chose **{calibration['measure']} "
      f">= {calibration['threshold']:.3f}** on the validation hold-out "
      f"(margin {calibration['margin_points']:.2f} points):\n")
    calibration_table(calibration, w)
    w("![accuracy against offload](../results/fashion-default.tradeoff.svg)\n")


def section(results, groups, w, epochs):
    """Writes the section; nothing when the run trained no CNN."""
    if SPARSE not in groups or TWIN not in groups:
        return
    sparse, twin = groups[SPARSE], groups[TWIN]
    s, t = sparse[0], twin[0]
    acc_sparse, acc_twin = accuracy(sparse), accuracy(twin)
    params_ratio = t["params"] / s["params"]
    macs_ratio = t["macs"]["full"] / s["macs"]["full"]
    rho = 1 / macs_ratio

    w("## Convolutional networks (Fashion-MNIST)\n")
    w(f"{epochs} epochs, augmentation (shifts of one pixel, "
      "horizontal flips), cosine schedule; the split on the 7x7x4 map after "
      "the 1x1 convolution, a linear exit there. The recipes are in "
      "`scripts/reproduce.sh`; ρ below is the convolutions' density by "
      "multiply-adds (sparse MACs over the twin's).\n")
    w("| model | seeds | final % | exit % | params | MACs edge / full |")
    w("|---|---|---|---|---|---|")
    rows = [("sparse, `tile4`", SPARSE), ("dense twin", TWIN),
            ("dense, narrow (the sparse one's budget)", NARROW),
            ("sparse, `tile4`, sparser", EIGHTH)]
    for label, name in rows:
        reports = groups.get(name)
        if not reports:
            continue
        r = reports[0]
        w(f"| {label}: `{r['topology']}` | {len(reports)} | {spread(reports)} | "
          f"{100 * accuracy(reports, 'exit'):.2f} | {r['params']:,} | "
          f"{edge_macs(r):,} / {r['macs']['full']:,} |")
    w("")

    floor_f = (len(sparse) >= 3 and acc_sparse >= 0.92 and
               acc_twin - acc_sparse <= 0.005 and params_ratio >= 4 and
               macs_ratio >= 4)
    eighth = groups.get(EIGHTH)
    eighth_ratio = t["params"] / eighth[0]["params"] if eighth else 0
    floor_g = bool(eighth) and eighth_ratio >= 8 and acc_twin - accuracy(eighth) <= 0.01
    w("| floor | measured | verdict |\n|---|---|---|")
    w(f"| sparse CNN >= 92.0 % over >= 3 seeds, within 0.5 point of its dense "
      f"twin, >= 4x fewer parameters and MACs | {100 * acc_sparse:.2f} % over "
      f"{len(sparse)} seeds vs {100 * acc_twin:.2f} % over {len(twin)} "
      f"({100 * (acc_sparse - acc_twin):+.2f} points); parameters "
      f"{params_ratio:.2f}x fewer, MACs {macs_ratio:.2f}x fewer | "
      f"{verdict(floor_f)} |")
    if eighth:
        w(f"| a sparse CNN at >= 8x fewer parameters than the twin within 1 "
          f"point | {eighth_ratio:.2f}x fewer, {100 * accuracy(eighth):.2f} % "
          f"({100 * (accuracy(eighth) - acc_twin):+.2f} points) | "
          f"{verdict(floor_g)} |")
    w("")
    w(f"Training time is judged apart from these runs (ρ = {rho:.3f}, so the "
      f"floor is 0.5/ρ = {0.5 / rho:.2f}x): seconds per epoch of the sparse "
      "CNN and its twin measured back to back on a quiet machine, in "
      "docs/BENCHMARKS.md (\"Training convolutional networks\"); the "
      "epochs of runs that share a machine with other work are not "
      "comparable.\n")

    # The same budget spent wide and sparse, or narrow and dense.
    w("### The same budget, wide and sparse or narrow and dense\n")
    w("| family | sparse (wide) | dense (narrow) | sparse − dense |")
    w("|---|---|---|---|")
    differences = []
    for family, a, b in (("fully connected", MLP_SPARSE, MLP_NARROW),
                         ("convolutional", SPARSE, NARROW)):
        if a in groups and b in groups:
            ra, rb = groups[a], groups[b]
            differences.append(accuracy(ra) - accuracy(rb))
            w(f"| {family} | {ra[0]['params']:,} params: {spread(ra)} % | "
              f"{rb[0]['params']:,} params: {spread(rb)} % | "
              f"{100 * differences[-1]:+.2f} points |")
    w("")
    if differences and all(d <= 0 for d in differences):
        w("At these budgets on Fashion-MNIST, spending the parameters on a "
          "narrower dense network did as well or better than spending them "
          "on a wider predefined-sparse one, in both families: what the "
          "sparse networks buy here is the dense twin's accuracy at a "
          "fraction of its parameters and multiply-adds, not more accuracy "
          "per parameter than a narrow dense network.\n")

    points = []
    for label, family, sparse_kind, name in (
            ("MLP tile4", "mlp", True, MLP_SPARSE),
            ("MLP dense twin", "mlp", False, MLP_TWIN),
            ("MLP narrow dense", "mlp", False, MLP_NARROW),
            ("CNN tile4", "cnn", True, SPARSE),
            ("CNN dense twin", "cnn", False, TWIN),
            ("CNN narrow dense", "cnn", False, NARROW),
            ("CNN tile4, sparser", "cnn", True, EIGHTH)):
        if name in groups:
            points.append((label, family, sparse_kind, groups[name][0]["params"],
                           100 * accuracy(groups[name])))
    write_svg(os.path.join(results, PICTURE), points,
              [("MLP tile4", "MLP narrow dense"), ("CNN tile4", "CNN narrow dense")])
    w(f"![accuracy against parameters](../results/{PICTURE})\n")
    w("Dashed lines join the equal-budget pairs. Means over the seeds each "
      "configuration has (table above).\n")
