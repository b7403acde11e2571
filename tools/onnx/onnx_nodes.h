// An ONNX node's name and attributes, as the importer reads and names them.
#ifndef SPEX_TOOLS_ONNX_ONNX_NODES_H_
#define SPEX_TOOLS_ONNX_ONNX_NODES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "onnx/onnx_pb.h"

namespace spex {

// "node 3 'name' (OpType)": how errors name a node.
std::string NodeName(const onnx::NodeProto& node, int index);

// The attribute, or null when the node has none of that name.
const onnx::AttributeProto* Attribute(const onnx::NodeProto& node,
                                      absl::string_view name);
int64_t IntAttribute(const onnx::NodeProto& node, absl::string_view name,
                     int64_t fallback);
float FloatAttribute(const onnx::NodeProto& node, absl::string_view name,
                     float fallback);
std::vector<int64_t> IntsAttribute(const onnx::NodeProto& node,
                                   absl::string_view name);

// An INTS attribute whose entries are all one value in [low, high]
// (`fallback` when absent): spex's windows are square, strides and pads the
// same every way. InvalidArgument naming `where` and the values otherwise.
absl::StatusOr<int> UniformAttribute(const std::string& where,
                                     const onnx::NodeProto& node,
                                     absl::string_view name, int fallback,
                                     int low, int high);

}  // namespace spex

#endif  // SPEX_TOOLS_ONNX_ONNX_NODES_H_
