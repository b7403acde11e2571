#include "tools/onnx/onnx_file.h"

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"

namespace spex {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedInputStream;

// Parsing allocates an object per message and per string however small its
// encoding (2 bytes for an empty one), so a file of millions of empty
// entries would make the parser allocate gigabytes: they are counted on
// the raw bytes first, guided by the schema.
constexpr int64_t kMaxOnnxObjects = int64_t{1} << 20;
constexpr int kMaxOnnxDepth = 32;

absl::Status CountObjects(CodedInputStream* in, const Descriptor* type,
                          int depth, int64_t* objects) {
  if (depth > kMaxOnnxDepth) {
    return absl::InvalidArgumentError(
        absl::StrCat("messages nested more than ", kMaxOnnxDepth, " deep"));
  }
  while (const uint32_t tag = in->ReadTag()) {
    const FieldDescriptor* field =
        type->FindFieldByNumber(static_cast<int>(tag >> 3));
    if (WireFormatLite::GetTagWireType(tag) !=
        WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      if (!WireFormatLite::SkipField(in, tag)) {
        return absl::InvalidArgumentError("not an ONNX model (corrupt field)");
      }
      continue;
    }
    if (++*objects > kMaxOnnxObjects) {
      return absl::InvalidArgumentError(
          absl::StrCat("more than ", kMaxOnnxObjects, " messages and strings"));
    }
    uint32_t length = 0;
    if (!in->ReadVarint32(&length)) {
      return absl::InvalidArgumentError("not an ONNX model (truncated)");
    }
    if (field != nullptr && field->type() == FieldDescriptor::TYPE_MESSAGE) {
      const auto limit = in->PushLimit(static_cast<int>(length));
      SPEX_RETURN_IF_ERROR(
          CountObjects(in, field->message_type(), depth + 1, objects));
      if (!in->ConsumedEntireMessage() || in->BytesUntilLimit() != 0) {
        return absl::InvalidArgumentError(
            "not an ONNX model (corrupt message)");
      }
      in->PopLimit(limit);
    } else if (!in->Skip(static_cast<int>(length))) {
      return absl::InvalidArgumentError("not an ONNX model (truncated)");
    }
  }
  if (!in->ConsumedEntireMessage()) {
    return absl::InvalidArgumentError("not an ONNX model (corrupt field)");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<onnx::ModelProto> ParseOnnxModel(absl::string_view bytes) {
  if (static_cast<int64_t>(bytes.size()) > kMaxOnnxFileBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the file is ", bytes.size(), " bytes, above the importer's limit of ",
        kMaxOnnxFileBytes));
  }
  {
    CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                        static_cast<int>(bytes.size()));
    int64_t objects = 0;
    SPEX_RETURN_IF_ERROR(
        CountObjects(&in, onnx::ModelProto::descriptor(), 0, &objects));
  }
  onnx::ModelProto model;
  CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                      static_cast<int>(bytes.size()));
  in.SetRecursionLimit(kMaxOnnxDepth + 2);
  if (!model.ParseFromCodedStream(&in) || !model.has_graph()) {
    return absl::InvalidArgumentError("not an ONNX model (no graph)");
  }
  return model;
}

}  // namespace spex
