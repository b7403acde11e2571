// spex-edge as an object: the model, the cloud client, the agent, the local
// gRPC API (a Unix domain socket, optionally TCP), gRPC health, and the
// metrics endpoint. main() only turns flags into EdgeServerOptions and
// signals into Reload() and Shutdown().
#ifndef SPEX_EDGE_AGENT_EDGE_SERVER_H_
#define SPEX_EDGE_AGENT_EDGE_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/rpc/stage_client.h"
#include "common/rpc/stage_link.h"
#include "edge_agent/edge_agent.h"

namespace spex {

struct EdgeServerOptions {
  std::string model_path;
  // The local API: a Unix domain socket path ("" for none) with its mode
  // and group, and an optional TCP address ("" for none; port 0 picks one).
  std::string socket_path = "/run/spex/edge.sock";
  int socket_mode = 0660;
  std::string socket_group;
  std::string tcp_address;
  std::string metrics_address = "127.0.0.1:9465";  // "" for none
  // What gRPC's transport may hold in buffers, all connections together
  // (its resource quota); past it, the stream receiving the most is
  // cancelled with RESOURCE_EXHAUSTED. Messages stay at gRPC's default
  // 4 MiB limit (a sample is a few kilobytes).
  int64_t grpc_memory_bytes = int64_t{32} << 20;

  // The cloud: endpoints ("" or none: never offload), transport security
  // (plain text only when asked for), bearer token file.
  std::vector<std::string> cloud_endpoints;
  // In a chain, the stage after the cloud's (same link security and
  // token): samples skip the next stage when it refuses them or answers
  // slower. Empty: never skip.
  std::vector<std::string> skip_endpoints;
  StageLink cloud_link;
  StageClientOptions cloud;  // deadline, backoff, breaker, batching

  EdgeAgentOptions agent;
  absl::Duration drain_timeout = absl::Seconds(10);
  std::string version = "dev";
};

class EdgeServer {
 public:
  // One clear error (and nothing left running) when the model cannot be
  // loaded, a certificate or token file is missing, the socket or a port
  // cannot be bound.
  static absl::StatusOr<std::unique_ptr<EdgeServer>> Start(
      const EdgeServerOptions& options);
  ~EdgeServer();

  int tcp_port() const;      // 0 without TCP
  int metrics_port() const;  // 0 without metrics

  // Loads the model file again; on success new samples go to a new agent
  // (and cloud client) while the old one answers what it holds. A bad file
  // is reported and changes nothing.
  absl::Status Reload();

  // Refuses new samples, answers every accepted one, ends the streams.
  void Shutdown();

 private:
  struct State;
  explicit EdgeServer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace spex

#endif  // SPEX_EDGE_AGENT_EDGE_SERVER_H_
