// Choosing one threshold per exit for a chain of stages: each sample is
// answered by the first exit, in backbone order, whose confidence reaches
// its threshold, else by the final classifier at the last stage; a sample
// crosses every cut before the stage that answers it. The thresholds are
// chosen together on the validation hold-out, by coordinate descent over
// each exit's threshold grid, for one of two targets:
//
//   max drop       overall accuracy within X points of the full network (with
//                  the noise margin of calibration.h), answering samples as
//                  early as possible (the least mean stage);
//   stage budgets  at most a fraction b_c of the samples crosses cut c,
//                  with the best overall accuracy under those budgets.
#ifndef SPEX_TOOLS_TRAIN_CHAIN_CALIBRATION_H_
#define SPEX_TOOLS_TRAIN_CHAIN_CALIBRATION_H_

#include <vector>

#include "absl/status/statusor.h"
#include "common/model/model.h"
#include "spex/v1/model.pb.h"
#include "tools/train/evaluate.h"

namespace spex {

// The chain's policy at one set of thresholds.
struct ChainPoint {
  v1::ConfidenceMeasure measure = v1::CONFIDENCE_MEASURE_MAX_SOFTMAX;
  std::vector<double> thresholds;      // one per exit
  std::vector<double> exit_fraction;   // answered by each exit
  std::vector<double> stage_fraction;  // answered at each stage
  std::vector<double> stage_accuracy;  // of those answers (1 if none)
  std::vector<double> crossing;        // fraction crossing each cut
  double overall_accuracy = 0;
  double full_accuracy = 0;
  double drop = 0;         // full - overall
  double drop_stderr = 0;  // standard error of `drop` over the samples
  double mean_stage = 0;   // from 1
};

struct ChainTarget {
  double max_drop_points = -1;       // >= 0: this target
  std::vector<double> stage_budget;  // or: one fraction per cut
  double z = 1.645;
  int judged_samples = 10000;
};

// The policy's figures on `predictions` for `model`'s exits and stages.
ChainPoint EvaluateChain(const Model& model, const Predictions& predictions,
                         v1::ConfidenceMeasure measure,
                         const std::vector<double>& thresholds);

// The best thresholds for `target` over both confidence measures.
// InvalidArgument for a malformed target (a budget per cut is needed);
// NotFound when no thresholds meet it on validation.
absl::StatusOr<ChainPoint> ChooseChainThresholds(const Model& model,
                                                 const Predictions& validation,
                                                 const ChainTarget& target);

}  // namespace spex

#endif  // SPEX_TOOLS_TRAIN_CHAIN_CALIBRATION_H_
