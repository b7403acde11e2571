// Reading an ONNX file's bytes as onnx.ModelProto (Debian's libonnx_proto)
// without letting a hostile file make the parser allocate far beyond its
// size.
#ifndef SPEX_TOOLS_ONNX_ONNX_FILE_H_
#define SPEX_TOOLS_ONNX_ONNX_FILE_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "onnx/onnx_pb.h"

namespace spex {

// A file the importer reads is at most this big (as a model file).
inline constexpr int64_t kMaxOnnxFileBytes = int64_t{128} << 20;

// InvalidArgument for a file above kMaxOnnxFileBytes, more than 1 Mi
// messages and strings or nesting deeper than 32 (counted on the raw bytes,
// guided by the schema, before parsing), or bytes that are not an ONNX
// model with a graph ("not an ONNX model (...)").
absl::StatusOr<onnx::ModelProto> ParseOnnxModel(absl::string_view bytes);

}  // namespace spex

#endif  // SPEX_TOOLS_ONNX_ONNX_FILE_H_
