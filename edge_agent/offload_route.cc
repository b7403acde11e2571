#include "edge_agent/offload_route.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/codec/activation_codec.h"
#include "common/logging/log.h"
#include "common/status/status_macros.h"

namespace spex {
namespace {

std::unique_ptr<RouteChooser> MakeRouter(NextStage* next, NextStage* skip) {
  if (next == nullptr || skip == nullptr) return nullptr;
  RouteChooserOptions routes;
  routes.can_skip = true;
  return std::make_unique<RouteChooser>(routes);
}

}  // namespace

OffloadRoute::OffloadRoute(NextStage* next, NextStage* skip,
                           v1::Encoding encoding)
    : next_(next),
      skip_(skip),
      encoding_(encoding),
      router_(MakeRouter(next, skip)) {}

std::optional<v1::FallbackReason> OffloadRoute::Send(
    absl::Span<const float> activation, uint32_t from_layer, uint32_t top_k,
    int queued, NextStage::Done done) {
  if (next_ == nullptr) return v1::FALLBACK_REASON_CLOUD_UNREACHABLE;
  absl::StatusOr<v1::ActivationPayload> payload = Encode(activation);
  if (!payload.ok()) {
    // An activation the encoding cannot carry (float16 overflow): the
    // sample's own stage answers it rather than it being lost. No route is
    // to blame.
    LogWarning(absl::StrCat("cannot encode the split activation: ",
                            payload.status().message()));
    return v1::FALLBACK_REASON_CLOUD_REJECTED;
  }
  const auto shared = std::make_shared<NextStage::Done>(std::move(done));
  if (router_ == nullptr) {
    return SendTo(false, *std::move(payload), activation, from_layer, top_k,
                  shared);
  }
  const bool skip_first = router_->Choose(queued) == RouteChooser::Route::kSkip;
  std::optional<v1::FallbackReason> refused = SendTo(
      skip_first, *std::move(payload), activation, from_layer, top_k, shared);
  if (!refused.has_value()) return std::nullopt;
  // The stage chosen cannot take it now (down, breaker open, full): the
  // other one may. A refusal costs what waiting would have: the deadline.
  if (skip_first) {
    router_->ObserveSkip(skip_->deadline());
  } else {
    router_->ObserveNext(next_->deadline());
  }
  std::optional<v1::FallbackReason> again =
      SendTo(!skip_first, Encode(activation).value(), activation, from_layer,
             top_k, shared);
  return again.has_value() ? refused : std::nullopt;
}

absl::StatusOr<v1::ActivationPayload> OffloadRoute::Encode(
    absl::Span<const float> activation) const {
  v1::ActivationPayload payload;
  SPEX_RETURN_IF_ERROR(EncodeActivations(
      encoding_, static_cast<int>(activation.size()), 1, activation, &payload));
  return payload;
}

std::optional<v1::FallbackReason> OffloadRoute::SendTo(
    bool skipping, v1::ActivationPayload payload,
    absl::Span<const float> activation, uint32_t from_layer, uint32_t top_k,
    const SharedDone& done) {
  return (skipping ? skip_ : next_)
      ->Offload(std::move(payload), from_layer, top_k,
                [this, skipping, activation, from_layer, top_k,
                 done](OffloadOutcome outcome) {
                  OnOutcome(skipping, activation, from_layer, top_k, done,
                            std::move(outcome));
                });
}

void OffloadRoute::OnOutcome(bool skipping, absl::Span<const float> activation,
                             uint32_t from_layer, uint32_t top_k,
                             const SharedDone& done, OffloadOutcome outcome) {
  if (router_ != nullptr) {
    // What the sample paid; a failure costs at least the deadline, so that
    // a stage refusing samples quickly (overloaded, say) does not look
    // cheap.
    const NextStage* stage = skipping ? skip_ : next_;
    const absl::Duration paid =
        outcome.ok ? outcome.round_trip
                   : std::max(outcome.round_trip, stage->deadline());
    if (skipping) {
      router_->ObserveSkip(paid);
    } else {
      router_->ObserveNext(paid);
    }
  }
  // The next stage failed the sample without its deadline passing (it
  // refused it, or its stream ended): the stage after may still answer.
  if (!outcome.ok && !skipping && skip_ != nullptr &&
      outcome.reason != v1::FALLBACK_REASON_DEADLINE &&
      !SendTo(true, Encode(activation).value(), activation, from_layer, top_k,
              done)
           .has_value()) {
    return;
  }
  (*done)(std::move(outcome));
}

}  // namespace spex
