#include "edge_agent/edge_server.h"

#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "common/logging/log.h"
#include "common/metrics/metric_helpers.h"
#include "common/model/model_file.h"
#include "common/rpc/stream_window.h"
#include "common/status/status_macros.h"
#include "edge_agent/edge_metrics.h"
#include "edge_agent/edge_service.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "prometheus/exposer.h"

namespace spex {
namespace {

constexpr absl::Duration kFlushGrace = absl::Milliseconds(200);

absl::Status SetSocketAccess(const std::string& path, int mode,
                             const std::string& group) {
  if (!group.empty()) {
    struct group* entry = ::getgrnam(group.c_str());
    if (entry == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrFormat("--socket_group '%s': no such group", group));
    }
    if (::chown(path.c_str(), static_cast<uid_t>(-1), entry->gr_gid) != 0) {
      return absl::PermissionDeniedError(absl::StrFormat(
          "cannot give %s to group %s: %s", path, group, std::strerror(errno)));
    }
  }
  if (::chmod(path.c_str(), static_cast<mode_t>(mode)) != 0) {
    return absl::PermissionDeniedError(absl::StrFormat(
        "cannot set the mode of %s: %s", path, std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace

// A model with its own cloud client and agent: what a reload replaces.
// The skip link's client reports its traffic and errors with the cloud
// link's, but not whether it is up: spex_edge_cloud_up is the next stage's.
class SkipLinkMetrics : public StageClientMetrics {
 public:
  explicit SkipLinkMetrics(EdgeMetrics* metrics) : metrics_(metrics) {}
  void SetOffloadsPending(size_t) override {}
  void AddOffloadBytes(int64_t bytes) override {
    metrics_->AddOffloadBytes(bytes);
  }
  void AddNextStageError(absl::StatusCode code) override {
    metrics_->AddNextStageError(code);
  }
  void ObserveNextStageRtt(double) override {}
  void SetNextStageUp(bool) override {}
  void SetModelMismatch(bool) override {}

 private:
  EdgeMetrics* const metrics_;
};

struct AgentBundle {
  std::unique_ptr<StageClient> cloud;
  std::unique_ptr<SkipLinkMetrics> skip_metrics;
  std::unique_ptr<StageClient> skip;
  std::shared_ptr<EdgeAgent> agent;

  // The agent answers what it accepted first; then the clients go (their
  // pending audits end), then the agent.
  ~AgentBundle() {
    if (agent != nullptr) agent->Drain();
    skip.reset();
    cloud.reset();
  }
};

struct EdgeServer::State {
  EdgeServerOptions options;
  std::shared_ptr<grpc::ChannelCredentials> cloud_credentials;
  std::string cloud_token;
  std::unique_ptr<EdgeMetrics> metrics;
  std::unique_ptr<prometheus::Exposer> exposer;
  std::unique_ptr<EdgeService> service;
  std::unique_ptr<grpc::Server> server;
  int tcp_port = 0;
  // Reloads and shutdown, one at a time.
  absl::Mutex mutex;
  // The agent serving now (set before the server starts).
  std::unique_ptr<AgentBundle> bundle ABSL_GUARDED_BY(mutex);
  bool shut_down ABSL_GUARDED_BY(mutex) = false;

  absl::StatusOr<std::unique_ptr<AgentBundle>> MakeBundle() {
    SPEX_ASSIGN_OR_RETURN(std::shared_ptr<const Model> model,
                          Model::Load(options.model_path));
    auto bundle = std::make_unique<AgentBundle>();
    if (!options.cloud_endpoints.empty()) {
      StageClientOptions cloud = options.cloud;
      cloud.endpoints = options.cloud_endpoints;
      cloud.credentials = cloud_credentials;
      cloud.token = cloud_token;
      cloud.model_id = model->id();
      bundle->cloud = std::make_unique<StageClient>(cloud, metrics.get());
      if (!options.skip_endpoints.empty()) {
        StageClientOptions skip = cloud;
        skip.endpoints = options.skip_endpoints;
        bundle->skip_metrics = std::make_unique<SkipLinkMetrics>(metrics.get());
        bundle->skip =
            std::make_unique<StageClient>(skip, bundle->skip_metrics.get());
      }
    }
    bundle->agent =
        std::make_shared<EdgeAgent>(model, options.agent, bundle->cloud.get(),
                                    metrics.get(), bundle->skip.get());
    LogInfo(absl::StrFormat("model %s loaded from %s", model->id(),
                            options.model_path));
    return bundle;
  }
};

absl::StatusOr<std::unique_ptr<EdgeServer>> EdgeServer::Start(
    const EdgeServerOptions& options) {
  auto state = std::make_unique<State>();
  state->options = options;
  if (options.socket_path.empty() && options.tcp_address.empty()) {
    return absl::InvalidArgumentError(
        "no local API: give --socket or --tcp_listen");
  }
  if (!options.cloud_endpoints.empty()) {
    SPEX_ASSIGN_OR_RETURN(state->cloud_credentials,
                          LinkCredentials(options.cloud_link, "cloud"));
    SPEX_ASSIGN_OR_RETURN(state->cloud_token, LinkToken(options.cloud_link));
  }
  state->metrics = std::make_unique<EdgeMetrics>(options.version);
  SPEX_ASSIGN_OR_RETURN(state->bundle, state->MakeBundle());
  if (!options.metrics_address.empty()) {
    SPEX_ASSIGN_OR_RETURN(state->exposer,
                          StartMetricsExposer(options.metrics_address,
                                              state->metrics->registry()));
  }
  state->service =
      std::make_unique<EdgeService>(state->bundle->agent, state->metrics.get());

  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  grpc::ResourceQuota quota("spex-edge");
  quota.Resize(static_cast<size_t>(options.grpc_memory_bytes));
  builder.SetResourceQuota(quota);
  FixStreamWindow(&builder);
  if (!options.socket_path.empty()) {
    builder.AddListeningPort("unix:" + options.socket_path,
                             grpc::InsecureServerCredentials());
  }
  if (!options.tcp_address.empty()) {
    builder.AddListeningPort(options.tcp_address,
                             grpc::InsecureServerCredentials(),
                             &state->tcp_port);
  }
  builder.RegisterService(state->service.get());
  // The socket is created at bind: a restrictive umask keeps it closed to
  // others until its mode and group are set just below.
  const mode_t previous_umask = ::umask(0177);
  state->server = builder.BuildAndStart();
  ::umask(previous_umask);
  if (state->server == nullptr ||
      (!options.tcp_address.empty() && state->tcp_port == 0)) {
    return absl::UnavailableError(absl::StrFormat(
        "cannot listen on %s%s%s (in use, or no permission to create it)",
        options.socket_path,
        options.socket_path.empty() || options.tcp_address.empty() ? "" : " / ",
        options.tcp_address));
  }
  if (!options.socket_path.empty()) {
    absl::Status access = SetSocketAccess(
        options.socket_path, options.socket_mode, options.socket_group);
    if (!access.ok()) {
      state->server->Shutdown();
      return access;
    }
  }
  return std::unique_ptr<EdgeServer>(new EdgeServer(std::move(state)));
}

EdgeServer::EdgeServer(std::unique_ptr<State> state)
    : state_(std::move(state)) {}

EdgeServer::~EdgeServer() { Shutdown(); }

int EdgeServer::tcp_port() const { return state_->tcp_port; }

int EdgeServer::metrics_port() const {
  if (state_->exposer == nullptr) return 0;
  const std::vector<int> ports = state_->exposer->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

absl::Status EdgeServer::Reload() {
  absl::MutexLock lock(&state_->mutex);
  if (state_->shut_down) return absl::OkStatus();
  absl::StatusOr<std::unique_ptr<AgentBundle>> bundle = state_->MakeBundle();
  if (!bundle.ok()) {
    LogError(absl::StrCat("reload failed, keeping the current model: ",
                          bundle.status().message()));
    return bundle.status();
  }
  state_->service->Replace((*bundle)->agent);
  // The old bundle drains as it goes: every sample it accepted is answered.
  std::swap(state_->bundle, *bundle);
  return absl::OkStatus();
}

void EdgeServer::Shutdown() {
  absl::MutexLock lock(&state_->mutex);
  if (state_->shut_down) return;
  state_->shut_down = true;
  state_->server->GetHealthCheckService()->Shutdown();
  state_->service->Drain();
  state_->bundle->agent->Drain();
  const absl::Time deadline = absl::Now() + state_->options.drain_timeout;
  if (!state_->service->WaitUntilStreamsFinished(deadline)) {
    LogWarning("drain timeout: cancelling the streams still open");
  }
  state_->server->Shutdown(absl::ToChronoTime(absl::Now() + kFlushGrace));
  state_->server->Wait();
  state_->bundle.reset();
}

}  // namespace spex
