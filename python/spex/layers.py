"""Predefined-sparse layers for PyTorch: the connection pattern is spex's
(fixed before training, never changed), the weights are trained by PyTorch.

A layer keeps a dense weight and a fixed 0/1 mask and multiplies them in
every forward pass, so the weights off the pattern get no gradient and stay
zero; `export` stores only the connections. For a convolution the pattern is
the channel graph: output channel o reads d_in input channels, each with all
window x window taps."""
import math

import torch
from torch import nn

from .patterns import pattern


def _mask(p):
    mask = torch.zeros(p.n_out, p.n_in)
    for o, row in enumerate(p.rows):
        mask[o, row] = 1.0
    return mask


class SparseLinear(nn.Module):
    """A fully connected junction of `in_features` inputs and `out_features`
    outputs in which every input feeds `fan_out` outputs (and every output
    reads in_features * fan_out / out_features inputs). `fan_out ==
    out_features` is dense. Pattern: `kind` ("random", "block", "tile4",
    "tile8") and `seed`, as `spex.pattern` takes them."""

    def __init__(self, in_features, out_features, fan_out, kind="random", seed=0):
        super().__init__()
        self.pattern = pattern(in_features, out_features, fan_out, kind, seed=seed)
        self.in_features, self.out_features = in_features, out_features
        self.register_buffer("mask", _mask(self.pattern))
        # He-normal over the inputs an output actually has, biases 0.1, as
        # spex-train initialises.
        std = math.sqrt(2.0 / self.pattern.d_in)
        self.weight = nn.Parameter(torch.randn(out_features, in_features) * std * self.mask)
        self.bias = nn.Parameter(torch.full((out_features,), 0.1))

    def forward(self, x):
        return nn.functional.linear(x, self.weight * self.mask, self.bias)

    def extra_repr(self):
        p = self.pattern
        return (f"{self.in_features} -> {self.out_features}, d_in={p.d_in}, "
                f"d_out={p.d_out}, {p.kind}, seed={p.seed}")


class SparseConv2d(nn.Module):
    """A convolution of `in_channels` into `out_channels` with square
    `kernel_size` windows, `stride` and zero `padding`, in which every input
    channel feeds `fan_out` output channels (the channel graph is spex's
    pattern; each connection carries all kernel_size^2 taps)."""

    def __init__(self, in_channels, out_channels, kernel_size, fan_out, stride=1,
                 padding=0, kind="random", seed=0):
        super().__init__()
        self.pattern = pattern(in_channels, out_channels, fan_out, kind, seed=seed)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.register_buffer("mask", _mask(self.pattern)[:, :, None, None])
        std = math.sqrt(2.0 / (self.pattern.d_in * kernel_size * kernel_size))
        self.weight = nn.Parameter(
            torch.randn(out_channels, in_channels, kernel_size, kernel_size) * std * self.mask)
        self.bias = nn.Parameter(torch.full((out_channels,), 0.1))

    def forward(self, x):
        return nn.functional.conv2d(x, self.weight * self.mask, self.bias,
                                    self.stride, self.padding)

    def extra_repr(self):
        p = self.pattern
        return (f"{self.in_channels} -> {self.out_channels}, {self.kernel_size}x"
                f"{self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"d_in={p.d_in}, d_out={p.d_out}, {p.kind}, seed={p.seed}")


class Exit(nn.Module):
    """An early-exit classifier after backbone layer `after_layer` (counted as
    spex counts layers: each Linear, convolution and pooling is one; ReLU,
    Flatten, Dropout and Identity belong to the layer before them). `head` maps
    that layer's output to logits over the model's classes. `threshold` (in
    [0, 1], on the max softmax) is where the edge answers; None leaves the
    exit uncalibrated. Calibrate on data the network did not train on."""

    def __init__(self, after_layer, head, threshold=None, loss_weight=1.0):
        super().__init__()
        self.after_layer, self.head = after_layer, head
        self.threshold, self.loss_weight = threshold, loss_weight


class Network(nn.Module):
    """A backbone (an nn.Sequential) with early exits. forward(x) returns the
    backbone's logits and a list of each exit's logits, so a joint loss is
    `sum(w_e * loss(exit_e)) + loss(final)`."""

    def __init__(self, backbone, exits=()):
        super().__init__()
        from .export import layer_boundaries  # the one place layers are counted
        self.backbone = backbone
        self.exits = nn.ModuleList(exits)
        self._ends = layer_boundaries(backbone)
        for e in self.exits:
            if not 1 <= e.after_layer < len(self._ends):
                raise ValueError(f"an exit after layer {e.after_layer}: the backbone has "
                                 f"{len(self._ends)} layers and the last is the classifier")

    def forward(self, x):
        exits = []
        by_module = {}
        for e in self.exits:
            by_module.setdefault(self._ends[e.after_layer - 1], []).append(e)
        for i, module in enumerate(self.backbone):
            x = module(x)
            for e in by_module.get(i, ()):
                exits.append((e, e.head(x)))
        order = {id(e): k for k, e in enumerate(self.exits)}
        exits.sort(key=lambda pair: order[id(pair[0])])
        return x, [logits for _, logits in exits]
