// Writing a whole text file (reports, CSV, SVG) with an error that names it.
#ifndef SPEX_TOOLS_COMMON_TEXT_FILE_H_
#define SPEX_TOOLS_COMMON_TEXT_FILE_H_

#include <string>

#include "absl/status/status.h"

namespace spex {

absl::Status WriteTextFile(const std::string& path, const std::string& text);

}  // namespace spex

#endif  // SPEX_TOOLS_COMMON_TEXT_FILE_H_
