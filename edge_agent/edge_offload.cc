// EdgeAgent's ways to the later stages (edge_agent.h): the split activation
// to the next stage or past it (--skip_to), the raw input for placement
// cloud, and audits.
#include <algorithm>
#include <memory>
#include <utility>

#include "common/codec/activation_codec.h"
#include "edge_agent/edge_agent.h"
#include "edge_agent/edge_metrics.h"

namespace spex {

std::optional<v1::FallbackReason> EdgeAgent::OffloadSplit(
    int slot, const v1::ActivationPayload& payload) {
  if (router_ == nullptr) return SendSplit(slot, false, payload);
  int queued;
  {
    absl::MutexLock lock(&mutex_);
    queued = in_use_;
  }
  const bool skip_first = router_->Choose(queued) == RouteChooser::Route::kSkip;
  std::optional<v1::FallbackReason> refused =
      SendSplit(slot, skip_first, payload);
  if (!refused.has_value()) return std::nullopt;
  // The stage chosen cannot take it now (down, breaker open, full): the
  // other one may. A refusal costs what waiting would have: the deadline.
  if (skip_first) {
    router_->ObserveSkip(skip_->deadline());
  } else {
    router_->ObserveNext(cloud_->deadline());
  }
  std::optional<v1::FallbackReason> again =
      SendSplit(slot, !skip_first, payload);
  return again.has_value() ? refused : std::nullopt;
}

std::optional<v1::FallbackReason> EdgeAgent::SendSplit(
    int slot, bool skipping, const v1::ActivationPayload& payload) {
  // Sent to the next stage with a stage after it to skip to: kept, so that
  // a sample the next stage fails can go on there.
  std::shared_ptr<const v1::ActivationPayload> kept;
  if (!skipping && skip_ != nullptr) {
    kept = std::make_shared<const v1::ActivationPayload>(payload);
  }
  return (skipping ? skip_ : cloud_)
      ->Offload(payload, static_cast<uint32_t>(model_->split_after()),
                slots_[slot].top_k,
                [this, slot, skipping, kept](OffloadOutcome outcome) {
                  OnSplitOutcome(slot, skipping, kept, std::move(outcome));
                });
}

void EdgeAgent::OnSplitOutcome(
    int slot, bool skipping,
    const std::shared_ptr<const v1::ActivationPayload>& kept,
    OffloadOutcome outcome) {
  if (router_ != nullptr) {
    // What the sample paid; a failure costs at least the deadline, so that
    // a stage refusing samples quickly (overloaded, say) does not look
    // cheap.
    const StageClient* client = skipping ? skip_ : cloud_;
    const absl::Duration paid =
        outcome.ok ? outcome.round_trip
                   : std::max(outcome.round_trip, client->deadline());
    if (skipping) {
      router_->ObserveSkip(paid);
    } else {
      router_->ObserveNext(paid);
    }
  }
  // The next stage failed the sample without its deadline passing (it
  // refused it, or its stream ended): the stage after may still answer.
  if (!outcome.ok && kept != nullptr &&
      outcome.reason != v1::FALLBACK_REASON_DEADLINE &&
      !SendSplit(slot, true, *kept).has_value()) {
    return;
  }
  if (!outcome.ok) {
    AnswerFromExit(slot, v1::ANSWER_PATH_FALLBACK, outcome.reason);
    return;
  }
  v1::ClassifyResponse response;
  *response.mutable_result() = std::move(outcome.result);
  Answer(slot, std::move(response), v1::ANSWER_PATH_CLOUD,
         v1::FALLBACK_REASON_UNSPECIFIED);
}

std::optional<v1::FallbackReason> EdgeAgent::OffloadInput(int slot) {
  if (cloud_ == nullptr) return v1::FALLBACK_REASON_CLOUD_UNREACHABLE;
  const Slot& s = slots_[slot];
  const absl::Span<const float> raw(s.raw, static_cast<size_t>(raw_width_));
  // 8-bit pixels travel as one byte each; other inputs as float32.
  const bool bytes = std::all_of(raw.begin(), raw.end(), [](float v) {
    return v >= 0.0f && v <= 255.0f && v == static_cast<float>(static_cast<int>(v));
  });
  v1::ActivationPayload payload;
  if (!EncodeActivations(bytes ? v1::ENCODING_UINT8 : v1::ENCODING_FLOAT32,
                         raw_width_, 1, raw, &payload)
           .ok()) {
    return v1::FALLBACK_REASON_CLOUD_REJECTED;
  }
  // From layer 0: the next stage runs the whole network.
  return cloud_->Offload(
      std::move(payload), 0, s.top_k, [this, slot](OffloadOutcome outcome) {
        if (outcome.ok) {
          v1::ClassifyResponse response;
          *response.mutable_result() = std::move(outcome.result);
          Answer(slot, std::move(response), v1::ANSWER_PATH_CLOUD,
                 v1::FALLBACK_REASON_UNSPECIFIED);
          return;
        }
        // The cloud could not: the device computes the exit's answer now.
        std::unique_ptr<Runner> runner = TakeRunner();
        LocalResult local;
        if (RunExits(slot, *runner, &local)) {
          AnswerFromExit(slot, v1::ANSWER_PATH_FALLBACK, outcome.reason);
        }
        ReturnRunner(std::move(runner));
      });
}

void EdgeAgent::Audit(const LocalResult& local) {
  // (Placement kCloud answers nothing locally but fallbacks: no audits.)
  if (cloud_ == nullptr || options_.audit_fraction <= 0.0) return;
  {
    absl::MutexLock lock(&mutex_);
    std::uniform_real_distribution<double> draw(0.0, 1.0);
    if (draw(audit_random_) >= options_.audit_fraction) return;
  }
  v1::ActivationPayload payload;
  if (!EncodeActivations(options_.encoding, model_->split_width(), 1,
                         local.split, &payload)
           .ok()) {
    return;
  }
  const uint32_t exit_label = static_cast<uint32_t>(local.label);
  EdgeMetrics* metrics = metrics_;
  // Not answered through a slot: the answer went out already, and an audit
  // the cloud cannot take (busy, down) is simply not counted.
  (void)cloud_->Offload(std::move(payload),
                        static_cast<uint32_t>(model_->split_after()), 0,
                        [metrics, exit_label](OffloadOutcome outcome) {
                          if (outcome.ok && metrics != nullptr) {
                            metrics->RecordAudit(outcome.result.label() ==
                                                 exit_label);
                          }
                        });
}

}  // namespace spex
