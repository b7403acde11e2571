#include "common/policy/exit_loss_estimator.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace spex {
namespace {

// The class of a label drawn with `probability`: floor(log2(1 / p)).
int ClassOf(double probability) {
  int k = 0;
  for (double p = probability; p <= 0.5 && k + 1 < ExitLossEstimator::kClasses;
       p *= 2) {
    ++k;
  }
  return k;
}

}  // namespace

void ExitLossEstimator::Counts::Add(const Counts& other, double scale) {
  for (int k = 0; k < kClasses; ++k) {
    for (int b = 0; b < kBins; ++b) {
      labels[k][b] = scale * labels[k][b] + other.labels[k][b];
      disagreements[k][b] =
          scale * disagreements[k][b] + other.disagreements[k][b];
    }
    weight[k] = scale * weight[k] + other.weight[k];
  }
  samples = scale * samples + other.samples;
}

ExitLossEstimator::ExitLossEstimator(const ExitLossOptions& options)
    : options_(options) {}

int ExitLossEstimator::Bin(double confidence) {
  const double c = std::clamp(confidence, 0.0, 1.0);
  const double spread = 1.0 - std::pow(1.0 - c, 0.25);
  return std::min(kBins - 1, static_cast<int>(spread * kBins));
}

double ExitLossEstimator::BinEdge(int bin) {
  const double rest = 1.0 - static_cast<double>(bin) / kBins;
  return 1.0 - rest * rest * rest * rest;
}

bool ExitLossEstimator::Count() {
  if (++current_.samples < options_.block_samples) return false;
  window_.Add(current_, 1.0 - 1.0 / options_.window_blocks);
  last_ = current_;
  current_.Clear();
  return true;
}

void ExitLossEstimator::Label(float confidence, bool agree,
                              double probability) {
  const int k = ClassOf(probability);
  const int b = Bin(confidence);
  current_.labels[k][b] += 1;
  current_.disagreements[k][b] += agree ? 0 : 1;
  current_.weight[k] += 1.0 / probability;
}

void ExitLossEstimator::Restart() {
  aside_ = window_;
  window_ = last_;
}

void ExitLossEstimator::Resume() {
  std::swap(window_, aside_);
  window_.Add(last_, 1.0 - 1.0 / options_.window_blocks);
}

double ExitLossEstimator::samples() const {
  return window_.samples + current_.samples;
}

LossBound ExitLossEstimator::BoundFromBin(int bin) const {
  const double z = options_.z;
  double weight = 0;
  for (int k = 0; k < kClasses; ++k) {
    weight += window_.weight[k] + current_.weight[k];
  }
  LossBound bound;
  if (weight <= 0) return bound;  // nothing known: upper 1
  double centre = 0, spread = 0;
  bound.upper = 0;
  for (int k = 0; k < kClasses; ++k) {
    double all = 0, above = 0, disagreeing = 0;
    for (int b = 0; b < kBins; ++b) {
      const double n = window_.labels[k][b] + current_.labels[k][b];
      all += n;
      if (b >= bin) {
        above += n;
        disagreeing +=
            window_.disagreements[k][b] + current_.disagreements[k][b];
      }
    }
    bound.labels += all;
    if (above <= 0) continue;
    const double part =
        (window_.weight[k] + current_.weight[k]) / weight * above / all;
    const double r = disagreeing / above;
    // Wilson's score interval for r over `above` labels.
    const double z2n = z * z / above;
    const double wilson_centre = (r + z2n / 2) / (1 + z2n);
    const double wilson_half =
        z / (1 + z2n) * std::sqrt(r * (1 - r) / above + z2n / (4 * above));
    bound.estimate += part * r;
    centre += part * wilson_centre;
    spread += (part * wilson_half) * (part * wilson_half);
  }
  bound.upper = std::min(1.0, centre + std::sqrt(spread));
  return bound;
}

LossBound ExitLossEstimator::BoundAt(double threshold) const {
  return BoundFromBin(Bin(threshold));
}

double ExitLossEstimator::LowestThresholdWithin(double objective, double lowest,
                                                double highest) const {
  // The bound never falls as the threshold does (more samples answered:
  // more labels and disagreements above it), so the answer is the edge
  // just above the first bin, from the top, that breaks the objective.
  const int floor = Bin(lowest);
  for (int b = kBins - 1; b >= floor; --b) {
    if (BoundFromBin(b).upper > objective) {
      return b == kBins - 1 ? highest
                            : std::clamp(BinEdge(b + 1), lowest, highest);
    }
  }
  return lowest;
}

}  // namespace spex
