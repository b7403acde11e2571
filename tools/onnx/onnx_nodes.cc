#include "tools/onnx/onnx_nodes.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace spex {

std::string NodeName(const onnx::NodeProto& node, int index) {
  return absl::StrFormat("node %d '%s' (%s)", index, node.name(),
                         node.op_type());
}

const onnx::AttributeProto* Attribute(const onnx::NodeProto& node,
                                      absl::string_view name) {
  for (const auto& a : node.attribute()) {
    if (a.name() == name) return &a;
  }
  return nullptr;
}

int64_t IntAttribute(const onnx::NodeProto& node, absl::string_view name,
                     int64_t fallback) {
  const onnx::AttributeProto* a = Attribute(node, name);
  return a != nullptr ? a->i() : fallback;
}

float FloatAttribute(const onnx::NodeProto& node, absl::string_view name,
                     float fallback) {
  const onnx::AttributeProto* a = Attribute(node, name);
  return a != nullptr ? a->f() : fallback;
}

std::vector<int64_t> IntsAttribute(const onnx::NodeProto& node,
                                   absl::string_view name) {
  const onnx::AttributeProto* a = Attribute(node, name);
  if (a == nullptr) return {};
  return std::vector<int64_t>(a->ints().begin(), a->ints().end());
}

absl::StatusOr<int> UniformAttribute(const std::string& where,
                                     const onnx::NodeProto& node,
                                     absl::string_view name, int fallback,
                                     int low, int high) {
  const std::vector<int64_t> values = IntsAttribute(node, name);
  if (values.empty()) return fallback;
  for (int64_t v : values) {
    if (v != values[0] || v < low || v > high) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": ", name, " [", absl::StrJoin(values, ", "),
          "]: spex needs the same value every way, from ", low, " to ", high));
    }
  }
  return static_cast<int>(values[0]);
}

}  // namespace spex
