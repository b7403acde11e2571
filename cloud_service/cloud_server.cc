#include "cloud_service/cloud_server.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "cloud_service/cloud_metrics.h"
#include "cloud_service/directory_watcher.h"
#include "cloud_service/model_registry.h"
#include "cloud_service/oip_service.h"
#include "cloud_service/split_inference_service.h"
#include "cloud_service/stage_client_pool.h"
#include "cloud_service/token_auth.h"
#include "common/daemon/config_files.h"
#include "common/logging/log.h"
#include "common/metrics/metric_helpers.h"
#include "common/model/model_file.h"
#include "common/rpc/stream_window.h"
#include "common/status/status_macros.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/resource_quota.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "prometheus/exposer.h"

namespace spex {
namespace {

// How long gRPC may take, once nothing is in flight, to send the last frames
// before shutdown closes the connections.
constexpr absl::Duration kFlushGrace = absl::Milliseconds(200);

constexpr int kMaxStreamsPerConnection = 256;

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(
    const CloudServerOptions& options) {
  const bool tls = !options.tls_cert_file.empty() ||
                   !options.tls_key_file.empty() ||
                   !options.tls_client_ca_file.empty();
  if (options.plaintext) {
    if (tls) {
      return absl::InvalidArgumentError(
          "--plaintext and TLS files were both given; choose one");
    }
    return grpc::InsecureServerCredentials();
  }
  if (options.tls_cert_file.empty() || options.tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        "no transport security chosen: give --tls_cert and --tls_key (and "
        "--tls_client_ca for mutual TLS), or --plaintext explicitly");
  }
  SPEX_ASSIGN_OR_RETURN(std::string cert,
                        ReadPemFile(options.tls_cert_file, "TLS certificate"));
  SPEX_ASSIGN_OR_RETURN(std::string key,
                        ReadPemFile(options.tls_key_file, "TLS key"));
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({std::move(key), std::move(cert)});
  if (!options.tls_client_ca_file.empty()) {
    SPEX_ASSIGN_OR_RETURN(
        ssl.pem_root_certs,
        ReadPemFile(options.tls_client_ca_file, "TLS client CA"));
    ssl.client_certificate_request =
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(ssl);
}

}  // namespace

struct CloudServer::State {
  CloudServerOptions options;
  std::unique_ptr<CloudMetrics> metrics;
  std::unique_ptr<prometheus::Exposer> exposer;
  std::unique_ptr<TokenAuth> auth;
  std::unique_ptr<ModelRegistry> registry;
  std::unique_ptr<CloudCore> core;
  // Declared after the core, so destroyed before it: offloads still
  // pending then fall back through the core.
  std::unique_ptr<StageClientPool> next;
  std::unique_ptr<SplitInferenceService> split_service;
  std::unique_ptr<OipService> oip_service;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<DirectoryWatcher> watcher;
  int port = 0;
  absl::Mutex shutdown_mutex;
  bool shut_down ABSL_GUARDED_BY(shutdown_mutex) = false;
};

absl::StatusOr<std::unique_ptr<CloudServer>> CloudServer::Start(
    const CloudServerOptions& options) {
  auto state = std::make_unique<State>();
  state->options = options;
  state->metrics = std::make_unique<CloudMetrics>(
      options.version, !options.next_endpoints.empty());
  SPEX_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials,
                        Credentials(options));
  if (!options.token_file.empty()) {
    SPEX_ASSIGN_OR_RETURN(TokenAuth auth,
                          TokenAuth::FromFile(options.token_file));
    state->auth = std::make_unique<TokenAuth>(std::move(auth));
  }
  if (options.model_dir.empty()) {
    return absl::InvalidArgumentError("--model_dir is required");
  }
  SPEX_ASSIGN_OR_RETURN(state->registry,
                        ModelRegistry::Create(options.model_dir, options.model,
                                              state->metrics.get()));
  if (!options.metrics_address.empty()) {
    SPEX_ASSIGN_OR_RETURN(state->exposer,
                          StartMetricsExposer(options.metrics_address,
                                              state->metrics->registry()));
  }
  if (!options.next_endpoints.empty()) {
    StageClientOptions next = options.next;
    next.endpoints = options.next_endpoints;
    SPEX_ASSIGN_OR_RETURN(next.credentials,
                          LinkCredentials(options.next_link, "next"));
    SPEX_ASSIGN_OR_RETURN(next.token, LinkToken(options.next_link));
    state->next = std::make_unique<StageClientPool>(next, state->metrics.get());
  }
  state->core =
      std::make_unique<CloudCore>(options.core, state->registry.get(),
                                  state->metrics.get(), state->next.get());
  state->split_service = std::make_unique<SplitInferenceService>(
      state->core.get(), state->auth.get());
  state->oip_service = std::make_unique<OipService>(
      state->core.get(), state->auth.get(), options.version);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  // Without this a second server could bind the same port (SO_REUSEPORT)
  // and "port taken" would go unnoticed.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Edge agents keep long-lived streams and may ping to keep them alive.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  // Memory stays bounded whatever clients do: streams per connection are
  // capped (each holds at most one unread message and kMaxInflightPerStream
  // requests), and gRPC's own buffers draw from a fixed quota.
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                             kMaxStreamsPerConnection);
  grpc::ResourceQuota quota("spex-cloud");
  quota.Resize(static_cast<size_t>(options.grpc_memory_bytes));
  builder.SetResourceQuota(quota);
  FixStreamWindow(&builder);
  builder.AddListeningPort(options.listen_address, credentials, &state->port);
  builder.RegisterService(state->split_service.get());
  builder.RegisterService(state->oip_service.get());
  state->server = builder.BuildAndStart();
  if (state->server == nullptr || state->port == 0) {
    return absl::UnavailableError(absl::StrFormat(
        "cannot listen on %s (port taken, bad address, or a TLS certificate "
        "and key that do not match)",
        options.listen_address));
  }
  std::unique_ptr<CloudServer> server(new CloudServer(std::move(state)));
  server->UpdateHealth();
  server->ConnectNextStage();
  if (options.reload_debounce > absl::ZeroDuration()) {
    CloudServer* raw = server.get();
    SPEX_ASSIGN_OR_RETURN(
        server->state_->watcher,
        DirectoryWatcher::Start(options.model_dir, options.reload_debounce,
                                [raw] { (void)raw->Reload(); }));
  }
  return server;
}

CloudServer::CloudServer(std::unique_ptr<State> state)
    : state_(std::move(state)) {}

CloudServer::~CloudServer() { Shutdown(); }

int CloudServer::port() const { return state_->port; }

int CloudServer::metrics_port() const {
  if (state_->exposer == nullptr) return 0;
  const std::vector<int> ports = state_->exposer->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

absl::Status CloudServer::Reload() {
  absl::Status status = state_->registry->Reload();
  if (!status.ok()) LogError(status.message());
  UpdateHealth();
  ConnectNextStage();
  return status;
}

void CloudServer::ConnectNextStage() {
  if (state_->next == nullptr) return;
  // Connecting before the first request: the model check takes a round
  // trip, and samples that come meanwhile would fall back.
  for (const ServedModel& model : state_->registry->Snapshot()->all()) {
    state_->next->For(model.model->id());
  }
}

void CloudServer::UpdateHealth() {
  absl::MutexLock lock(&state_->shutdown_mutex);
  if (state_->shut_down) return;
  const bool ready = state_->core->Ready();
  grpc::HealthCheckServiceInterface* health =
      state_->server->GetHealthCheckService();
  health->SetServingStatus(ready);
  health->SetServingStatus("spex.v1.SplitInference", ready);
  health->SetServingStatus("inference.GRPCInferenceService", ready);
}

void CloudServer::Shutdown() {
  {
    absl::MutexLock lock(&state_->shutdown_mutex);
    if (state_->shut_down) return;
    state_->shut_down = true;
  }
  state_->watcher.reset();
  // NOT_SERVING first, so load balancers and probes stop sending here;
  // requests that still come are refused with UNAVAILABLE, and open streams
  // end once they have answered what they hold.
  state_->server->GetHealthCheckService()->Shutdown();
  state_->core->BeginDrain();
  state_->split_service->Drain();
  const absl::Time deadline = absl::Now() + state_->options.drain_timeout;
  const bool drained =
      state_->core->WaitUntilIdle(deadline) &&
      state_->split_service->WaitUntilStreamsFinished(deadline);
  if (!drained) {
    LogWarning("drain timeout: cancelling the calls still open");
  }
  // Only idle connections (and calls past the timeout) remain: gRPC would
  // wait for idle clients to hang up, so a short grace lets the last frames
  // go out and then closes them.
  state_->server->Shutdown(absl::ToChronoTime(absl::Now() + kFlushGrace));
  state_->server->Wait();
}

}  // namespace spex
