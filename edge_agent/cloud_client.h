// The edge's way to the cloud: one long-lived SplitInference.InferStream per
// endpoint, pipelined (many samples in flight; samples that wait while a
// write is in flight go out together in one request), with a deadline per
// sample, reconnection with exponential backoff and jitter, a circuit
// breaker, round-robin over the endpoints that are up, and a model check
// (GetModelInfo) at every connect: an endpoint serving another model gets no
// offloads until it serves this one.
//
// Every accepted offload gets exactly one outcome, from whichever comes
// first: the cloud's answer, its error, the deadline, or the stream's end.
//
// Thread-safe. Outcomes are delivered on gRPC's or the client's own thread,
// never under the client's lock.
#ifndef SPEX_EDGE_AGENT_CLOUD_CLIENT_H_
#define SPEX_EDGE_AGENT_CLOUD_CLIENT_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/security/credentials.h"
#include "spex/v1/edge_inference.pb.h"
#include "spex/v1/split_inference.pb.h"

namespace spex {

class EdgeMetrics;

struct CloudClientOptions {
  // host:port, or any gRPC target (dns:///name:port).
  std::vector<std::string> endpoints;
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  std::string token;  // bearer token; empty: none
  std::string model_id;
  uint32_t from_layer = 0;
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
  int grpc_code = 0;        // the cloud's code for CLOUD_REJECTED
  absl::Duration round_trip;
};

class CloudClient {
 public:
  using Done = std::function<void(OffloadOutcome)>;

  // Starts connecting to every endpoint. `metrics` may be null; otherwise it
  // outlives the client.
  CloudClient(CloudClientOptions options, EdgeMetrics* metrics);
  // Ends the streams; every offload still pending gets CLOUD_UNREACHABLE.
  ~CloudClient();

  CloudClient(const CloudClient&) = delete;
  CloudClient& operator=(const CloudClient&) = delete;

  // Sends one sample's encoded activation (a one-sample payload). When it
  // cannot go out now, returns why (breaker open, no endpoint up, model
  // mismatch, too many in flight) and never calls `done`; otherwise `done`
  // gets exactly one outcome.
  std::optional<v1::FallbackReason> Offload(v1::ActivationPayload payload,
                                            uint32_t top_k, Done done);

  // Endpoints whose stream is open and whose model matches.
  int ready_endpoints() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace spex

#endif  // SPEX_EDGE_AGENT_CLOUD_CLIENT_H_
