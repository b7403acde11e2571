// spex-health: asks a spex daemon's gRPC health service whether it serves,
// for container HEALTHCHECKs, Kubernetes probes and scripts (no probe
// binary is packaged in Debian). Exit status 0 when the answer is SERVING,
// 1 otherwise (not serving, unreachable, timed out), 2 on a usage error;
// one line on stdout says which.
//
//   spex-health --target=HOST:PORT|unix:PATH [--service=NAME] [--timeout_ms=N]
//               [--ca=PEM [--cert=PEM --key=PEM] [--server_name=NAME]]
//               (TLS; plain text without)
#include <chrono>
#include <cstdio>
#include <string>

#include "common/daemon/config_files.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "tools/common/args.h"

namespace spex {
namespace {

int Run(int argc, char** argv) {
  Args args;
  args.Option("target", "127.0.0.1:50051", "host:port or unix:PATH")
      .Option("service", "", "service to ask about; empty: the server")
      .Option("timeout_ms", "2000", "give up after this many milliseconds")
      .Option("ca", "", "PEM CA to verify a TLS server; empty: plain text")
      .Option("cert", "", "PEM client certificate (mutual TLS)")
      .Option("key", "", "PEM client key (mutual TLS)")
      .Option("server_name", "",
              "name the server's certificate must carry, when it is not the "
              "target's host (a probe inside the pod asks 127.0.0.1)");
  if (absl::Status status = args.Parse(argc, argv, 1); !status.ok()) {
    std::fprintf(stderr, "spex-health: %s\n\n%s",
                 std::string(status.message()).c_str(), args.Help().c_str());
    return 2;
  }
  absl::StatusOr<long> timeout = args.GetInt("timeout_ms");
  if (!timeout.ok() || *timeout < 1) {
    std::fprintf(stderr, "spex-health: --timeout_ms is a positive number\n");
    return 2;
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      grpc::InsecureChannelCredentials();
  if (!args.Get("ca").empty()) {
    grpc::SslCredentialsOptions ssl;
    for (auto [flag, field] : {std::pair{"ca", &ssl.pem_root_certs},
                               std::pair{"cert", &ssl.pem_cert_chain},
                               std::pair{"key", &ssl.pem_private_key}}) {
      if (args.Get(flag).empty()) continue;
      absl::StatusOr<std::string> pem = ReadPemFile(args.Get(flag), flag);
      if (!pem.ok()) {
        std::fprintf(stderr, "spex-health: %s\n",
                     std::string(pem.status().message()).c_str());
        return 2;
      }
      *field = *std::move(pem);
    }
    credentials = grpc::SslCredentials(ssl);
  }
  grpc::ChannelArguments channel_arguments;
  if (!args.Get("server_name").empty()) {
    channel_arguments.SetSslTargetNameOverride(args.Get("server_name"));
  }
  auto stub = grpc::health::v1::Health::NewStub(grpc::CreateCustomChannel(
      args.Get("target"), credentials, channel_arguments));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(*timeout));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(args.Get("service"));
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status status = stub->Check(&context, request, &response);
  const std::string what = args.Get("service").empty()
                               ? args.Get("target")
                               : args.Get("target") + " " + args.Get("service");
  if (!status.ok()) {
    std::printf("%s: no answer (%s)\n", what.c_str(),
                status.error_message().c_str());
    return 1;
  }
  std::printf("%s: %s\n", what.c_str(),
              grpc::health::v1::HealthCheckResponse::ServingStatus_Name(
                  response.status())
                  .c_str());
  return response.status() == grpc::health::v1::HealthCheckResponse::SERVING
             ? 0
             : 1;
}

}  // namespace
}  // namespace spex

int main(int argc, char** argv) { return spex::Run(argc, argv); }
