// Choosing the edge's exit threshold: sweep it over the validation hold-out
// for each confidence measure, then pick the most offload-saving threshold
// that keeps accuracy within a target of the full network, with a margin for
// the noise of a finite validation set (and of the test set that will judge
// it), so that the choice holds on data it never saw.
#ifndef SPEX_TOOLS_TRAIN_CALIBRATION_H_
#define SPEX_TOOLS_TRAIN_CALIBRATION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "spex/v1/model.pb.h"
#include "tools/train/evaluate.h"

namespace spex {

// The edge's policy at one threshold: exit when confidence >= threshold,
// otherwise send the split activation and take the final classifier's label.
struct PolicyPoint {
  double threshold = 0;
  double exit_fraction = 0;
  double exit_accuracy = 0;     // among samples that exit (1 if none do)
  double overall_accuracy = 0;  // exits' labels plus the cloud's for the rest
  double drop = 0;              // full accuracy - overall accuracy
  double drop_stderr = 0;       // standard error of `drop` over the samples
  // The loss against the full network: the fraction of samples that exit
  // with a label the full network would not give, and its standard error.
  double loss = 0;
  double loss_stderr = 0;
  double edge_macs_per_sample = 0;
  double bytes_sent_per_sample = 0;
};

struct CostModel {
  int64_t edge_macs = 0;    // head and exit, run for every sample
  int64_t split_bytes = 0;  // one sample's encoded split activation
};

// The policy's figures on `predictions` for exit `exit`.
PolicyPoint EvaluatePolicy(const Predictions& predictions, int exit,
                           v1::ConfidenceMeasure measure, double threshold,
                           const CostModel& cost);

struct Sweep {
  v1::ConfidenceMeasure measure;
  double full_accuracy = 0;
  double exit_accuracy = 0;         // the exit alone, on every sample
  std::vector<PolicyPoint> points;  // thresholds 0, 0.005, ..., 1
};

Sweep SweepThresholds(const Predictions& predictions, int exit,
                      v1::ConfidenceMeasure measure, const CostModel& cost);

struct CalibrationTarget {
  // Exactly one is set (>= 0): the largest accuracy drop allowed, in
  // percentage points, the largest loss against the full network (the
  // accuracy objective's measure, in points), or the exit fraction wanted.
  double max_drop_points = -1;
  double max_loss_points = -1;
  double exit_fraction = -1;
  // One-sided confidence of the margin (1.645: 95 %).
  double z = 1.645;
  // The size of the set that will judge the choice (the test set); the
  // margin covers its noise as well as the validation set's.
  int judged_samples = 10000;
};

struct CalibrationChoice {
  v1::ConfidenceMeasure measure;
  PolicyPoint validation;  // the chosen point, on the validation set
  double margin = 0;       // subtracted from the target, as a fraction
};

// The best point over `sweeps` (most samples exiting) that meets `target`.
absl::StatusOr<CalibrationChoice> ChooseThreshold(
    const std::vector<Sweep>& sweeps, int validation_samples,
    const CalibrationTarget& target);

// threshold,exit_fraction,exit_accuracy,overall_accuracy,
// edge_macs_per_sample,bytes_sent_per_sample
absl::Status WriteSweepCsv(const std::string& path, const Sweep& sweep);

// Accuracy against the fraction of samples offloaded, one curve per
// measure, the full network's accuracy as a line, the choice marked.
absl::Status WriteTradeOffSvg(const std::string& path, const std::string& title,
                              const std::vector<Sweep>& sweeps,
                              const CalibrationChoice& choice);

}  // namespace spex

#endif  // SPEX_TOOLS_TRAIN_CALIBRATION_H_
