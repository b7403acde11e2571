"""Connection patterns, as spex generates them (`spex-model pattern`), so a
model trained here runs on exactly the junctions spex would have given it."""
import functools
import json

from ._tools import run_spex_model

KINDS = ("random", "block", "tile4", "tile8")


class Pattern:
    """A junction's pattern: n_in inputs, n_out outputs, each output reading
    d_in inputs and each input feeding d_out outputs.

    rows[o] lists output o's inputs, ascending; `indices` is the form a model
    file stores for `kind` (rows, tile inputs or block codes); `seed` the
    pattern seed the file records."""

    def __init__(self, description):
        self.n_in = description["n_in"]
        self.n_out = description["n_out"]
        self.d_in = description["d_in"]
        self.d_out = description["d_out"]
        self.kind = description["kind"]
        self.group_size = description["group_size"]
        self.seed = int(description["seed"])
        self.rows = description["rows"]
        self.indices = description["indices"]

    @property
    def dense(self):
        return self.kind == "dense"

    def __repr__(self):
        return (f"Pattern({self.n_in} -> {self.n_out}, d_in {self.d_in}, "
                f"d_out {self.d_out}, {self.kind}, seed {self.seed})")


@functools.lru_cache(maxsize=None)
def _pattern_json(n_in, n_out, fan_out, kind, seed, model_seed, layer, exit):
    args = ["pattern", f"--n_in={n_in}", f"--n_out={n_out}",
            f"--fan_out={fan_out}", f"--kind={kind}"]
    if seed is not None:
        args.append(f"--seed={seed}")
    else:
        args += [f"--model_seed={model_seed}", f"--layer={layer}"]
        if exit is not None:
            args.append(f"--exit={exit}")
    return run_spex_model(*args)


def pattern(n_in, n_out, fan_out, kind="random", seed=None, model_seed=None,
            layer=None, exit=None):
    """The pattern spex gives a junction of `n_in` inputs and `n_out`
    outputs with `fan_out` outputs per input (a convolution's channels).

    `seed` is a pattern seed; or `model_seed` with `layer` (1-based backbone
    layer) and optionally `exit` (1-based) give the pattern
    `spex-train --seed=model_seed` writes for that layer. `kind` falls back to
    random where it does not fit, as in spex-train."""
    if kind not in KINDS:
        raise ValueError(f"unknown pattern kind {kind!r} (expected one of {KINDS})")
    if (seed is None) == (model_seed is None or layer is None):
        raise ValueError("give seed, or model_seed with layer")
    return Pattern(json.loads(_pattern_json(n_in, n_out, fan_out, kind, seed,
                                            model_seed, layer, exit)))
