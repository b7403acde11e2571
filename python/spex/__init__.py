"""spex for PyTorch: train predefined-sparse networks on spex's own
connection patterns and write them as .spex model files.

    import spex
    net = spex.Network(nn.Sequential(
        spex.SparseConv2d(1, 16, 3, fan_out=8, padding=1, seed=1), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(), spex.SparseLinear(16 * 14 * 14, 10, fan_out=5, seed=2)),
        exits=[spex.Exit(after_layer=2, head=nn.Sequential(nn.Flatten(), nn.Linear(3136, 10)))])
    ...train...
    spex.export(net, "model.spex", split_after=2)

The patterns come from spex itself (`spex-model pattern`), found as
$SPEX_MODEL, on the PATH, or in a checkout's build; the file schema from
proto/spex/v1/model.proto (compiled by protoc once, into ~/.cache)."""
from .export import ExportError, export, layer_boundaries, model_message
from .layers import Exit, Network, SparseConv2d, SparseLinear
from .patterns import KINDS, Pattern, pattern

__all__ = ["Exit", "ExportError", "KINDS", "Network", "Pattern", "SparseConv2d",
           "SparseLinear", "export", "layer_boundaries", "model_message", "pattern"]
