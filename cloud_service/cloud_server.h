// spex-cloud as an object: the gRPC server (SplitInference, the Open
// Inference Protocol, health, reflection) on one port, the metrics exposer
// on another, the model directory and its watcher. main() only turns flags
// into CloudServerOptions and signals into Reload() and Shutdown().
#ifndef SPEX_CLOUD_SERVICE_CLOUD_SERVER_H_
#define SPEX_CLOUD_SERVICE_CLOUD_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cloud_service/cloud_core.h"
#include "common/model/model.h"
#include "common/rpc/stage_client.h"
#include "common/rpc/stage_link.h"

namespace spex {

struct CloudServerOptions {
  std::string listen_address = "0.0.0.0:50051";
  // Prometheus pull endpoint; empty: no metrics endpoint.
  std::string metrics_address = "127.0.0.1:9464";
  std::string model_dir;
  // Transport security. Plain text only when asked for explicitly;
  // otherwise cert and key are required, and a client CA turns on mutual
  // TLS (clients must present a certificate it signed).
  bool plaintext = false;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_client_ca_file;
  // Bearer tokens, one per line; empty: no token required.
  std::string token_file;
  int max_receive_message_bytes = 4 << 20;
  // What gRPC's transport may hold in buffers, all connections together
  // (its resource quota): past it, the stream receiving the most is
  // cancelled with RESOURCE_EXHAUSTED. docs/RELIABILITY.md says how to size
  // it against the pod's memory limit.
  int64_t grpc_memory_bytes = int64_t{128} << 20;
  // Reload after the model directory has been quiet this long; zero: do not
  // watch (SIGHUP still reloads).
  absl::Duration reload_debounce = absl::Milliseconds(500);
  // How long shutdown waits for open calls before cancelling them.
  absl::Duration drain_timeout = absl::Seconds(10);
  // A middle stage's next stage: endpoints (none: this is the last stage),
  // transport security and token, deadline, backoff, breaker, batching.
  std::vector<std::string> next_endpoints;
  StageLink next_link;
  StageClientOptions next;
  CloudCoreOptions core;
  ModelOptions model;
  std::string version = "dev";
};

class CloudServer {
 public:
  // Starts serving. One clear error (and nothing left running) when the
  // model directory cannot be read, a certificate, key or token file is
  // missing or bad, or a port cannot be bound.
  static absl::StatusOr<std::unique_ptr<CloudServer>> Start(
      const CloudServerOptions& options);
  ~CloudServer();

  int port() const;
  int metrics_port() const;  // 0 without a metrics endpoint

  // Rescans the model directory (what SIGHUP does) and updates health.
  absl::Status Reload();

  // Graceful stop: health turns NOT_SERVING, open streams answer what they
  // hold and end, new calls are refused, calls in flight finish (or are
  // cancelled after drain_timeout). Returns when all is done.
  void Shutdown();

 private:
  struct State;
  explicit CloudServer(std::unique_ptr<State> state);
  void UpdateHealth();
  // A middle stage: a client to the next stage for every served model.
  void ConnectNextStage();

  std::unique_ptr<State> state_;
};

}  // namespace spex

#endif  // SPEX_CLOUD_SERVICE_CLOUD_SERVER_H_
