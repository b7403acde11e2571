// Moves the exit threshold, within bounds, to hold one target (MDI-Exit's
// idea of letting load decide where samples leave; the update law is our
// own):
//
//   offload budget   the fraction of samples sent to the cloud (not
//                    confident) should be `target`;
//   latency          the p-th percentile of the answer latency should be
//                    `target` seconds (the latency includes the cloud's
//                    round trip and the agent's queue, so both drive it).
//
// Both are stochastic-approximation (Robbins-Monro) updates, one per
// sample:  threshold <- clamp(threshold - gain * (x - level))  where x is
// 1 when the sample offloaded (budget) or answered later than the target
// (latency), and level is the target fraction (budget) or 1 - p (latency).
// Why it is stable: the expected x, F(threshold), never decreases as the
// threshold rises (a higher threshold leaves fewer samples confident, and
// more offloads mean more slow answers), so the mean update
// -gain * (F(threshold) - level) always points toward the threshold where
// F equals the level (negative feedback, no overshoot on average); the
// clamp keeps it inside the bounds (no wind-up), and with a small constant
// gain the threshold settles within O(sqrt(gain)) of that point and tracks
// it when the load or the link changes. docs/ARCHITECTURE.md shows the
// measurement.
//
// Thread-safe (one atomic).
#ifndef SPEX_COMMON_POLICY_THRESHOLD_CONTROLLER_H_
#define SPEX_COMMON_POLICY_THRESHOLD_CONTROLLER_H_

#include <atomic>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace spex {

struct ThresholdControllerOptions {
  enum class Target { kOffloadBudget, kLatency };
  Target target = Target::kOffloadBudget;
  double offload_budget = 0.2;                      // fraction in [0, 1]
  absl::Duration latency = absl::Milliseconds(50);  // objective
  double latency_quantile = 0.99;
  double gain = 0.002;  // threshold change per unit error and sample
  double min_threshold = 0.0;
  double max_threshold = 1.0;

  // InvalidArgument naming the daemons' flags when a value is out of range:
  // the budget in [0, 1], the gain > 0, the quantile in (0, 1),
  // 0 <= min_threshold <= max_threshold <= 1.
  absl::Status Check() const;
};

class ThresholdController {
 public:
  ThresholdController(const ThresholdControllerOptions& options,
                      double initial_threshold);

  double threshold() const {
    return threshold_.load(std::memory_order_relaxed);
  }

  // Budget target: one sample's decision (offloaded = not confident).
  void ObserveDecision(bool offloaded);
  // Latency target: one answered sample's latency.
  void ObserveLatency(absl::Duration latency);

  const ThresholdControllerOptions& options() const { return options_; }

 private:
  void Step(double error);

  const ThresholdControllerOptions options_;
  std::atomic<double> threshold_;
};

}  // namespace spex

#endif  // SPEX_COMMON_POLICY_THRESHOLD_CONTROLLER_H_
