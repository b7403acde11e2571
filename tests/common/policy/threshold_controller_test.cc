// The adaptive threshold against synthetic plants whose response to the
// threshold is known: it settles where the target holds, stays in its
// bounds, and follows a change of the plant.
#include "common/policy/threshold_controller.h"

#include <random>

#include "gtest/gtest.h"

namespace spex {
namespace {

using Target = ThresholdControllerOptions::Target;

struct PlantRun {
  double fraction;        // offloaded, over the second half
  double mean_threshold;  // over the second half
};

// Runs `steps` samples; offload probability is `offload(threshold)`.
template <typename Plant>
PlantRun RunBudget(ThresholdController& controller, Plant offload, int steps,
                   std::mt19937& rng) {
  std::uniform_real_distribution<double> u(0, 1);
  int offloaded = 0;
  double threshold_sum = 0;
  for (int i = 0; i < steps; ++i) {
    const double t = controller.threshold();
    const bool o = u(rng) < offload(t);
    controller.ObserveDecision(o);
    if (i >= steps / 2) {
      offloaded += o;
      threshold_sum += t;
    }
  }
  const int counted = steps - steps / 2;
  return {static_cast<double>(offloaded) / counted, threshold_sum / counted};
}

TEST(ThresholdControllerTest, HoldsAnOffloadBudget) {
  std::mt19937 rng(std::random_device{}());
  ThresholdControllerOptions options;
  options.target = Target::kOffloadBudget;
  options.offload_budget = 0.15;
  // A plant like a calibrated exit: offloads rise steeply near 1.
  auto plant = [](double t) { return t * t * t * t; };
  ThresholdController controller(options, 0.95);
  const PlantRun run = RunBudget(controller, plant, 40000, rng);
  EXPECT_NEAR(run.fraction, 0.15, 0.02);
  EXPECT_NEAR(plant(run.mean_threshold), 0.15, 0.03);
}

TEST(ThresholdControllerTest, FollowsAChangeOfThePlant) {
  std::mt19937 rng(std::random_device{}());
  ThresholdControllerOptions options;
  options.offload_budget = 0.3;
  ThresholdController controller(options, 0.5);
  const PlantRun before = RunBudget(
      controller, [](double t) { return t; }, 20000, rng);
  EXPECT_NEAR(before.mean_threshold, 0.3, 0.03);
  // The data got harder: twice the samples are unsure at any threshold.
  const PlantRun after = RunBudget(
      controller, [](double t) { return std::min(1.0, 2 * t); }, 20000, rng);
  EXPECT_NEAR(after.fraction, 0.3, 0.03);
  EXPECT_NEAR(after.mean_threshold, 0.15, 0.03);
}

TEST(ThresholdControllerTest, StaysWithinItsBounds) {
  std::mt19937 rng(std::random_device{}());
  ThresholdControllerOptions options;
  options.offload_budget = 0.0;  // unreachable while offloads happen
  options.min_threshold = 0.4;
  options.max_threshold = 0.9;
  ThresholdController controller(options, 2.0);  // starts clamped
  EXPECT_EQ(controller.threshold(), 0.9);
  RunBudget(
      controller, [](double) { return 0.5; }, 5000, rng);
  EXPECT_EQ(controller.threshold(), 0.4);
}

TEST(ThresholdControllerTest, HoldsALatencyQuantile) {
  std::mt19937 rng(std::random_device{}());
  ThresholdControllerOptions options;
  options.target = Target::kLatency;
  options.latency = absl::Milliseconds(20);
  options.latency_quantile = 0.95;
  ThresholdController controller(options, 0.9);
  std::uniform_real_distribution<double> u(0, 1);
  int slow = 0, counted = 0;
  double threshold_sum = 0;
  for (int i = 0; i < 100000; ++i) {
    // Offloaded with probability t; an offload is slow half of the time.
    const double t = controller.threshold();
    const bool offloaded = u(rng) < t;
    const bool is_slow = offloaded && u(rng) < 0.5;
    controller.ObserveLatency(is_slow ? absl::Milliseconds(80)
                                      : absl::Milliseconds(2));
    controller.ObserveDecision(offloaded);  // ignored: latency target
    if (i >= 50000) {
      slow += is_slow;
      threshold_sum += t;
      ++counted;
    }
  }
  // 5 % slow answers: offloads at 10 %.
  EXPECT_NEAR(static_cast<double>(slow) / counted, 0.05, 0.01);
  EXPECT_NEAR(threshold_sum / counted, 0.10, 0.02);
}

}  // namespace
}  // namespace spex
