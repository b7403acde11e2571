// The edge's inference on one sample: the model's input scaling, the head,
// and its exit classifiers, with every buffer allocated once, so a sample
// costs no allocation. One LocalClassifier per thread; the model is shared.
#ifndef SPEX_EDGE_AGENT_LOCAL_CLASSIFIER_H_
#define SPEX_EDGE_AGENT_LOCAL_CLASSIFIER_H_

#include <memory>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "common/model/model.h"

namespace spex {

// How the edge decides that an exit is confident.
struct ExitRule {
  v1::ConfidenceMeasure measure = v1::CONFIDENCE_MEASURE_UNSPECIFIED;
  float threshold = 0.0f;  // confident when confidence >= threshold
};

// The model's calibrated rule for each exit in the head (the edge's), in
// exit order.
std::vector<ExitRule> CalibratedRules(const Model& model);

struct LocalResult {
  // The exit that answered (the first confident one), or the deepest exit
  // when none was confident; -1 when the model has no exit.
  int exit = -1;
  bool confident = false;
  int label = 0;
  float confidence = 0.0f;    // by the exit's rule's measure
  float probability = 0.0f;   // the label's softmax probability
  // The answering exit's probabilities (classes values) and the split
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

  // Runs one raw sample (the model's raw width). `rules` has one entry per
  // exit (an UNSPECIFIED measure never exits). InvalidArgument naming the
  // index of a non-finite value or a wrong size.
  absl::StatusOr<LocalResult> Run(absl::Span<const float> raw,
                                  absl::Span<const ExitRule> rules);

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
