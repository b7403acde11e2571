#include "common/model/model_file.h"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/types/span.h"
#include "common/hash/sha256.h"
#include "common/status/status_macros.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/wire_format_lite.h"

namespace spex {
namespace {

std::string SerializeDeterministic(const v1::Model& model) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    model.SerializeToCodedStream(&coded);
  }
  return bytes;
}

absl::Status ErrnoStatus(absl::string_view what, const std::string& path) {
  const int error = errno;
  const std::string message =
      absl::StrFormat("%s '%s': %s", what, path, std::strerror(error));
  switch (error) {
    case ENOENT:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(message);
    default:
      return absl::UnavailableError(message);
  }
}

// Feeds everything written to it into a hash, except the bytes at offsets
// [skip_begin, skip_end).
class HashingOutput : public google::protobuf::io::CopyingOutputStream {
 public:
  HashingOutput(Sha256* hash, int64_t skip_begin, int64_t skip_end)
      : hash_(hash), skip_begin_(skip_begin), skip_end_(skip_end) {}

  bool Write(const void* buffer, int size) override {
    const char* bytes = static_cast<const char*>(buffer);
    const int64_t begin = offset_;
    const int64_t end = offset_ + size;
    offset_ = end;
    // The parts of [begin, end) before and after the skipped range.
    const int64_t head_end = std::min(end, skip_begin_);
    if (head_end > begin) hash_->Update({bytes, size_t(head_end - begin)});
    const int64_t tail_begin = std::max(begin, skip_end_);
    if (end > tail_begin) {
      hash_->Update({bytes + (tail_begin - begin), size_t(end - tail_begin)});
    }
    return true;
  }

 private:
  Sha256* hash_;
  const int64_t skip_begin_;
  const int64_t skip_end_;
  int64_t offset_ = 0;
};

using WireFormat = google::protobuf::internal::WireFormatLite;

// Counts the length-delimited entries of each field number in `limits` within
// one message's bytes, without parsing it, and refuses more than the limit.
// `nested` (may be null) is called on each entry of field `nested_field`,
// whose errors it prefixes with "<nested_name> <1-based entry>: ".
struct FieldLimit {
  uint32_t field;
  int max;
  const char* name;
};

absl::Status CheckEntryCounts(
    absl::string_view bytes, absl::Span<const FieldLimit> limits,
    const std::string& context, uint32_t nested_field, const char* nested_name,
    absl::Status (*nested)(absl::string_view, const std::string&)) {
  google::protobuf::io::CodedInputStream in(
      reinterpret_cast<const uint8_t*>(bytes.data()),
      static_cast<int>(bytes.size()));
  std::vector<int> counts(limits.size(), 0);
  int nested_index = 0;
  while (true) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) break;
    const uint32_t field = WireFormat::GetTagFieldNumber(tag);
    if (WireFormat::GetTagWireType(tag) ==
        WireFormat::WIRETYPE_LENGTH_DELIMITED) {
      for (size_t i = 0; i < limits.size(); ++i) {
        if (limits[i].field == field && ++counts[i] > limits[i].max) {
          return absl::InvalidArgumentError(absl::StrFormat(
              "%s%s: more than %d entries (counted before parsing)", context,
              limits[i].name, limits[i].max));
        }
      }
      if (nested != nullptr && field == nested_field) {
        uint32_t length = 0;
        if (!in.ReadVarint32(&length)) break;  // the parser names it
        const void* data = "";
        int available = 0;
        if (length > 0 && (!in.GetDirectBufferPointer(&data, &available) ||
                           static_cast<uint32_t>(available) < length)) {
          break;  // truncated: the parser names it
        }
        SPEX_RETURN_IF_ERROR(
            nested(absl::string_view(static_cast<const char*>(data), length),
                   absl::StrFormat("%s%s %d: ", context, nested_name,
                                   ++nested_index)));
        in.Skip(static_cast<int>(length));
        continue;
      }
    }
    if (!WireFormat::SkipField(&in, tag)) break;  // the parser names it
  }
  return absl::OkStatus();
}

absl::Status CheckExitEntryCounts(absl::string_view bytes,
                                  const std::string& context) {
  static constexpr FieldLimit kExitLimits[] = {{2, kMaxExitLayers, "layers"}};
  return CheckEntryCounts(bytes, kExitLimits, context, 0, "", nullptr);
}

absl::Status CheckModelEntryCounts(absl::string_view bytes) {
  static constexpr FieldLimit kModelLimits[] = {
      {4, kMaxBackboneLayers, "layers"},
      {6, kMaxExits, "exits"},
      {7, kMaxClassNames, "class_names"}};
  return CheckEntryCounts(bytes, kModelLimits, "", 6, "exit",
                          &CheckExitEntryCounts);
}

}  // namespace

std::string ComputeModelId(const v1::Model& model) {
  // Deterministic serialisation writes fields in number order (unknown
  // fields last), so model_id, field 2, comes right after format_version,
  // field 1: its bytes are skipped rather than cleared in a copy.
  const int64_t skip_begin =
      model.format_version() == 0
          ? 0
          : 1 + WireFormat::UInt32Size(model.format_version());
  const int64_t skip_end =
      model.model_id().empty()
          ? skip_begin
          : skip_begin + 1 + WireFormat::StringSize(model.model_id());
  Sha256 hash;
  HashingOutput output(&hash, skip_begin, skip_end);
  {
    google::protobuf::io::CopyingOutputStreamAdaptor adaptor(&output);
    {
      google::protobuf::io::CodedOutputStream coded(&adaptor);
      coded.SetSerializationDeterministic(true);
      model.SerializeToCodedStream(&coded);
    }
    adaptor.Flush();
  }
  const std::array<uint8_t, 32> digest = hash.Finish();
  return absl::BytesToHexString(absl::string_view(
      reinterpret_cast<const char*>(digest.data()), digest.size()));
}

std::string SerializeModel(v1::Model* model) {
  model->clear_model_id();
  model->set_model_id(Sha256Hex(SerializeDeterministic(*model)));
  return SerializeDeterministic(*model);
}

absl::StatusOr<v1::Model> ParseModel(absl::string_view bytes) {
  if (static_cast<int64_t>(bytes.size()) > kMaxModelFileBytes) {
    return absl::InvalidArgumentError(
        absl::StrFormat("model is %d bytes, more than the limit of %d",
                        bytes.size(), kMaxModelFileBytes));
  }
  if (bytes.empty()) return absl::InvalidArgumentError("model is empty");
  SPEX_RETURN_IF_ERROR(CheckModelEntryCounts(bytes));
  v1::Model model;
  google::protobuf::io::ArrayInputStream stream(bytes.data(),
                                                static_cast<int>(bytes.size()));
  google::protobuf::io::CodedInputStream coded(&stream);
  // Layers nest two deep; a deeper message is not a model.
  coded.SetRecursionLimit(8);
  if (!model.ParseFromCodedStream(&coded) || !coded.ConsumedEntireMessage()) {
    return absl::InvalidArgumentError(
        "not a spex model: the bytes do not parse as spex.v1.Model "
        "(truncated or corrupt file?)");
  }
  SPEX_RETURN_IF_ERROR(CheckFormatVersion(model));
  return model;
}

uint32_t MinimumFormatVersion(const v1::Model& model) {
  const auto has_tile = [](const auto& layers) {
    for (const v1::Layer& layer : layers) {
      if (layer.pattern() == v1::PATTERN_KIND_TILE) return true;
    }
    return false;
  };
  const auto has_kind = [](const auto& layers) {
    for (const v1::Layer& layer : layers) {
      if (layer.kind() != v1::LAYER_KIND_UNSPECIFIED) return true;
    }
    return false;
  };
  bool tile = has_tile(model.layers());
  bool kinds = has_kind(model.layers());
  bool later_exit = false;
  for (const v1::ExitBranch& exit : model.exits()) {
    tile = tile || has_tile(exit.layers());
    kinds = kinds || has_kind(exit.layers());
    later_exit = later_exit || exit.after_layer() > model.split_after();
  }
  const bool feature_factors = model.input().feature_scale_size() != 0 ||
                               model.input().feature_offset_size() != 0;
  return feature_factors ? 5 : kinds ? 4 : later_exit ? 3 : tile ? 2 : 1;
}

absl::Status CheckFormatVersion(const v1::Model& model) {
  if (model.format_version() == 0) {
    return absl::InvalidArgumentError(
        "format_version: missing (0); not a spex model file");
  }
  if (model.format_version() < kOldestModelFormatVersion ||
      model.format_version() > kModelFormatVersion) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "format_version: %d is not supported; this build reads versions %d "
        "to %d",
        model.format_version(), kOldestModelFormatVersion,
        kModelFormatVersion));
  }
  const uint32_t needed = MinimumFormatVersion(model);
  if (model.format_version() < needed) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "format_version: %d, but the model has %s, which version %d added",
        model.format_version(),
        needed == 5   ? "per-feature input factors"
        : needed == 4 ? "convolution or pooling layers"
        : needed == 3 ? "an exit after split_after"
                      : "tile patterns",
        needed));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFileBytes(const std::string& path,
                                          int64_t max_bytes) {
  struct stat info;
  if (::stat(path.c_str(), &info) != 0) return ErrnoStatus("cannot open", path);
  if (!S_ISREG(info.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("'%s' is not a regular file", path));
  }
  if (info.st_size > max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrFormat("'%s' is %d bytes, more than the limit of %d", path,
                        static_cast<int64_t>(info.st_size), max_bytes));
  }
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return ErrnoStatus("cannot open", path);
  std::string bytes(static_cast<size_t>(info.st_size), '\0');
  const size_t read = std::fread(bytes.data(), 1, bytes.size(), file);
  const bool failed = std::ferror(file) != 0;
  std::fclose(file);
  if (failed || read != bytes.size()) {
    return absl::DataLossError(
        absl::StrFormat("'%s': read %d of %d bytes", path, read, bytes.size()));
  }
  return bytes;
}

absl::StatusOr<v1::Model> ReadModelFile(const std::string& path) {
  absl::StatusOr<std::string> bytes = ReadFileBytes(path, kMaxModelFileBytes);
  if (!bytes.ok()) return bytes.status();
  absl::StatusOr<v1::Model> model = ParseModel(*bytes);
  if (!model.ok()) {
    return absl::Status(model.status().code(),
                        absl::StrCat(path, ": ", model.status().message()));
  }
  return model;
}

absl::Status WriteModelFile(const std::string& path, v1::Model* model) {
  const std::string bytes = SerializeModel(model);
  const std::string temporary = path + ".tmp";
  std::FILE* file = std::fopen(temporary.c_str(), "wb");
  if (file == nullptr) return ErrnoStatus("cannot create", temporary);
  const size_t written = std::fwrite(bytes.data(), 1, bytes.size(), file);
  const bool failed = std::fclose(file) != 0 || written != bytes.size();
  if (failed) {
    std::remove(temporary.c_str());
    return absl::DataLossError(
        absl::StrFormat("cannot write '%s' (disk full?)", temporary));
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    absl::Status status = ErrnoStatus("cannot rename to", path);
    std::remove(temporary.c_str());
    return status;
  }
  return absl::OkStatus();
}

}  // namespace spex
