#include "edge_agent/local_classifier.h"

#include <algorithm>
#include <utility>

namespace spex {

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

LocalResult LocalClassifier::Run(const RawInput& input,
                                 absl::Span<const ExitRule> rules) {
  const ModelPart& head = model_->head();
  const InputTransform& transform = model_->input();
  if (input.is_pixels()) {
    transform.Transform(input.pixels, input_.data());
  } else {
    transform.Transform(input.values, input_.data());
  }
  const bool exits = !head.exits().empty();
  head.Forward(input_.data(), split_.data(),
               exits ? exit_probs_.data() : nullptr, &workspace_);
  LocalResult result;
  result.split = split_;
  if (!exits) return result;
  const int classes = head.exit_width();
  result.decision = DecideExit(rules, exit_probs_.data(), classes);
  result.probabilities = absl::MakeConstSpan(
      exit_probs_.data() + static_cast<size_t>(result.decision.exit) * classes,
      static_cast<size_t>(classes));
  result.label = static_cast<int>(std::max_element(result.probabilities.begin(),
                                                   result.probabilities.end()) -
                                  result.probabilities.begin());
  return result;
}

}  // namespace spex
