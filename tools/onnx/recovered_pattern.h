// A predefined-sparse pattern recovered from a trained weight's zeros: the
// way a model trained elsewhere (a dense weight under a fixed mask, or
// spex's PyTorch layers exported to ONNX) keeps its sparsity in spex.
#ifndef SPEX_TOOLS_ONNX_RECOVERED_PATTERN_H_
#define SPEX_TOOLS_ONNX_RECOVERED_PATTERN_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/sparsity/pattern.h"

namespace spex {

struct RecoveredPattern {
  // Empty: the layer is stored dense (no zeros, or --allow-dense).
  std::optional<Pattern> pattern;
  std::string found;  // what the report says, e.g. "d_in 98 of 784, tile8"
};

// `nonzero` is n_out x n_in, row-major: whether output o reads input i (for
// a convolution, whether any tap of the channel pair is nonzero). Exact
// degrees (every row the same count d_in < n_in, every column the same
// d_out) give a pattern: tile8 or tile4 when runs of 8 or 4 consecutive
// outputs read the same inputs, block when the structure is there, random
// otherwise. No zeros: dense. Other zeros: InvalidArgument with the degrees
// found, unless `allow_dense` (then dense, and `found` says so).
absl::StatusOr<RecoveredPattern> RecoverPattern(
    const std::vector<bool>& nonzero, int n_out, int n_in, bool allow_dense);

}  // namespace spex

#endif  // SPEX_TOOLS_ONNX_RECOVERED_PATTERN_H_
