// ONNX -> spex: a network exported by PyTorch (or any ONNX writer) read
// with Debian's ONNX schema (libonnx_proto) and written as a spex model,
// its sparsity recovered from the weights' zeros.
//
// The graph must be a chain from its one input to each output: the
// backbone to the output that is not an exit, each exit branching off the
// backbone. Operators: Gemm, MatMul (with an Add of a bias), Add (a bias),
// Relu, Flatten, Reshape (to batch x values), Softmax (last), Identity,
// Dropout, Conv, MaxPool, AveragePool, GlobalAveragePool.
#ifndef SPEX_TOOLS_ONNX_ONNX_IMPORT_H_
#define SPEX_TOOLS_ONNX_ONNX_IMPORT_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "spex/v1/model.pb.h"

namespace spex {

struct OnnxExit {
  std::string output;              // the graph output that is the exit's logits
  int after_layer = 0;             // 1-based, counted as spex counts layers
  std::optional<float> threshold;  // max softmax; unset: uncalibrated
};

struct OnnxImportOptions {
  int split_after = 0;
  std::vector<OnnxExit> exits;
  // Raw samples are scaled to the network's input: x = raw * scale + offset;
  // raw values outside `range` are refused by the daemons.
  float input_scale = 1.0f;
  float input_offset = 0.0f;
  std::optional<std::pair<float, float>> input_range;
  // Store a layer whose zeros have no exact degrees dense instead of
  // refusing it.
  bool allow_dense = false;
  std::vector<std::string> class_names;
  std::string source;  // recorded as the trainer, e.g. the command line
};

struct OnnxImport {
  v1::Model model;  // id set; loads with Model::FromProto
  // One line per spex layer: where it came from and what was found.
  std::vector<std::string> report;
};

// InvalidArgument naming the node (its name, operator and what spex
// supports), the tensor or the option on anything spex cannot run exactly.
absl::StatusOr<OnnxImport> ImportOnnx(absl::string_view bytes,
                                      const OnnxImportOptions& options);

}  // namespace spex

#endif  // SPEX_TOOLS_ONNX_ONNX_IMPORT_H_
