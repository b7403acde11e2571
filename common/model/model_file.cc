#include "common/model/model_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/hash/sha256.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

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

}  // namespace

std::string ComputeModelId(const v1::Model& model) {
  if (model.model_id().empty()) return Sha256Hex(SerializeDeterministic(model));
  v1::Model copy = model;
  copy.clear_model_id();
  return Sha256Hex(SerializeDeterministic(copy));
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
  if (model.format_version() == 0) {
    return absl::InvalidArgumentError(
        "format_version: missing (0); not a spex model file");
  }
  if (model.format_version() != kModelFormatVersion) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "format_version: %d is not supported; this build reads version %d",
        model.format_version(), kModelFormatVersion));
  }
  return model;
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
    return absl::DataLossError(absl::StrFormat(
        "'%s': read %d of %d bytes", path, read, bytes.size()));
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
