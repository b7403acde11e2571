#include "common/logging/log.h"

#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace spex {
namespace {

char SeverityLetter(LogSeverity severity) {
  switch (severity) {
    case LogSeverity::kInfo:
      return 'I';
    case LogSeverity::kWarning:
      return 'W';
    case LogSeverity::kError:
      return 'E';
  }
  return '?';
}

}  // namespace

void Log(LogSeverity severity, absl::string_view message) {
  const std::string line =
      absl::StrCat(std::string(1, SeverityLetter(severity)),
                   absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ ", absl::Now(),
                                    absl::UTCTimeZone()),
                   message, "\n");
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace spex
