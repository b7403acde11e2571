// The edge's exit rules in force: the model's calibrated rules or one
// threshold for every exit (--threshold), moved, when a controller is set,
// to hold an offload budget or a latency objective (threshold_controller.h),
// and kept, when an accuracy objective is set, at or above the lowest
// threshold whose loss against the full network is within the objective
// (accuracy_controller.h): the accuracy objective wins where the two
// disagree, since a budget or a latency met by wrong answers is not met;
// alone, it starts at the calibrated threshold (or --threshold) and goes
// wherever its bound allows.
// It also sets the audit rate: the accuracy controller's when it is set,
// else the fixed --audit_fraction.
// The rule itself is common/model/exit_rule.h's, the same at every stage.
//
// Thread-safe.
#ifndef SPEX_EDGE_AGENT_EXIT_POLICY_H_
#define SPEX_EDGE_AGENT_EXIT_POLICY_H_

#include <atomic>
#include <memory>
#include <optional>
#include <vector>

#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/model/exit_rule.h"
#include "common/model/model.h"
#include "common/policy/accuracy_controller.h"
#include "common/policy/threshold_controller.h"

namespace spex {

class EdgeMetrics;

class ExitPolicy {
 public:
  // `metrics` (may be null) outlives the policy.
  ExitPolicy(const Model& model, std::optional<float> threshold,
             const std::optional<ThresholdControllerOptions>& controller,
             const std::optional<AccuracyObjectiveOptions>& accuracy,
             double audit_fraction, EdgeMetrics* metrics);

  // The rules for the head's exits, in its order: a runner keeps a copy...
  const std::vector<ExitRule>& rules() const { return rules_; }
  // ...and refreshes it before each sample (the controller's threshold).
  void Refresh(absl::Span<ExitRule> rules) const;

  // What the controller learns: whether a sample left the device, and how
  // long an answer took.
  void ObserveDecision(bool offloaded);
  void ObserveLatency(absl::Duration latency);
  // What the accuracy objective learns: every decided sample's confidence
  // (and whether it went on), and each label the full network gave (the
  // probability it had of a label: 1 when sent on, the audit rate when
  // audited).
  void ObserveConfidence(float confidence, bool offloaded);
  void ObserveLabel(float confidence, bool agree, double probability);

  // The first exit's threshold in force.
  double threshold() const;
  // The probability with which an answer of the exit is audited now.
  double audit_rate() const;
  bool has_accuracy_objective() const { return accuracy_ != nullptr; }

 private:
  // The gauges, and a log line each time the threshold has moved by 0.05.
  void NoteThreshold();
  // Before any controller moves it.
  double StaticThreshold() const;

  const std::vector<ExitRule> rules_;
  EdgeMetrics* const metrics_;
  const std::unique_ptr<ThresholdController> controller_;  // may be null
  const std::unique_ptr<AccuracyController> accuracy_;     // may be null
  const double audit_fraction_;
  std::atomic<double> logged_threshold_{0.0};
};

}  // namespace spex

#endif  // SPEX_EDGE_AGENT_EXIT_POLICY_H_
