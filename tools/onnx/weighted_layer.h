// A spex layer's connections from a dense weight tensor: the pattern
// recovered from its zeros (RecoverPattern), the weights in the model
// file's order, the biases.
#ifndef SPEX_TOOLS_ONNX_WEIGHTED_LAYER_H_
#define SPEX_TOOLS_ONNX_WEIGHTED_LAYER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "spex/v1/model.pb.h"

namespace spex {

// `w` is n_out x n_in x taps, row-major (taps = window^2 for a convolution,
// 1 for a fully connected layer); `bias` n_out values. Sets the layer's
// widths, degrees, pattern (or dense), weights, biases and an identity
// activation; returns what RecoverPattern found, for the report.
// InvalidArgument as RecoverPattern's when the zeros have no exact degrees
// and `allow_dense` is false.
absl::StatusOr<std::string> FillWeightedLayer(const std::vector<double>& w,
                                              const std::vector<double>& bias,
                                              int n_out, int n_in, int taps,
                                              bool allow_dense,
                                              v1::Layer* layer);

}  // namespace spex

#endif  // SPEX_TOOLS_ONNX_WEIGHTED_LAYER_H_
