// A stage's way to its next stage (the edge's to the cloud, a middle
// stage's to the one after): one long-lived SplitInference.InferStream per
// endpoint, pipelined (many samples in flight; samples that wait while a
// write is in flight go out together in one request), with a deadline per
// sample, reconnection with exponential backoff and jitter, a circuit
// breaker, round-robin over the endpoints that are up, and a model check
// (GetModelInfo) at every connect: an endpoint serving another model gets no
// offloads until it serves this one.
//
// Every accepted offload gets exactly one outcome, from whichever comes
// first: the next stage's answer, its error, the deadline, or the stream's
// end.
//
// Thread-safe. Outcomes are delivered on gRPC's or the client's own thread,
// never under the client's lock.
#ifndef SPEX_COMMON_RPC_STAGE_CLIENT_H_
#define SPEX_COMMON_RPC_STAGE_CLIENT_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/status.h"
#include "spex/v1/edge_inference.pb.h"
#include "spex/v1/split_inference.pb.h"

namespace spex {

// What a StageClient reports: each daemon's metrics implement it (under
// the names its dashboards use).
class StageClientMetrics {
 public:
  virtual ~StageClientMetrics() = default;
  virtual void SetOffloadsPending(size_t pending) = 0;
  // One request's bytes on the wire.
  virtual void AddOffloadBytes(int64_t bytes) = 0;
  virtual void AddNextStageError(grpc::StatusCode code) = 0;
  virtual void ObserveNextStageRtt(double seconds) = 0;
  // Some endpoint's stream is open and serves the model.
  virtual void SetNextStageUp(bool up) = 0;
  virtual void SetModelMismatch(bool mismatch) = 0;
};

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

struct OffloadOutcome {
  bool ok = false;
  v1::SampleResult result;  // when ok
  v1::FallbackReason reason = v1::FALLBACK_REASON_UNSPECIFIED;  // when not
  int grpc_code = 0;        // the next stage's code for CLOUD_REJECTED
  absl::Duration round_trip;
};

class StageClient {
 public:
  using Done = std::function<void(OffloadOutcome)>;

  // Starts connecting to every endpoint. `metrics` may be null; otherwise it
  // outlives the client.
  StageClient(StageClientOptions options, StageClientMetrics* metrics);
  // Ends the streams; every offload still pending gets CLOUD_UNREACHABLE.
  ~StageClient();

  StageClient(const StageClient&) = delete;
  StageClient& operator=(const StageClient&) = delete;

  // Sends one sample's encoded activation (a one-sample payload) after
  // backbone layer `from_layer` (0: the raw input). When it cannot go out
  // now, returns why (breaker open, no endpoint up, model mismatch, too many
  // in flight) and never calls `done`; otherwise `done` gets exactly one
  // outcome.
  std::optional<v1::FallbackReason> Offload(v1::ActivationPayload payload,
                                            uint32_t from_layer, uint32_t top_k,
                                            Done done);

  // Endpoints whose stream is open and whose model matches.
  int ready_endpoints() const;
  // How long an offload may wait for its answer.
  absl::Duration deadline() const { return deadline_; }

 private:
  class Impl;
  const absl::Duration deadline_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace spex

#endif  // SPEX_COMMON_RPC_STAGE_CLIENT_H_
