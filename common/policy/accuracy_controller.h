// Holds an accuracy objective: the loss against the full network (the
// fraction of all samples an exit answers with a label the full network
// would not give, exit_loss_estimator.h) at most `objective` with high
// confidence, answering on the device as often as that allows.
//
// Evidence: every sample sent on comes back labelled by the full network;
// a fraction of the exit's own answers (the audit rate) is sent on too.
// At the end of each block of samples:
//   1. the change detector (change_detector.h) compares the block with the
//      blocks before it; on a change the estimator forgets every block but
//      this one, so the bound widens at once and the threshold rises toward
//      offloading until new labels say otherwise, and the audit rate stays
//      at its maximum for `hold_blocks` blocks; on a return to the inputs
//      before the last change the labels of that time come back instead;
//   2. the threshold becomes the lowest whose upper bound is within the
//      objective (within [min_threshold, max_threshold]);
//   3. the audit rate is `audit_max` while the bound at that threshold is
//      loose (its width above half the objective) or a change is recent,
//      else `audit_min`; never more than keeps the audits' bytes within
//      `audit_byte_share` of everything sent (the audits sent per offload
//      follow from the last block's offload fraction).
// Why it settles: on unchanging inputs the window grows to `max_blocks`
// blocks and the bound tightens as labels accumulate, so the threshold
// falls toward the point where the true loss meets the objective and stays
// above it (the bound, not the estimate, decides); a threshold below that
// point lets more disagreements be seen by audits, which raises the bound
// and the threshold again (negative feedback). docs/ARCHITECTURE.md shows
// it under drift.
//
// Thread-safe: decisions and labels come from many threads (one mutex,
// held for a few additions; a block's end, once per `block_samples`
// samples, one pass over the estimator's bins).
#ifndef SPEX_COMMON_POLICY_ACCURACY_CONTROLLER_H_
#define SPEX_COMMON_POLICY_ACCURACY_CONTROLLER_H_

#include <atomic>
#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/policy/change_detector.h"
#include "common/policy/exit_loss_estimator.h"

namespace spex {

struct AccuracyObjectiveOptions {
  double objective = 0.01;  // loss against the full network, a fraction
  double min_threshold = 0.0;
  double max_threshold = 1.0;
  double audit_min = 0.02;  // fractions of the exit's answers
  double audit_max = 0.25;
  double audit_byte_share = 0.1;  // of all bytes sent on
  int hold_blocks = 4;
  ExitLossOptions window;
  ChangeDetectorOptions detector;

  // InvalidArgument naming the daemons' flags when a value is out of range.
  absl::Status Check() const;
};

class AccuracyController {
 public:
  AccuracyController(const AccuracyObjectiveOptions& options,
                     double initial_threshold);

  double threshold() const {
    return threshold_.load(std::memory_order_relaxed);
  }
  // The probability with which an answer of the exit is audited now.
  double audit_rate() const {
    return audit_rate_.load(std::memory_order_relaxed);
  }

  // Every sample the exit decided on: its confidence, and whether it went
  // on (not confident).
  void ObserveSample(float confidence, bool offloaded);
  // A sample the full network labelled (sent on, or audited): whether the
  // exit's label agreed, and the probability it had of a label (1 when it
  // was sent on, the audit rate when audited).
  void ObserveLabel(float confidence, bool agree, double probability);

  struct State {
    LossBound loss;  // at the threshold in force
    double threshold = 0;
    double audit_rate = 0;
    int64_t changes = 0;  // changes detected
  };
  State state() const;

  const AccuracyObjectiveOptions& options() const { return options_; }

 private:
  void EndBlock() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  const AccuracyObjectiveOptions options_;
  std::atomic<double> threshold_;
  std::atomic<double> audit_rate_;
  mutable absl::Mutex mutex_;
  ExitLossEstimator estimator_ ABSL_GUARDED_BY(mutex_);
  ChangeDetector detector_ ABSL_GUARDED_BY(mutex_);
  int64_t block_offloads_ ABSL_GUARDED_BY(mutex_) = 0;
  int64_t block_samples_ ABSL_GUARDED_BY(mutex_) = 0;
  int hold_ ABSL_GUARDED_BY(mutex_) = 0;
  int64_t changes_ ABSL_GUARDED_BY(mutex_) = 0;
  LossBound loss_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace spex

#endif  // SPEX_COMMON_POLICY_ACCURACY_CONTROLLER_H_
