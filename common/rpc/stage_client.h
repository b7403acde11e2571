// The NextStage seam (common/stage/next_stage.h) over gRPC: the edge's way
// to the cloud, a middle stage's to the one after. One long-lived
// SplitInference.InferStream per endpoint, pipelined (many samples in flight;
// samples that wait while a write is in flight go out together in one request),
// with a deadline per sample, reconnection with exponential backoff and jitter,
// a circuit breaker, round-robin over the endpoints that are up, and a model
// check (GetModelInfo) at every connect: an endpoint serving another model gets
// no offloads until it serves this one.
//
// Every accepted offload gets exactly one outcome, from whichever comes
// first: the next stage's answer, its error, the deadline, or the stream's
// end.
//
// Thread-safe. Outcomes are delivered on gRPC's or the client's own thread,
// never under the client's lock.
#ifndef SPEX_COMMON_RPC_STAGE_CLIENT_H_
#define SPEX_COMMON_RPC_STAGE_CLIENT_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/rpc/stage_client_metrics.h"
#include "common/stage/next_stage.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/status.h"
#include "spex/v1/split_inference.pb.h"

namespace spex {

struct StageClientOptions {
  // host:port, or any gRPC target (dns:///name:port).
  std::vector<std::string> endpoints;
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  std::string token;  // bearer token; empty: none
  std::string model_id;
  absl::Duration deadline = absl::Milliseconds(250);
  absl::Duration backoff_initial = absl::Milliseconds(100);
  absl::Duration backoff_max = absl::Seconds(5);
  int breaker_failures = 5;
  absl::Duration breaker_open_time = absl::Seconds(2);
  int max_samples_per_request = 16;
  int max_pending = 1024;  // offloads in flight over all endpoints
};

class StageClient : public NextStage {
 public:
  // Starts connecting to every endpoint. `metrics` may be null; otherwise it
  // outlives the client.
  StageClient(StageClientOptions options, StageClientMetrics* metrics);
  // Ends the streams; every offload still pending gets CLOUD_UNREACHABLE.
  ~StageClient() override;

  StageClient(const StageClient&) = delete;
  StageClient& operator=(const StageClient&) = delete;

  // NextStage. Refusals: breaker open, no endpoint up, model mismatch, too
  // many in flight.
  std::optional<v1::FallbackReason> Offload(v1::ActivationPayload payload,
                                            uint32_t from_layer, uint32_t top_k,
                                            Done done) override;
  absl::Duration deadline() const override { return deadline_; }

 private:
  class Impl;
  const absl::Duration deadline_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace spex

#endif  // SPEX_COMMON_RPC_STAGE_CLIENT_H_
