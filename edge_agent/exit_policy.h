// The edge's exit rules in force: the model's calibrated rules or one
// threshold for every exit (--threshold), moved, when a controller is set,
// to hold an offload budget or a latency objective (threshold_controller.h).
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
#include "common/policy/threshold_controller.h"

namespace spex {

class EdgeMetrics;

class ExitPolicy {
 public:
  // `metrics` (may be null) outlives the policy.
  ExitPolicy(const Model& model, std::optional<float> threshold,
             const std::optional<ThresholdControllerOptions>& controller,
             EdgeMetrics* metrics);

  // The rules for the head's exits, in its order: a runner keeps a copy...
  const std::vector<ExitRule>& rules() const { return rules_; }
  // ...and refreshes it before each sample (the controller's threshold).
  void Refresh(absl::Span<ExitRule> rules) const;

  // What the controller learns: whether a sample left the device, and how
  // long an answer took.
  void ObserveDecision(bool offloaded);
  void ObserveLatency(absl::Duration latency);

  // The first exit's threshold in force.
  double threshold() const;

 private:
  // The gauge, and a log line each time the threshold has moved by 0.05.
  void NoteThreshold();

  const std::vector<ExitRule> rules_;
  EdgeMetrics* const metrics_;
  const std::unique_ptr<ThresholdController> controller_;  // may be null
  std::atomic<double> logged_threshold_{0.0};
};

}  // namespace spex

#endif  // SPEX_EDGE_AGENT_EXIT_POLICY_H_
