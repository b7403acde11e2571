// Bearer tokens: the set of tokens a server accepts, read from a file (one
// token per line; blank lines and lines starting with '#' ignored), and the
// check of a request's `authorization: Bearer <token>` metadata.
//
// Tokens are compared by their SHA-256 digests in constant time, so neither
// a token's content nor its length leaks through timing.
#ifndef SPEX_CLOUD_SERVICE_TOKEN_AUTH_H_
#define SPEX_CLOUD_SERVICE_TOKEN_AUTH_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace spex {

class TokenAuth {
 public:
  // InvalidArgument / NotFound naming the file when it cannot be read or
  // holds no token.
  static absl::StatusOr<TokenAuth> FromFile(const std::string& path);
  // The same for a file's text; `source` names it in errors.
  static absl::StatusOr<TokenAuth> FromText(absl::string_view text,
                                            absl::string_view source);
  static TokenAuth FromTokens(const std::vector<std::string>& tokens);

  // `authorization` is the metadata value ("Bearer <token>"), empty when
  // absent. Unauthenticated, never naming the token, when it does not match.
  absl::Status Check(absl::string_view authorization) const;

 private:
  std::vector<std::array<uint8_t, 32>> digests_;
};

}  // namespace spex

#endif  // SPEX_CLOUD_SERVICE_TOKEN_AUTH_H_
