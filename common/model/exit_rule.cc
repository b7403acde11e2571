#include "common/model/exit_rule.h"

#include <algorithm>

#include "common/model/confidence.h"

namespace spex {

std::vector<ExitRule> ExitRulesFor(const ModelPart& part,
                                   std::optional<float> threshold) {
  std::vector<ExitRule> rules;
  rules.reserve(part.exits().size());
  for (const ExitBranchRuntime& exit : part.exits()) {
    rules.push_back({exit.confidence, exit.threshold});
  }
  if (threshold.has_value()) SetThreshold(*threshold, absl::MakeSpan(rules));
  return rules;
}

void SetThreshold(float threshold, absl::Span<ExitRule> rules) {
  for (ExitRule& rule : rules) {
    if (rule.measure == v1::CONFIDENCE_MEASURE_UNSPECIFIED) {
      rule.measure = v1::CONFIDENCE_MEASURE_MAX_SOFTMAX;
    }
    rule.threshold = threshold;
  }
}

ExitDecision DecideExit(absl::Span<const ExitRule> rules,
                        const float* exit_probs, int classes) {
  ExitDecision decision;
  const int exits = static_cast<int>(rules.size());
  for (int e = 0; e < exits; ++e) {
    const absl::Span<const float> probs(
        exit_probs + static_cast<size_t>(e) * classes,
        static_cast<size_t>(classes));
    const ExitRule& rule = rules[e];
    const bool calibrated = rule.measure != v1::CONFIDENCE_MEASURE_UNSPECIFIED;
    const float confidence =
        calibrated ? Confidence(rule.measure, probs)
                   : *std::max_element(probs.begin(), probs.end());
    const bool confident =
        calibrated && ReachesThreshold(confidence, rule.threshold);
    if (confident || e + 1 == exits) {
      decision.exit = e;
      decision.confident = confident;
      decision.confidence = confidence;
      break;
    }
  }
  return decision;
}

int FirstConfidentExit(absl::Span<const float> confidences,
                       absl::Span<const double> thresholds) {
  const size_t exits = std::min(confidences.size(), thresholds.size());
  for (size_t e = 0; e < exits; ++e) {
    if (ReachesThreshold(confidences[e], thresholds[e])) {
      return static_cast<int>(e);
    }
  }
  return -1;
}

}  // namespace spex
