#include "edge_agent/exit_policy.h"

#include <cmath>

#include "absl/strings/str_format.h"
#include "common/logging/log.h"
#include "edge_agent/edge_metrics.h"

namespace spex {
namespace {

std::unique_ptr<ThresholdController> MakeController(
    const std::optional<ThresholdControllerOptions>& options,
    const std::vector<ExitRule>& rules) {
  if (!options.has_value() || rules.empty()) return nullptr;
  return std::make_unique<ThresholdController>(*options,
                                               rules.front().threshold);
}

}  // namespace

ExitPolicy::ExitPolicy(
    const Model& model, std::optional<float> threshold,
    const std::optional<ThresholdControllerOptions>& controller,
    EdgeMetrics* metrics)
    : rules_(ExitRulesFor(model.head(), threshold)),
      metrics_(metrics),
      controller_(MakeController(controller, rules_)) {
  logged_threshold_ = this->threshold();
  if (metrics_ != nullptr) metrics_->SetThreshold(this->threshold());
}

void ExitPolicy::Refresh(absl::Span<ExitRule> rules) const {
  if (controller_ == nullptr) return;
  SetThreshold(static_cast<float>(controller_->threshold()), rules);
}

void ExitPolicy::ObserveDecision(bool offloaded) {
  if (controller_ == nullptr) return;
  controller_->ObserveDecision(offloaded);
  NoteThreshold();
}

void ExitPolicy::ObserveLatency(absl::Duration latency) {
  if (controller_ == nullptr) return;
  controller_->ObserveLatency(latency);
  NoteThreshold();
}

double ExitPolicy::threshold() const {
  if (controller_ != nullptr) return controller_->threshold();
  return rules_.empty() ? 0.0 : rules_.front().threshold;
}

void ExitPolicy::NoteThreshold() {
  const double now = controller_->threshold();
  if (metrics_ != nullptr) metrics_->SetThreshold(now);
  double logged = logged_threshold_.load();
  if (std::fabs(now - logged) >= 0.05 &&
      logged_threshold_.compare_exchange_strong(logged, now)) {
    LogInfo(absl::StrFormat("threshold moved from %.3f to %.3f", logged, now));
  }
}

}  // namespace spex
