// libFuzzer target over the one configuration format of spex's own, the
// token file, and the check of a request's authorization metadata: the
// input is a token file's text, a NUL, then an `authorization` value.
// Parsing never crashes; the check accepts exactly the listed tokens.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "cloud_service/token_auth.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const absl::string_view text = input.substr(0, nul);
  const absl::string_view authorization = nul == absl::string_view::npos
                                              ? absl::string_view()
                                              : input.substr(nul + 1);
  absl::StatusOr<spex::TokenAuth> auth =
      spex::TokenAuth::FromText(text, "fuzz");
  if (!auth.ok()) {
    if (auth.status().message().empty()) std::abort();
    return 0;
  }
  // The reference: the listed tokens, as the file format defines them.
  bool listed = false;
  if (absl::StartsWith(authorization, "Bearer ")) {
    const absl::string_view token = authorization.substr(7);
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      line = absl::StripAsciiWhitespace(line);
      if (!line.empty() && !absl::StartsWith(line, "#") && line == token)
        listed = true;
    }
  }
  if (auth->Check(authorization).ok() != listed) std::abort();
  return 0;
}
