#include "edge_agent/exit_policy.h"

#include <algorithm>
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

std::unique_ptr<AccuracyController> MakeAccuracy(
    const std::optional<AccuracyObjectiveOptions>& options,
    const std::vector<ExitRule>& rules) {
  if (!options.has_value() || rules.empty()) return nullptr;
  // It starts where the model's calibration put the threshold; with no
  // labels yet its first block's bound decides.
  return std::make_unique<AccuracyController>(*options,
                                              rules.front().threshold);
}

}  // namespace

ExitPolicy::ExitPolicy(
    const Model& model, std::optional<float> threshold,
    const std::optional<ThresholdControllerOptions>& controller,
    const std::optional<AccuracyObjectiveOptions>& accuracy,
    double audit_fraction, EdgeMetrics* metrics)
    : rules_(ExitRulesFor(model.head(), threshold)),
      metrics_(metrics),
      controller_(MakeController(controller, rules_)),
      accuracy_(MakeAccuracy(accuracy, rules_)),
      audit_fraction_(audit_fraction) {
  logged_threshold_ = this->threshold();
  if (metrics_ != nullptr) {
    metrics_->SetThreshold(this->threshold());
    metrics_->SetAuditRate(audit_rate());
    if (accuracy_ != nullptr) {
      metrics_->SetAccuracyObjective(accuracy_->options().objective);
    }
  }
}

void ExitPolicy::Refresh(absl::Span<ExitRule> rules) const {
  if (controller_ == nullptr && accuracy_ == nullptr) return;
  SetThreshold(static_cast<float>(threshold()), rules);
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

void ExitPolicy::ObserveConfidence(float confidence, bool offloaded) {
  if (accuracy_ == nullptr) return;
  accuracy_->ObserveSample(confidence, offloaded);
  NoteThreshold();
}

void ExitPolicy::ObserveLabel(float confidence, bool agree,
                              double probability) {
  if (accuracy_ == nullptr) return;
  accuracy_->ObserveLabel(confidence, agree, probability);
}

double ExitPolicy::StaticThreshold() const {
  if (controller_ != nullptr) return controller_->threshold();
  return rules_.empty() ? 0.0 : rules_.front().threshold;
}

double ExitPolicy::threshold() const {
  if (accuracy_ == nullptr) return StaticThreshold();
  // The calibrated threshold (or --threshold) is only where the objective
  // starts: a threshold calibrated for another loss is no floor.
  if (controller_ == nullptr) return accuracy_->threshold();
  return std::max(controller_->threshold(), accuracy_->threshold());
}

double ExitPolicy::audit_rate() const {
  return accuracy_ != nullptr ? accuracy_->audit_rate() : audit_fraction_;
}

void ExitPolicy::NoteThreshold() {
  const double now = threshold();
  if (metrics_ != nullptr) {
    metrics_->SetThreshold(now);
    if (accuracy_ != nullptr) {
      const AccuracyController::State state = accuracy_->state();
      metrics_->SetAccuracyLoss(state.loss.estimate, state.loss.upper);
      metrics_->SetAuditRate(state.audit_rate);
      metrics_->SetInputChanges(state.changes);
    }
  }
  double logged = logged_threshold_.load();
  if (std::fabs(now - logged) >= 0.05 &&
      logged_threshold_.compare_exchange_strong(logged, now)) {
    LogInfo(absl::StrFormat("threshold moved from %.3f to %.3f", logged, now));
  }
}

}  // namespace spex
