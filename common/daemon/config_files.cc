#include "common/daemon/config_files.h"

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "common/model/model_file.h"

namespace spex {

absl::StatusOr<std::string> ReadConfigFile(const std::string& path,
                                           const char* what) {
  constexpr int64_t kMaxConfigFileBytes = 1 << 20;
  absl::StatusOr<std::string> bytes = ReadFileBytes(path, kMaxConfigFileBytes);
  if (!bytes.ok()) {
    return absl::Status(
        bytes.status().code(),
        absl::StrFormat("%s: %s", what, bytes.status().message()));
  }
  return bytes;
}

absl::StatusOr<std::string> ReadPemFile(const std::string& path,
                                        const char* what) {
  absl::StatusOr<std::string> pem = ReadConfigFile(path, what);
  if (pem.ok() && !absl::StrContains(*pem, "-----BEGIN ")) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s '%s' is not PEM", what, path));
  }
  return pem;
}

}  // namespace spex
