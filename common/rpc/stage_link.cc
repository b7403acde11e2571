#include "common/rpc/stage_link.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "common/daemon/config_files.h"
#include "common/status/status_macros.h"

namespace spex {

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> LinkCredentials(
    const StageLink& link, const std::string& flag_prefix) {
  const bool tls_files = !link.ca_file.empty() || !link.cert_file.empty() ||
                         !link.key_file.empty();
  if (link.plaintext) {
    if (tls_files) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "--%s_plaintext and %s TLS files were both given; choose one",
          flag_prefix, flag_prefix));
    }
    return grpc::InsecureChannelCredentials();
  }
  if (link.cert_file.empty() != link.key_file.empty()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("--%s_cert and --%s_key go together (mutual TLS)",
                        flag_prefix, flag_prefix));
  }
  const std::string ca = flag_prefix + " CA";
  const std::string cert = flag_prefix + " cert";
  const std::string key = flag_prefix + " key";
  grpc::SslCredentialsOptions ssl;
  if (!link.ca_file.empty()) {
    SPEX_ASSIGN_OR_RETURN(ssl.pem_root_certs,
                          ReadPemFile(link.ca_file, ca.c_str()));
  }
  if (!link.cert_file.empty()) {
    SPEX_ASSIGN_OR_RETURN(ssl.pem_cert_chain,
                          ReadPemFile(link.cert_file, cert.c_str()));
    SPEX_ASSIGN_OR_RETURN(ssl.pem_private_key,
                          ReadPemFile(link.key_file, key.c_str()));
  }
  return grpc::SslCredentials(ssl);
}

absl::StatusOr<std::string> LinkToken(const StageLink& link) {
  if (link.token_file.empty()) return std::string();
  SPEX_ASSIGN_OR_RETURN(std::string text,
                        ReadConfigFile(link.token_file, "token file"));
  absl::string_view token = absl::StripAsciiWhitespace(text);
  if (token.empty()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("token file '%s' is empty", link.token_file));
  }
  return std::string(token);
}

}  // namespace spex
