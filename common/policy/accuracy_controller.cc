#include "common/policy/accuracy_controller.h"

#include <algorithm>

namespace spex {

absl::Status AccuracyObjectiveOptions::Check() const {
  if (!(objective > 0 && objective < 1) ||
      !(min_threshold >= 0 && min_threshold <= max_threshold &&
        max_threshold <= 1) ||
      !(audit_min >= 0 && audit_min <= audit_max && audit_max <= 1) ||
      !(audit_byte_share > 0 && audit_byte_share < 1) || hold_blocks < 0 ||
      window.block_samples < 1 || window.window_blocks < 1) {
    return absl::InvalidArgumentError(
        "accuracy objective: --accuracy_objective in (0, 1), 0 <= "
        "--threshold_min <= --threshold_max <= 1, 0 <= --audit_min <= "
        "--audit_max <= 1, --audit_byte_share in (0, 1)");
  }
  return absl::OkStatus();
}

AccuracyController::AccuracyController(const AccuracyObjectiveOptions& options,
                                       double initial_threshold)
    : options_(options),
      threshold_(std::clamp(initial_threshold, options.min_threshold,
                            options.max_threshold)),
      audit_rate_(options.audit_max),
      estimator_(options.window),
      detector_(options.detector),
      hold_(options.hold_blocks) {}

void AccuracyController::ObserveSample(float confidence, bool offloaded) {
  absl::MutexLock lock(&mutex_);
  detector_.Observe(confidence);
  ++block_samples_;
  block_offloads_ += offloaded;
  if (estimator_.Count()) EndBlock();
}

void AccuracyController::ObserveLabel(float confidence, bool agree,
                                      double probability) {
  if (!(probability > 0)) return;
  absl::MutexLock lock(&mutex_);
  estimator_.Label(confidence, agree, std::min(probability, 1.0));
  detector_.Label(agree, std::min(probability, 1.0));
}

void AccuracyController::EndBlock() {
  const ChangeDetector::Change change = detector_.CloseBlock();
  if (change == ChangeDetector::Change::kReturned) {
    estimator_.Resume();
    hold_ = options_.hold_blocks;
    ++changes_;
  } else if (change != ChangeDetector::Change::kNone) {
    estimator_.Restart();
    hold_ = options_.hold_blocks;
    ++changes_;
  } else if (hold_ > 0) {
    --hold_;
  }
  const double threshold = estimator_.LowestThresholdWithin(
      options_.objective, options_.min_threshold, options_.max_threshold);
  threshold_.store(threshold, std::memory_order_relaxed);
  loss_ = estimator_.BoundAt(threshold);

  const bool loose = loss_.upper - loss_.estimate > options_.objective / 2;
  double rate = (hold_ > 0 || loose) ? options_.audit_max : options_.audit_min;
  // Audits per offload: at most share / (1 - share) of the offloads' bytes
  // (both send the same activation), spread over the exit's answers.
  const double offloaded = static_cast<double>(block_offloads_) /
                           std::max<int64_t>(block_samples_, 1);
  if (offloaded < 1) {
    const double share = options_.audit_byte_share;
    rate = std::min(rate, share / (1 - share) * offloaded / (1 - offloaded));
  }
  audit_rate_.store(rate, std::memory_order_relaxed);
  block_offloads_ = block_samples_ = 0;
}

AccuracyController::State AccuracyController::state() const {
  absl::MutexLock lock(&mutex_);
  return {loss_, threshold(), audit_rate(), changes_};
}

}  // namespace spex
