// How a stage reaches its next stage securely: the transport (plain text
// only when asked for, else TLS with an optional CA bundle and client
// certificate) and the bearer token. spex-edge's --cloud_* flags and
// spex-cloud's --next_* flags both fill a StageLink.
#ifndef SPEX_COMMON_RPC_STAGE_LINK_H_
#define SPEX_COMMON_RPC_STAGE_LINK_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/security/credentials.h"

namespace spex {

struct StageLink {
  bool plaintext = false;
  std::string ca_file;    // empty: the system's roots
  std::string cert_file;  // with key_file: mutual TLS
  std::string key_file;
  std::string token_file;  // empty: no token
};

// The channel credentials `link` asks for. InvalidArgument when plain text
// and TLS files are both given, or a certificate comes without its key;
// errors name the flags as `--<flag_prefix>_plaintext` and so on, and the
// file when one cannot be read.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> LinkCredentials(
    const StageLink& link, const std::string& flag_prefix);

// The token in `link.token_file`, trimmed; empty when none is configured.
// InvalidArgument when the file is empty.
absl::StatusOr<std::string> LinkToken(const StageLink& link);

}  // namespace spex

#endif  // SPEX_COMMON_RPC_STAGE_LINK_H_
