#include "cloud_service/token_auth.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/daemon/config_files.h"
#include "common/hash/sha256.h"

namespace spex {
namespace {

std::array<uint8_t, 32> Digest(absl::string_view token) {
  Sha256 hash;
  hash.Update(token);
  return hash.Finish();
}

}  // namespace

absl::StatusOr<TokenAuth> TokenAuth::FromFile(const std::string& path) {
  absl::StatusOr<std::string> bytes = ReadConfigFile(path, "token file");
  if (!bytes.ok()) return bytes.status();
  return FromText(*bytes, path);
}

absl::StatusOr<TokenAuth> TokenAuth::FromText(absl::string_view text,
                                              absl::string_view source) {
  std::vector<std::string> tokens;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || absl::StartsWith(line, "#")) continue;
    tokens.emplace_back(line);
  }
  if (tokens.empty()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("token file '%s' holds no token", source));
  }
  return FromTokens(tokens);
}

TokenAuth TokenAuth::FromTokens(const std::vector<std::string>& tokens) {
  TokenAuth auth;
  for (const std::string& token : tokens)
    auth.digests_.push_back(Digest(token));
  return auth;
}

absl::Status TokenAuth::Check(absl::string_view authorization) const {
  constexpr absl::string_view kBearer = "Bearer ";
  if (authorization.empty()) {
    return absl::UnauthenticatedError(
        "missing 'authorization: Bearer <token>' metadata");
  }
  if (!absl::StartsWith(authorization, kBearer)) {
    return absl::UnauthenticatedError(
        "the 'authorization' metadata is not 'Bearer <token>'");
  }
  const std::array<uint8_t, 32> presented =
      Digest(authorization.substr(kBearer.size()));
  // Every accepted digest is compared in full, whatever matches.
  uint8_t matched = 0;
  for (const auto& digest : digests_) {
    uint8_t difference = 0;
    for (size_t i = 0; i < digest.size(); ++i) {
      difference |= digest[i] ^ presented[i];
    }
    matched |= static_cast<uint8_t>(difference == 0);
  }
  if (matched == 0) return absl::UnauthenticatedError("invalid bearer token");
  return absl::OkStatus();
}

}  // namespace spex
