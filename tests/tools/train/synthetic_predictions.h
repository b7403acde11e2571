// Predictions whose answers are known, for the calibration tests: n samples
// of 4 classes; exit e's top probability is a random confidence c in
// [exit_low[e], 1], right with probability c (so confidence means
// something); the final classifier is right on `final_right` of them.
#ifndef SPEX_TESTS_TOOLS_TRAIN_SYNTHETIC_PREDICTIONS_H_
#define SPEX_TESTS_TOOLS_TRAIN_SYNTHETIC_PREDICTIONS_H_

#include <cstdint>
#include <random>
#include <vector>

#include "tools/train/evaluate.h"

namespace spex {

inline Predictions SyntheticPredictions(int n,
                                        const std::vector<double>& exit_low,
                                        double final_right, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Predictions p;
  p.samples = n;
  p.classes = 4;
  p.exit_probs.resize(exit_low.size());
  for (int i = 0; i < n; ++i) {
    const int label = static_cast<int>(rng() % 4);
    p.labels.push_back(static_cast<uint8_t>(label));
    for (size_t e = 0; e < exit_low.size(); ++e) {
      const double c = exit_low[e] + (1 - exit_low[e]) * u(rng);
      const int answer = u(rng) < c ? label : (label + 1) % 4;
      for (int k = 0; k < 4; ++k) {
        p.exit_probs[e].push_back(
            static_cast<float>(k == answer ? c : (1 - c) / 3));
      }
    }
    const int final_label = u(rng) < final_right ? label : (label + 2) % 4;
    for (int k = 0; k < 4; ++k) {
      p.final_probs.push_back(k == final_label ? 0.9f : 0.1f / 3);
    }
  }
  return p;
}

}  // namespace spex

#endif  // SPEX_TESTS_TOOLS_TRAIN_SYNTHETIC_PREDICTIONS_H_
