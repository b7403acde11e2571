#include "common/policy/threshold_controller.h"

#include <algorithm>

namespace spex {

absl::Status ThresholdControllerOptions::Check() const {
  if (!(offload_budget >= 0 && offload_budget <= 1) || !(gain > 0) ||
      !(latency_quantile > 0 && latency_quantile < 1) ||
      !(min_threshold >= 0 && min_threshold <= max_threshold &&
        max_threshold <= 1)) {
    return absl::InvalidArgumentError(
        "adaptive threshold: --offload_budget in [0, 1], --controller_gain "
        "> 0, --latency_quantile in (0, 1), 0 <= --threshold_min <= "
        "--threshold_max <= 1");
  }
  return absl::OkStatus();
}

ThresholdController::ThresholdController(
    const ThresholdControllerOptions& options, double initial_threshold)
    : options_(options),
      threshold_(std::clamp(initial_threshold, options.min_threshold,
                            options.max_threshold)) {}

void ThresholdController::ObserveDecision(bool offloaded) {
  if (options_.target != ThresholdControllerOptions::Target::kOffloadBudget) {
    return;
  }
  Step((offloaded ? 1.0 : 0.0) - options_.offload_budget);
}

void ThresholdController::ObserveLatency(absl::Duration latency) {
  if (options_.target != ThresholdControllerOptions::Target::kLatency) return;
  Step((latency > options_.latency ? 1.0 : 0.0) -
       (1.0 - options_.latency_quantile));
}

void ThresholdController::Step(double error) {
  double current = threshold_.load(std::memory_order_relaxed);
  double next;
  do {
    next = std::clamp(current - options_.gain * error, options_.min_threshold,
                      options_.max_threshold);
  } while (!threshold_.compare_exchange_weak(current, next,
                                             std::memory_order_relaxed));
}

}  // namespace spex
