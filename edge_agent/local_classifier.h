// The edge's inference on one sample: the model's input scaling, the head,
// and its exit classifiers under the exit rule (common/model/exit_rule.h),
// with every buffer allocated once, so a sample costs no allocation. One
// LocalClassifier per thread; the model is shared.
#ifndef SPEX_EDGE_AGENT_LOCAL_CLASSIFIER_H_
#define SPEX_EDGE_AGENT_LOCAL_CLASSIFIER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/types/span.h"
#include "common/model/exit_rule.h"
#include "common/model/model.h"

namespace spex {

// One sample as it arrived: 8-bit pixels, or float values (exactly one of
// the two spans is set, the model's raw width long). Pixels stay bytes until
// the first layer needs floats.
struct RawInput {
  static RawInput Pixels(absl::Span<const uint8_t> pixels) {
    return {pixels, {}};
  }
  static RawInput Values(absl::Span<const float> values) {
    return {{}, values};
  }
  bool is_pixels() const { return !pixels.empty(); }

  absl::Span<const uint8_t> pixels;
  absl::Span<const float> values;
};

struct LocalResult {
  // What the exit rule decided: the first confident exit, else the deepest
  // (-1: the model has no exit), and its confidence.
  ExitDecision decision;
  int label = 0;  // the deciding exit's
  // The deciding exit's probabilities (classes values) and the split
  // activation (split width values); both valid until the next Run.
  absl::Span<const float> probabilities;
  absl::Span<const float> split;
};

class LocalClassifier {
 public:
  // `with_tail`: also ready to run the tail (RunTail), for an agent that
  // computes the whole network on the device.
  explicit LocalClassifier(std::shared_ptr<const Model> model,
                           bool with_tail = false);

  const Model& model() const { return *model_; }

  // Runs one sample. REQUIRES: the input has the model's raw width and
  // finite values (the caller checked them: the agent at admission), and
  // `rules` has one entry per exit of the head.
  LocalResult Run(const RawInput& input, absl::Span<const ExitRule> rules);

  // The tail on the split activation of the last Run: the whole network's
  // class probabilities, valid until the next call. Only when constructed
  // `with_tail`.
  absl::Span<const float> RunTail();

 private:
  std::shared_ptr<const Model> model_;
  Workspace workspace_;
  std::optional<Workspace> tail_workspace_;
  std::vector<float> tail_probs_;
  std::vector<float> input_;
  std::vector<float> split_;
  std::vector<float> exit_probs_;
};

}  // namespace spex

#endif  // SPEX_EDGE_AGENT_LOCAL_CLASSIFIER_H_
