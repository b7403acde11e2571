// Transport security and tokens on the real binary: bearer tokens (health
// stays open for probes), TLS and mutual TLS with certificates made by
// openssl at test time, and start-up refusals that name the problem.
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "spex/v1/split_inference.grpc.pb.h"
#include "tests/cloud_service/cloud_test_support.h"
#include "tests/integration/daemon_process.h"
#include "tests/support/test_certificates.h"
#include "tests/tools/run_tool.h"

namespace spex {
namespace {

using ::testing::HasSubstr;

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::shared_ptr<grpc::ChannelCredentials> TlsCredentials(
    const std::string& client_cert = "", const std::string& client_key = "",
    const std::string& ca = "ca.pem") {
  const TestCertificates& c = Certificates();
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = ReadText(c.Path(ca));
  if (!client_cert.empty()) {
    options.pem_cert_chain = ReadText(c.Path(client_cert));
    options.pem_private_key = ReadText(c.Path(client_key));
  }
  return grpc::SslCredentials(options);
}

grpc::Status GetInfo(const std::shared_ptr<grpc::Channel>& channel,
                     const std::string& token = "") {
  auto stub = v1::SplitInference::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
  v1::GetModelInfoResponse response;
  return stub->GetModelInfo(&context, {}, &response);
}

TEST(CloudSecurityTest, TokensAreRequiredExceptForHealth) {
  const std::string tokens = testing::TempDir() + "/cloud_tokens.txt";
  std::ofstream(tokens) << "edge-fleet-token\n";
  CloudProcess server(SPEX_CLOUD_BINARY, testing::TempDir(),
                      {"--plaintext", "--token_file=" + tokens,
                       "--model_dir=" + ModelDirWithDefaultModel("tokens")});
  ASSERT_TRUE(server.ok()) << server.log();
  grpc::Status status = GetInfo(server.Channel());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(status.error_message(), HasSubstr("missing"));
  status = GetInfo(server.Channel(), "wrong-token");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(GetInfo(server.Channel(), "edge-fleet-token").ok());

  // A stream without the token ends at once with UNAUTHENTICATED.
  auto stub = v1::SplitInference::NewStub(server.Channel());
  grpc::ClientContext context;
  auto stream = stub->InferStream(&context);
  v1::InferResponse response;
  EXPECT_FALSE(stream->Read(&response));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);

  auto health = grpc::health::v1::Health::NewStub(server.Channel());
  grpc::ClientContext health_context;
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse health_response;
  ASSERT_TRUE(health->Check(&health_context, request, &health_response).ok());
  EXPECT_EQ(health_response.status(),
            grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST(CloudSecurityTest, TlsServesTrustingClientsOnly) {
  const TestCertificates& c = Certificates();
  CloudProcess server(SPEX_CLOUD_BINARY, testing::TempDir(),
                      {"--tls_cert=" + c.Path("server.pem"),
                       "--tls_key=" + c.Path("server.key"),
                       "--model_dir=" + ModelDirWithDefaultModel("tls")});
  ASSERT_TRUE(server.ok()) << server.log();
  EXPECT_TRUE(GetInfo(server.Channel(TlsCredentials())).ok());
  // A client that trusts another CA, and a plain-text client, get nothing.
  EXPECT_EQ(GetInfo(server.Channel(TlsCredentials("", "", "other-ca.pem")))
                .error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(GetInfo(server.Channel()).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

// A probe inside the pod asks 127.0.0.1, while the certificate names the
// service: spex-health --server_name says which name to verify.
TEST(CloudSecurityTest, HealthProbeVerifiesTheServiceName) {
  const TestCertificates& c = Certificates();
  CloudProcess server(
      SPEX_CLOUD_BINARY, testing::TempDir(),
      {"--tls_cert=" + c.Path("named.pem"), "--tls_key=" + c.Path("named.key"),
       "--model_dir=" + ModelDirWithDefaultModel("named")});
  ASSERT_TRUE(server.ok()) << server.log();
  const std::string probe = "--timeout_ms=1500 --ca=" + c.Path("ca.pem") +
                            " --target=" + server.address();
  ToolRun wrong_name = RunTool(SPEX_HEALTH_BINARY, probe);
  EXPECT_EQ(wrong_name.exit_code, 1) << wrong_name.output;
  ToolRun named =
      RunTool(SPEX_HEALTH_BINARY, probe + " --server_name=spex-cloud.spex.svc");
  EXPECT_EQ(named.exit_code, 0) << named.output;
  EXPECT_THAT(named.output, HasSubstr("SERVING"));
}

TEST(CloudSecurityTest, MutualTlsNeedsAClientCertificateFromTheCa) {
  const TestCertificates& c = Certificates();
  CloudProcess server(SPEX_CLOUD_BINARY, testing::TempDir(),
                      {"--tls_cert=" + c.Path("server.pem"),
                       "--tls_key=" + c.Path("server.key"),
                       "--tls_client_ca=" + c.Path("ca.pem"),
                       "--model_dir=" + ModelDirWithDefaultModel("mtls")});
  ASSERT_TRUE(server.ok()) << server.log();
  EXPECT_TRUE(
      GetInfo(server.Channel(TlsCredentials("client.pem", "client.key"))).ok());
  EXPECT_FALSE(GetInfo(server.Channel(TlsCredentials())).ok());
  EXPECT_FALSE(
      GetInfo(server.Channel(TlsCredentials("stranger.pem", "stranger.key")))
          .ok());
}

TEST(CloudSecurityTest, StartupErrorsAreOneLineAndNonZero) {
  const TestCertificates& c = Certificates();
  const std::string models = ModelDirWithDefaultModel("startup");
  struct Case {
    std::vector<std::string> flags;
    std::string message;
  };
  const std::string not_pem = testing::TempDir() + "/not.pem";
  std::ofstream(not_pem) << "hello";
  const std::vector<Case> cases = {
      {{"--model_dir=" + models}, "no transport security chosen"},
      {{"--plaintext", "--model_dir=/nonexistent"},
       "model directory '/nonexistent'"},
      {{"--tls_cert=" + not_pem, "--tls_key=" + c.Path("server.key"),
        "--model_dir=" + models},
       "is not PEM"},
      {{"--tls_cert=" + c.Path("server.pem"),
        "--tls_key=" + c.Path("client.key"), "--model_dir=" + models},
       "cannot listen"},
      {{"--plaintext", "--token_file=/nonexistent", "--model_dir=" + models},
       "token file"},
  };
  for (const Case& test_case : cases) {
    CloudProcess server(SPEX_CLOUD_BINARY, testing::TempDir(), test_case.flags);
    EXPECT_FALSE(server.ok());
    EXPECT_EQ(server.WaitForExit(), 1) << server.log();
    EXPECT_THAT(server.log(), HasSubstr(test_case.message));
  }
  // A port already taken.
  CloudProcess first(SPEX_CLOUD_BINARY, testing::TempDir(),
                     {"--plaintext", "--model_dir=" + models});
  ASSERT_TRUE(first.ok()) << first.log();
  CloudProcess second(SPEX_CLOUD_BINARY, testing::TempDir(),
                      {"--plaintext", "--model_dir=" + models,
                       "--listen=127.0.0.1:" + std::to_string(first.port())});
  EXPECT_FALSE(second.ok());
  EXPECT_EQ(second.WaitForExit(), 1);
  EXPECT_THAT(second.log(), HasSubstr("cannot listen on 127.0.0.1:"));
}

}  // namespace
}  // namespace spex

namespace spex {
namespace {

TEST(CloudCommandLineTest, HelpExplainsEachFlagAndFlagfilesWork) {
  const std::string help = RunTool(SPEX_CLOUD_BINARY, "--help").output;
  for (const char* flag : {"--model_dir",
                           "--listen",
                           "--metrics_listen",
                           "--plaintext",
                           "--tls_cert",
                           "--tls_key",
                           "--tls_client_ca",
                           "--token_file",
                           "--workers",
                           "--batch_window",
                           "--max_queued_samples",
                           "--max_samples_per_request",
                           "--max_message_bytes",
                           "--reload_debounce",
                           "--drain_timeout",
                           "--port_file",
                           "--stage",
                           "--next",
                           "--next_plaintext",
                           "--next_ca",
                           "--next_cert",
                           "--next_key",
                           "--next_token_file",
                           "--next_deadline",
                           "--fallback",
                           "--threshold",
                           "--encoding"}) {
    EXPECT_THAT(help, HasSubstr(std::string(flag) + " (")) << flag;
  }
  const std::string flagfile = testing::TempDir() + "/cloud.flags";
  std::ofstream(flagfile) << "--plaintext\n--model_dir="
                          << ModelDirWithDefaultModel("flagfile") << "\n";
  CloudProcess server(SPEX_CLOUD_BINARY, testing::TempDir(),
                      {"--flagfile=" + flagfile});
  ASSERT_TRUE(server.ok()) << server.log();
  EXPECT_TRUE(GetInfo(server.Channel()).ok());
}

}  // namespace
}  // namespace spex
