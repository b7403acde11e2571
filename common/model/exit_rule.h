// The early-exit rule, the one every stage and every calibration applies: a
// stage's exits are tried in the order they follow the backbone, and the
// first whose confidence reaches its threshold answers. An exit the model
// did not calibrate answers only under a threshold given at the stage (a
// flag or a controller), measured by max softmax.
#ifndef SPEX_COMMON_MODEL_EXIT_RULE_H_
#define SPEX_COMMON_MODEL_EXIT_RULE_H_

#include <optional>
#include <vector>

#include "absl/types/span.h"
#include "common/model/model_part.h"
#include "spex/v1/model.pb.h"

namespace spex {

// How one exit decides that it is confident.
struct ExitRule {
  // UNSPECIFIED: never confident.
  v1::ConfidenceMeasure measure = v1::CONFIDENCE_MEASURE_UNSPECIFIED;
  float threshold = 0.0f;  // confident when confidence >= threshold
};

// Confidence `confidence` reaches `threshold`: the comparison every stage
// and every calibration makes (thresholds in double or float alike).
inline bool ReachesThreshold(float confidence, double threshold) {
  return static_cast<double>(confidence) >= threshold;
}

// One rule per exit of `part`, in its order: the model's calibrated ones,
// or, with `threshold`, that threshold for every exit (SetThreshold).
std::vector<ExitRule> ExitRulesFor(const ModelPart& part,
                                   std::optional<float> threshold);

// Holds every rule to `threshold`; an uncalibrated exit is then measured by
// max softmax.
void SetThreshold(float threshold, absl::Span<ExitRule> rules);

// What the exits say of one sample.
struct ExitDecision {
  // The first confident exit or, when none is, the deepest; -1 when there
  // is no exit.
  int exit = -1;
  bool confident = false;
  // That exit's confidence by its rule's measure (max softmax for an
  // uncalibrated exit, reported only).
  float confidence = 0.0f;
};

// Applies `rules` to one sample's exit probabilities: exit e's `classes`
// values at exit_probs + e * classes.
ExitDecision DecideExit(absl::Span<const ExitRule> rules,
                        const float* exit_probs, int classes);

// The same rule on confidences already measured (calibration's tables):
// the first e with confidences[e] reaching thresholds[e], or -1.
int FirstConfidentExit(absl::Span<const float> confidences,
                       absl::Span<const double> thresholds);

}  // namespace spex

#endif  // SPEX_COMMON_MODEL_EXIT_RULE_H_
