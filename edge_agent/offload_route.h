// Where the edge sends a split activation no exit was sure of: the next
// stage or, with a stage after it to skip to (--skip_to), whichever costs
// less by measure (route_chooser.h), the other one when the first cannot
// take the sample now, and the stage after when the next one fails it
// before its deadline (refused, overloaded, stream ended).
//
// Thread-safe.
#ifndef SPEX_EDGE_AGENT_OFFLOAD_ROUTE_H_
#define SPEX_EDGE_AGENT_OFFLOAD_ROUTE_H_

#include <cstdint>
#include <memory>
#include <optional>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/policy/route_chooser.h"
#include "common/stage/next_stage.h"
#include "spex/v1/activation.pb.h"

namespace spex {

class OffloadRoute {
 public:
  // `next` and `skip` (may be null) outlive the route.
  OffloadRoute(NextStage* next, NextStage* skip, v1::Encoding encoding);

  // Encodes `activation` (the output of layer `from_layer`, valid until
  // `done` is called) and sends it on. When no stage can take it now,
  // returns the first stage's reason and never calls `done`; otherwise
  // `done` gets exactly one outcome. `queued`: samples waiting in the agent
  // (the chooser scales by it).
  std::optional<v1::FallbackReason> Send(absl::Span<const float> activation,
                                         uint32_t from_layer, uint32_t top_k,
                                         int queued, NextStage::Done done);

 private:
  // Shared by the sends of one sample: a refused send must leave it to
  // the next.
  using SharedDone = std::shared_ptr<NextStage::Done>;
  // The activation as the wire carries it. Encoded once more only for a
  // second route (the first payload went to the first route); the values
  // encoded once already, so that cannot fail.
  absl::StatusOr<v1::ActivationPayload> Encode(
      absl::Span<const float> activation) const;
  // One send, to the skip stage or the next; `activation` stays for a
  // resend to the skip stage.
  std::optional<v1::FallbackReason> SendTo(bool skipping,
                                           v1::ActivationPayload payload,
                                           absl::Span<const float> activation,
                                           uint32_t from_layer, uint32_t top_k,
                                           const SharedDone& done);
  void OnOutcome(bool skipping, absl::Span<const float> activation,
                 uint32_t from_layer, uint32_t top_k, const SharedDone& done,
                 OffloadOutcome outcome);

  NextStage* const next_;
  NextStage* const skip_;
  const v1::Encoding encoding_;
  const std::unique_ptr<RouteChooser> router_;  // with `skip_`
};

}  // namespace spex

#endif  // SPEX_EDGE_AGENT_OFFLOAD_ROUTE_H_
