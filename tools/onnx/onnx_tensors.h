// Numbers out of an ONNX file: initializers (dense, in raw_data or the typed
// fields) and sparse initializers, checked against their declared dims
// before anything is allocated, so a hostile file cannot make the importer
// allocate what its dims claim.
#ifndef SPEX_TOOLS_ONNX_ONNX_TENSORS_H_
#define SPEX_TOOLS_ONNX_ONNX_TENSORS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "onnx/onnx_pb.h"

namespace spex {

// Values of an initializer the importer reads: at most 16 Mi (a 4096 x 4096
// dense layer; a sparse initializer is made dense, so its dims count too).
inline constexpr int64_t kMaxOnnxTensorValues = int64_t{16} << 20;

struct OnnxTensor {
  std::vector<int64_t> dims;
  std::vector<double> values;  // row-major; integers exact up to 2^53
  int64_t size() const { return static_cast<int64_t>(values.size()); }
};

// A dense initializer of type FLOAT, DOUBLE, INT32 or INT64, from raw_data
// (little-endian) or the typed field. InvalidArgument naming the tensor on
// another type, external data, negative or too large dims, or a value count
// other than the dims' product.
absl::StatusOr<OnnxTensor> ReadOnnxTensor(const onnx::TensorProto& tensor);

// A sparse initializer made dense: `values` (NNZ) at `indices` (INT64,
// [NNZ] linear or [NNZ, rank] coordinates) in a tensor of `dims`, zeros
// elsewhere. InvalidArgument on indices out of range or repeated.
absl::StatusOr<OnnxTensor> ReadOnnxSparseTensor(
    const onnx::SparseTensorProto& sparse);

// A graph's weights: its initializers, sparse initializers and Constant
// nodes' values, by name, each read when first used, all within one budget
// of 2 x kMaxOnnxTensorValues values for the whole file (a file of many
// tensors cannot add up to more than that).
class OnnxInitializers {
 public:
  // REQUIRES: `graph` outlives this.
  explicit OnnxInitializers(const onnx::GraphProto& graph);

  bool Has(const std::string& name) const;
  // NotFound when `name` is not a weight; ReadOnnxTensor's or
  // ReadOnnxSparseTensor's errors; InvalidArgument past the budget.
  absl::StatusOr<OnnxTensor> Read(const std::string& name);

 private:
  std::map<std::string, const onnx::TensorProto*> dense_;
  std::map<std::string, const onnx::SparseTensorProto*> sparse_;
  int64_t read_ = 0;
};

}  // namespace spex

#endif  // SPEX_TOOLS_ONNX_ONNX_TENSORS_H_
