#include "edge_agent/local_classifier.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_format.h"
#include "common/model/confidence.h"

namespace spex {

std::vector<ExitRule> CalibratedRules(const Model& model) {
  std::vector<ExitRule> rules;
  for (const ExitBranchRuntime& exit : model.head().exits()) {
    rules.push_back({exit.confidence, exit.threshold});
  }
  return rules;
}

LocalClassifier::LocalClassifier(std::shared_ptr<const Model> model,
                                 bool with_tail)
    : model_(std::move(model)),
      workspace_(model_->head()),
      input_(model_->input().width),
      split_(model_->split_width()),
      exit_probs_(static_cast<size_t>(model_->head().exits().size()) *
                  std::max(1, model_->head().exit_width())) {
  if (with_tail) {
    tail_workspace_.emplace(model_->tail());
    tail_probs_.resize(model_->tail().output_width());
  }
}

absl::Span<const float> LocalClassifier::RunTail() {
  model_->tail().Forward(split_.data(), tail_probs_.data(), nullptr,
                         &*tail_workspace_);
  return tail_probs_;
}

absl::StatusOr<LocalResult> LocalClassifier::Run(
    absl::Span<const float> raw, absl::Span<const ExitRule> rules) {
  const ModelPart& head = model_->head();
  const int exits = static_cast<int>(head.exits().size());
  if (static_cast<int>(rules.size()) != exits) {
    return absl::InternalError(absl::StrFormat(
        "%d exit rules for a model with %d exits", rules.size(), exits));
  }
  absl::Status status = model_->input().Apply(raw, input_.data());
  if (!status.ok()) return status;
  head.Forward(input_.data(), split_.data(),
               exits > 0 ? exit_probs_.data() : nullptr, &workspace_);
  LocalResult result;
  result.split = split_;
  const int classes = head.exit_width();
  for (int e = 0; e < exits; ++e) {
    const absl::Span<const float> probs(
        exit_probs_.data() + static_cast<size_t>(e) * classes, classes);
    const ExitRule& rule = rules[e];
    const bool calibrated = rule.measure != v1::CONFIDENCE_MEASURE_UNSPECIFIED;
    const float confidence =
        calibrated ? Confidence(rule.measure, probs)
                   : *std::max_element(probs.begin(), probs.end());
    const bool confident = calibrated && confidence >= rule.threshold;
    if (confident || e + 1 == exits) {
      result.exit = e;
      result.confident = confident;
      result.probabilities = probs;
      result.label = static_cast<int>(
          std::max_element(probs.begin(), probs.end()) - probs.begin());
      result.confidence = confidence;
      result.probability = probs[result.label];
      break;
    }
  }
  return result;
}

}  // namespace spex
