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

bool ExitLossEstimator::StartAbove(Above* sums) const {
  *sums = Above();
  double weight = 0;
  for (int k = 0; k < kClasses; ++k) {
    weight += window_.weight[k] + current_.weight[k];
    for (int b = 0; b < kBins; ++b) {
      sums->all[k] += window_.labels[k][b] + current_.labels[k][b];
    }
  }
  if (weight <= 0) return false;
  for (int k = 0; k < kClasses; ++k) {
    sums->share[k] = (window_.weight[k] + current_.weight[k]) / weight;
  }
  return true;
}

void ExitLossEstimator::AddBin(int bin, Above* sums) const {
  for (int k = 0; k < kClasses; ++k) {
    sums->above[k] += window_.labels[k][bin] + current_.labels[k][bin];
    sums->disagreeing[k] +=
        window_.disagreements[k][bin] + current_.disagreements[k][bin];
  }
}

LossBound ExitLossEstimator::BoundOf(const Above& sums, double z) {
  LossBound bound;
  double centre = 0, spread = 0;
  bound.upper = 0;
  for (int k = 0; k < kClasses; ++k) {
    bound.labels += sums.all[k];
    const double above = sums.above[k];
    if (above <= 0) continue;
    const double part = sums.share[k] * above / sums.all[k];
    const double r = sums.disagreeing[k] / above;
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

LossBound ExitLossEstimator::BoundFromBin(int bin) const {
  Above sums;
  if (!StartAbove(&sums)) return LossBound();  // nothing known: upper 1
  for (int b = kBins - 1; b >= bin; --b) AddBin(b, &sums);
  return BoundOf(sums, options_.z);
}

LossBound ExitLossEstimator::BoundAt(double threshold) const {
  return BoundFromBin(Bin(threshold));
}

double ExitLossEstimator::LowestThresholdWithin(double objective, double lowest,
                                                double highest) const {
  // The bound never falls as the threshold does (more samples answered:
  // more labels and disagreements above it), so the answer is the edge
  // just above the first bin, from the top, that breaks the objective. One
  // pass down the bins: a block's end costs classes x bins additions.
  const int floor = Bin(lowest);
  Above sums;
  if (!StartAbove(&sums)) return highest;
  for (int b = kBins - 1; b >= floor; --b) {
    AddBin(b, &sums);
    if (BoundOf(sums, options_.z).upper > objective) {
      return b == kBins - 1 ? highest
                            : std::clamp(BinEdge(b + 1), lowest, highest);
    }
  }
  return lowest;
}

}  // namespace spex
