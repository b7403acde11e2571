// The seam between a stage and the stage after it in a chain (the edge's
// way to the cloud, a middle stage's to the one after): send one sample's
// activation on with a deadline, get exactly one outcome back. No gRPC
// here: the daemons use StageClient (common/rpc/stage_client.h), and tests
// put a real CloudCore or a scripted stage in process behind it.
#ifndef SPEX_COMMON_STAGE_NEXT_STAGE_H_
#define SPEX_COMMON_STAGE_NEXT_STAGE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "spex/v1/activation.pb.h"
#include "spex/v1/split_inference.pb.h"

namespace spex {

// What became of one sample sent on.
struct OffloadOutcome {
  bool ok = false;
  v1::SampleResult result;  // when ok: the next stage's answer
  v1::FallbackReason reason = v1::FALLBACK_REASON_UNSPECIFIED;  // when not
  absl::Duration round_trip;  // from Offload to the outcome
};

class NextStage {
 public:
  using Done = std::function<void(OffloadOutcome)>;

  virtual ~NextStage() = default;

  // Sends one sample's encoded activation (a one-sample payload) after
  // backbone layer `from_layer` (0: the raw input). When it cannot go out
  // now, returns why (breaker open, no endpoint up, model mismatch, too many
  // in flight) and never calls `done`; otherwise `done` gets exactly one
  // outcome, by the deadline at the latest, on another thread or inline.
  virtual std::optional<v1::FallbackReason> Offload(
      v1::ActivationPayload payload, uint32_t from_layer, uint32_t top_k,
      Done done) = 0;

  // How long an offload may wait for its outcome.
  virtual absl::Duration deadline() const = 0;
};

// A middle stage serves several models, each with its own way on.
class NextStages {
 public:
  virtual ~NextStages() = default;
  // The next stage for `model_id`; lives as long as this object.
  virtual NextStage& For(const std::string& model_id) = 0;
};

}  // namespace spex

#endif  // SPEX_COMMON_STAGE_NEXT_STAGE_H_
