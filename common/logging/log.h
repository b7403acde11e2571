// The one logger of spex: timestamped lines on stderr.
//
// Abseil 20220623 has no absl/log, and library code must not depend on a
// daemon's choice of logging backend, so this is deliberately tiny. It is
// thread-safe: each call writes one whole line with a single fwrite.
#ifndef SPEX_COMMON_LOGGING_LOG_H_
#define SPEX_COMMON_LOGGING_LOG_H_

#include "absl/strings/string_view.h"

namespace spex {

enum class LogSeverity { kInfo, kWarning, kError };

void Log(LogSeverity severity, absl::string_view message);

inline void LogInfo(absl::string_view message) {
  Log(LogSeverity::kInfo, message);
}
inline void LogWarning(absl::string_view message) {
  Log(LogSeverity::kWarning, message);
}
inline void LogError(absl::string_view message) {
  Log(LogSeverity::kError, message);
}

}  // namespace spex

#endif  // SPEX_COMMON_LOGGING_LOG_H_
