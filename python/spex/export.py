"""export(): a PyTorch network of spex's layers (or plain Linear and Conv2d,
stored dense) written as a .spex model file that the daemons serve.

Layers are counted as spex counts them: each Linear, convolution and
pooling is one layer; a ReLU after a Linear or a convolution is that layer's
activation; Flatten (spex flattens a map channel-major, as PyTorch's NCHW
does), Dropout and Identity compute nothing at inference. The last layer of
the backbone and of every exit is a Linear, whose logits spex turns into
softmax probabilities."""
import hashlib

import torch
from torch import nn

from ._tools import model_pb2, run_spex_model
from .layers import Exit, Network, SparseConv2d, SparseLinear

_PASSIVE = (nn.Flatten, nn.Dropout, nn.Identity)
_SUPPORTED = ("spex.SparseLinear, spex.SparseConv2d, Linear, Conv2d, ReLU, MaxPool2d, "
              "AvgPool2d, AdaptiveAvgPool2d(1), Flatten, Dropout, Identity")


class ExportError(ValueError):
    """The network cannot be written as a spex model; the message names the
    module and what spex supports."""


def _is_layer(module):
    return isinstance(module, (SparseLinear, SparseConv2d, nn.Linear, nn.Conv2d,
                               nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d))


def layer_boundaries(sequential):
    """For each spex layer of `sequential` (in order), the index of the last
    module that belongs to it (the layer and the ReLU, Flatten, Dropout or
    Identity modules after it)."""
    ends = []
    for i, module in enumerate(sequential):
        if _is_layer(module):
            ends.append(i)
        elif ends:
            ends[-1] = i
    return ends


def _pair(value, what, where):
    if isinstance(value, (tuple, list)):
        if len(set(value)) != 1:
            raise ExportError(f"{where}: {what} {tuple(value)}: spex takes square windows, "
                              "the same stride and padding in both directions")
        return int(value[0])
    return int(value)


def _numbers(tensor):
    return tensor.detach().to(torch.float32).cpu().reshape(-1).tolist()


class _Shape:
    """An activation: a map of channels x height x width, or a vector."""

    def __init__(self, channels, height=None, width=None):
        self.channels, self.height, self.width = channels, height, width

    @property
    def is_map(self):
        return self.height is not None

    @property
    def values(self):
        return self.channels * (self.height or 1) * (self.width or 1)

    def __repr__(self):
        return (f"{self.channels}x{self.height}x{self.width}" if self.is_map
                else str(self.channels))


def _connections(layer, pb, module, n_in, n_out, window):
    """Pattern, indices and weights of a (sparse or dense) junction."""
    if isinstance(module, (SparseLinear, SparseConv2d)):
        p = module.pattern
        rows = torch.tensor(p.rows, dtype=torch.long)
        layer.d_in, layer.d_out = p.d_in, p.d_out
        if p.dense:
            layer.pattern = pb.PATTERN_KIND_DENSE
        else:
            layer.pattern = {"random": pb.PATTERN_KIND_RANDOM, "block": pb.PATTERN_KIND_BLOCK,
                             "tile4": pb.PATTERN_KIND_TILE,
                             "tile8": pb.PATTERN_KIND_TILE}[p.kind]
            layer.group_size = p.group_size
            layer.pattern_seed = p.seed
            layer.indices.extend(p.indices)
        weight = module.weight * module.mask
    else:
        rows = torch.arange(n_in).repeat(n_out, 1)
        layer.d_in, layer.d_out = n_in, n_out
        layer.pattern = pb.PATTERN_KIND_DENSE
        weight = module.weight
    picked = weight.detach()[torch.arange(n_out)[:, None], rows]  # n_out x d_in [x k x k]
    if window:
        picked = picked.permute(0, 2, 3, 1)  # tap-major: o, ky, kx, k
    layer.weights.extend(_numbers(picked))
    bias = module.bias if module.bias is not None else torch.zeros(n_out)
    layer.bias.extend(_numbers(bias))


def _chain(modules, shape, where, layers, pb):
    """Appends the layers of `modules` to the repeated field `layers`; returns
    the shape after them and the shape after each layer."""
    shapes = []
    modules = list(modules)
    for i, module in enumerate(modules):
        here = f"{where} module {i} ({type(module).__name__})"
        if isinstance(module, _PASSIVE):
            if isinstance(module, nn.Flatten) and module.start_dim != 1:
                raise ExportError(f"{here}: spex flattens from dimension 1 only")
            continue
        if isinstance(module, nn.ReLU):
            if not layers or layers[-1].kind not in (pb.LAYER_KIND_UNSPECIFIED,
                                                     pb.LAYER_KIND_CONV2D):
                raise ExportError(f"{here}: a ReLU follows a Linear or a convolution in spex "
                                  "(a pooling has no activation: put the ReLU before it)")
            layers[-1].activation = pb.ACTIVATION_RELU
            continue
        if not _is_layer(module):
            raise ExportError(f"{here}: not supported; spex exports {_SUPPORTED}")
        layer = layers.add()
        layer.activation = pb.ACTIVATION_IDENTITY
        if isinstance(module, (SparseLinear, nn.Linear)):
            if module.in_features != shape.values:
                raise ExportError(f"{here}: takes {module.in_features} inputs, but its input "
                                  f"has {shape.values} ({shape})")
            layer.n_in, layer.n_out = module.in_features, module.out_features
            _connections(layer, pb, module, layer.n_in, layer.n_out, 0)
            shape = _Shape(module.out_features)
        elif isinstance(module, (SparseConv2d, nn.Conv2d)):
            if not shape.is_map:
                raise ExportError(f"{here}: a convolution needs a map, its input is {shape}")
            if isinstance(module, nn.Conv2d):
                if module.groups != 1 or _pair(module.dilation, "dilation", here) != 1:
                    raise ExportError(f"{here}: groups and dilation other than 1 are not "
                                      "supported (a sparse channel graph is spex.SparseConv2d)")
                if module.padding_mode != "zeros" or isinstance(module.padding, str):
                    raise ExportError(f"{here}: padding must be a number of zeros")
            window = _pair(module.kernel_size, "kernel", here)
            stride = _pair(module.stride, "stride", here)
            padding = _pair(module.padding, "padding", here)
            if module.in_channels != shape.channels:
                raise ExportError(f"{here}: takes {module.in_channels} channels, its input "
                                  f"has {shape.channels}")
            layer.kind = pb.LAYER_KIND_CONV2D
            layer.n_in, layer.n_out = module.in_channels, module.out_channels
            layer.in_height, layer.in_width = shape.height, shape.width
            layer.window, layer.stride, layer.padding = window, stride, padding
            _connections(layer, pb, module, layer.n_in, layer.n_out, window)
            shape = _Shape(module.out_channels,
                           (shape.height + 2 * padding - window) // stride + 1,
                           (shape.width + 2 * padding - window) // stride + 1)
        else:  # a pooling
            if not shape.is_map:
                raise ExportError(f"{here}: a pooling needs a map, its input is {shape}")
            layer.n_in = layer.n_out = shape.channels
            layer.d_in = layer.d_out = 1
            layer.in_height, layer.in_width = shape.height, shape.width
            if isinstance(module, nn.AdaptiveAvgPool2d):
                if _pair(module.output_size, "output size", here) != 1:
                    raise ExportError(f"{here}: only AdaptiveAvgPool2d(1), a global average")
                layer.kind = pb.LAYER_KIND_GLOBAL_AVERAGE_POOL
                shape = _Shape(shape.channels)
            else:
                window = _pair(module.kernel_size, "kernel", here)
                stride = _pair(module.stride if module.stride is not None else window,
                               "stride", here)
                if _pair(module.padding, "padding", here) != 0 or module.ceil_mode:
                    raise ExportError(f"{here}: spex pools without padding or ceil_mode")
                if isinstance(module, nn.MaxPool2d) and _pair(module.dilation, "dilation",
                                                              here) != 1:
                    raise ExportError(f"{here}: dilation other than 1 is not supported")
                layer.kind = (pb.LAYER_KIND_MAX_POOL if isinstance(module, nn.MaxPool2d)
                              else pb.LAYER_KIND_AVERAGE_POOL)
                layer.window, layer.stride = window, stride
                shape = _Shape(shape.channels, (shape.height - window) // stride + 1,
                               (shape.width - window) // stride + 1)
        shapes.append(shape)
    if not layers or layers[-1].kind != pb.LAYER_KIND_UNSPECIFIED:
        raise ExportError(f"{where}: a classifier ends with a Linear layer")
    if layers[-1].activation == pb.ACTIVATION_RELU:
        raise ExportError(f"{where}: the classifier's Linear gives logits (no ReLU after it)")
    layers[-1].activation = pb.ACTIVATION_SOFTMAX
    return shape, shapes


def _format_version(model, pb):
    layers = list(model.layers) + [l for e in model.exits for l in e.layers]
    if any(l.kind != pb.LAYER_KIND_UNSPECIFIED for l in layers):
        return 4
    if any(e.after_layer > model.split_after for e in model.exits):
        return 3
    if any(l.pattern == pb.PATTERN_KIND_TILE for l in layers):
        return 2
    return 1


def model_message(module, split_after, exits=None, input_shape=(28, 28),
                  input_scale=1.0 / 255, input_offset=0.0, input_range=(0.0, 255.0),
                  class_names=(), later_cuts=(), training=None):
    """The spex.v1.Model message of `module`, its model_id set. See export()."""
    pb = model_pb2()
    if isinstance(module, Network):
        if exits is not None:
            raise ExportError("a spex.Network carries its exits: pass exits=None")
        backbone, exits = module.backbone, list(module.exits)
    elif isinstance(module, nn.Sequential):
        backbone, exits = module, list(exits or [])
    else:
        raise ExportError(f"export takes a spex.Network or an nn.Sequential, not "
                          f"{type(module).__name__}")
    model = pb.Model()
    model.input.shape.extend(int(d) for d in input_shape)
    model.input.scale, model.input.offset = float(input_scale), float(input_offset)
    if input_range is not None:
        model.input.range.min, model.input.range.max = map(float, input_range)
    dims = [int(d) for d in input_shape if int(d) != 1] or [1]
    first = next((m for m in backbone if _is_layer(m)), None)
    spatial = first is not None and not isinstance(first, (SparseLinear, nn.Linear))
    if spatial:
        if len(dims) != 2:
            raise ExportError(f"input_shape {tuple(input_shape)}: a model that starts with a "
                              "convolution or a pooling reads one height x width map")
        shape = _Shape(1, dims[0], dims[1])
    else:
        shape = _Shape(int(torch.tensor(input_shape).prod()))
    with torch.no_grad():
        _, shapes = _chain(backbone, shape, "backbone", model.layers, pb)
        for number, e in enumerate(sorted(exits, key=lambda e: e.after_layer), 1):
            if not isinstance(e, Exit):
                raise ExportError(f"exit {number}: not a spex.Exit")
            if not 1 <= e.after_layer < len(model.layers):
                raise ExportError(f"exit {number}: after layer {e.after_layer}, but the "
                                  f"backbone's layers are 1 to {len(model.layers)} and the "
                                  "last is the classifier")
            branch = model.exits.add()
            branch.after_layer = e.after_layer
            branch.loss_weight = float(e.loss_weight)
            head = e.head if isinstance(e.head, nn.Sequential) else nn.Sequential(e.head)
            _chain(head, shapes[e.after_layer - 1], f"exit {number}", branch.layers, pb)
            if e.threshold is not None:
                if not 0.0 <= e.threshold <= 1.0:
                    raise ExportError(f"exit {number}: threshold {e.threshold} not in [0, 1]")
                branch.confidence = pb.CONFIDENCE_MEASURE_MAX_SOFTMAX
                branch.threshold = float(e.threshold)
    if not 1 <= split_after < len(model.layers):
        raise ExportError(f"split_after {split_after}: the cut falls after a layer from 1 to "
                          f"{len(model.layers) - 1}")
    model.split_after = split_after
    model.later_cuts.extend(later_cuts)
    model.class_names.extend(class_names)
    training = dict(training or {})
    training.setdefault("trainer", f"PyTorch {torch.__version__} (spex.export)")
    for key, value in training.items():
        if isinstance(value, (list, tuple)):
            getattr(model.training, key).extend(value)
        else:
            setattr(model.training, key, value)
    model.format_version = _format_version(model, pb)
    # The id: SHA-256 of the message serialised deterministically with the id
    # empty, exactly as spex computes it (docs/MODEL_FORMAT.md).
    model.model_id = ""
    model.model_id = hashlib.sha256(model.SerializeToString(deterministic=True)).hexdigest()
    return model


def export(module, path, split_after, exits=None, input_shape=(28, 28),
           input_scale=1.0 / 255, input_offset=0.0, input_range=(0.0, 255.0),
           class_names=(), later_cuts=(), training=None, verify=True):
    """Writes `module` to `path` as a spex model file.

    module: a spex.Network (backbone and exits), or an nn.Sequential backbone
    with `exits`, a list of spex.Exit.
    split_after: the edge runs layers 1..split_after (counted as spex does),
    the cloud the rest; later_cuts cut a chain further.
    input_shape, input_scale, input_offset: spex feeds the network
    raw * scale + offset for a raw sample of that shape (the defaults: 28x28
    pixels 0-255 scaled to [0, 1]), refusing raw values outside input_range.
    training: TrainingInfo fields to record (dataset, epochs, ...).
    verify: load the file with `spex-model verify`, exactly as the daemons
    would, and raise with its message if it does not load.

    Returns the model id."""
    model = model_message(module, split_after, exits, input_shape, input_scale,
                          input_offset, input_range, class_names, later_cuts, training)
    with open(path, "wb") as f:
        f.write(model.SerializeToString(deterministic=True))
    if verify:
        run_spex_model("verify", str(path))
    return model.model_id
