// The small files a daemon reads at start (certificates, keys, tokens), with
// errors that say which file is meant: "TLS key: cannot open '/x': ...".
#ifndef SPEX_COMMON_DAEMON_CONFIG_FILES_H_
#define SPEX_COMMON_DAEMON_CONFIG_FILES_H_

#include <string>

#include "absl/status/statusor.h"

namespace spex {

// A whole file of at most 1 MiB; errors start with `what`.
absl::StatusOr<std::string> ReadConfigFile(const std::string& path,
                                           const char* what);

// The same, and InvalidArgument unless it holds a PEM block.
absl::StatusOr<std::string> ReadPemFile(const std::string& path,
                                        const char* what);

}  // namespace spex

#endif  // SPEX_COMMON_DAEMON_CONFIG_FILES_H_
