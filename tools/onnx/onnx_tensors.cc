#include "tools/onnx/onnx_tensors.h"

#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status/status_macros.h"
#include "tools/onnx/onnx_nodes.h"

namespace spex {
namespace {

absl::StatusOr<int64_t> CheckedSize(const std::string& name,
                                    const std::vector<int64_t>& dims) {
  int64_t size = 1;
  for (int64_t d : dims) {
    if (d < 0 || d > kMaxOnnxTensorValues || size * d > kMaxOnnxTensorValues) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tensor '", name, "': dims [", absl::StrJoin(dims, ", "),
          "]: more than ", kMaxOnnxTensorValues, " values or a negative dim"));
    }
    size *= d;
  }
  return size;
}

template <typename T>
void AppendRaw(const std::string& raw, std::vector<double>* out) {
  const size_t n = raw.size() / sizeof(T);
  out->reserve(n);
  for (size_t i = 0; i < n; ++i) {
    T value;
    std::memcpy(&value, raw.data() + i * sizeof(T), sizeof(T));
    out->push_back(static_cast<double>(value));
  }
}

}  // namespace

absl::StatusOr<OnnxTensor> ReadOnnxTensor(const onnx::TensorProto& tensor) {
  const std::string& name = tensor.name();
  if (tensor.data_location() == onnx::TensorProto::EXTERNAL) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tensor '", name,
        "': its data is in an external file; save the model with the "
        "weights inside (onnx.save(model, f, save_as_external_data=False))"));
  }
  OnnxTensor out;
  out.dims.assign(tensor.dims().begin(), tensor.dims().end());
  SPEX_ASSIGN_OR_RETURN(const int64_t size, CheckedSize(name, out.dims));
  size_t width = 0;
  switch (tensor.data_type()) {
    case onnx::TensorProto::FLOAT:
    case onnx::TensorProto::INT32:
      width = 4;
      break;
    case onnx::TensorProto::DOUBLE:
    case onnx::TensorProto::INT64:
      width = 8;
      break;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "tensor '", name, "': data type ", tensor.data_type(), " (",
          onnx::TensorProto::DataType_Name(
              static_cast<onnx::TensorProto::DataType>(tensor.data_type())),
          ") is not supported; spex reads FLOAT, DOUBLE, INT32 and INT64"));
  }
  if (tensor.has_raw_data()) {
    if (tensor.raw_data().size() != static_cast<size_t>(size) * width) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tensor '", name, "': raw_data holds ", tensor.raw_data().size(),
          " bytes, its dims need ", size * static_cast<int64_t>(width)));
    }
    switch (tensor.data_type()) {
      case onnx::TensorProto::FLOAT:
        AppendRaw<float>(tensor.raw_data(), &out.values);
        break;
      case onnx::TensorProto::INT32:
        AppendRaw<int32_t>(tensor.raw_data(), &out.values);
        break;
      case onnx::TensorProto::DOUBLE:
        AppendRaw<double>(tensor.raw_data(), &out.values);
        break;
      default:
        AppendRaw<int64_t>(tensor.raw_data(), &out.values);
        break;
    }
  } else {
    switch (tensor.data_type()) {
      case onnx::TensorProto::FLOAT:
        out.values.assign(tensor.float_data().begin(),
                          tensor.float_data().end());
        break;
      case onnx::TensorProto::INT32:
        out.values.assign(tensor.int32_data().begin(),
                          tensor.int32_data().end());
        break;
      case onnx::TensorProto::DOUBLE:
        out.values.assign(tensor.double_data().begin(),
                          tensor.double_data().end());
        break;
      default:
        out.values.assign(tensor.int64_data().begin(),
                          tensor.int64_data().end());
        break;
    }
    if (out.size() != size) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", name, "': ", out.size(),
                       " values, its dims need ", size));
    }
  }
  return out;
}

absl::StatusOr<OnnxTensor> ReadOnnxSparseTensor(
    const onnx::SparseTensorProto& sparse) {
  const std::string name = sparse.values().name();
  OnnxTensor out;
  out.dims.assign(sparse.dims().begin(), sparse.dims().end());
  SPEX_ASSIGN_OR_RETURN(const int64_t size, CheckedSize(name, out.dims));
  SPEX_ASSIGN_OR_RETURN(const OnnxTensor values,
                        ReadOnnxTensor(sparse.values()));
  SPEX_ASSIGN_OR_RETURN(const OnnxTensor indices,
                        ReadOnnxTensor(sparse.indices()));
  const int64_t nnz = values.size();
  const int64_t rank = static_cast<int64_t>(out.dims.size());
  const bool linear = indices.dims.size() == 1 && indices.size() == nnz;
  const bool coordinates = indices.dims.size() == 2 && indices.dims[0] == nnz &&
                           indices.dims[1] == rank;
  if (!linear && !coordinates) {
    return absl::InvalidArgumentError(
        absl::StrCat("sparse tensor '", name, "': indices of dims [",
                     absl::StrJoin(indices.dims, ", "), "] for ", nnz,
                     " values; ONNX has [NNZ] or [NNZ, rank]"));
  }
  out.values.assign(static_cast<size_t>(size), 0.0);
  std::vector<bool> seen(static_cast<size_t>(size), false);
  for (int64_t k = 0; k < nnz; ++k) {
    int64_t at = 0;
    if (linear) {
      at = static_cast<int64_t>(indices.values[k]);
    } else {
      for (int64_t r = 0; r < rank; ++r) {
        const auto c = static_cast<int64_t>(indices.values[k * rank + r]);
        if (c < 0 || c >= out.dims[r]) {
          at = -1;
          break;
        }
        at = at * out.dims[r] + c;
      }
    }
    if (at < 0 || at >= size || seen[at]) {
      return absl::InvalidArgumentError(
          absl::StrCat("sparse tensor '", name, "': value ", k,
                       "'s index is out of range or repeated"));
    }
    seen[at] = true;
    out.values[at] = values.values[k];
  }
  return out;
}

OnnxInitializers::OnnxInitializers(const onnx::GraphProto& graph) {
  for (const auto& t : graph.initializer()) dense_[t.name()] = &t;
  for (const auto& s : graph.sparse_initializer()) {
    sparse_[s.values().name()] = &s;
  }
  for (const auto& node : graph.node()) {
    const onnx::AttributeProto* value = Attribute(node, "value");
    if (node.op_type() == "Constant" && node.output_size() == 1 &&
        value != nullptr && value->has_t()) {
      dense_[node.output(0)] = &value->t();
    }
  }
}

bool OnnxInitializers::Has(const std::string& name) const {
  return dense_.count(name) > 0 || sparse_.count(name) > 0;
}

absl::StatusOr<OnnxTensor> OnnxInitializers::Read(const std::string& name) {
  constexpr int64_t kMaxValuesRead = 2 * kMaxOnnxTensorValues;
  absl::StatusOr<OnnxTensor> tensor =
      absl::NotFoundError(absl::StrCat("tensor '", name, "' is not a weight"));
  if (auto d = dense_.find(name); d != dense_.end()) {
    tensor = ReadOnnxTensor(*d->second);
  } else if (auto s = sparse_.find(name); s != sparse_.end()) {
    tensor = ReadOnnxSparseTensor(*s->second);
  }
  if (!tensor.ok()) return tensor.status();
  read_ += tensor->size();
  if (read_ > kMaxValuesRead) {
    return absl::InvalidArgumentError(
        absl::StrCat("the weights hold more than ", kMaxValuesRead, " values"));
  }
  return tensor;
}

}  // namespace spex
