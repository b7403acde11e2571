#include "common/policy/change_detector.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace spex {

void ChangeDetector::Counts::Add(const Counts& other) {
  for (int i = 0; i < kBins; ++i) histogram[i] += other.histogram[i];
  samples += other.samples;
  weight += other.weight;
  disagreeing += other.disagreeing;
  disagreeing_squared += other.disagreeing_squared;
}

ChangeDetector::ChangeDetector(const ChangeDetectorOptions& options)
    : options_(options) {}

int ChangeDetector::Bin(float confidence) {
  const double c = std::clamp(static_cast<double>(confidence), 0.0, 1.0);
  const double spread = 1.0 - std::pow(1.0 - c, 0.25);
  return std::min(kBins - 1, static_cast<int>(spread * kBins));
}

void ChangeDetector::Observe(float confidence) {
  ++block_.histogram[Bin(confidence)];
  ++block_.samples;
}

void ChangeDetector::Label(bool agree, double probability) {
  const double w = 1.0 / probability;
  block_.weight += w;
  if (!agree) {
    block_.disagreeing += w;
    block_.disagreeing_squared += w * w;
  }
}

double ChangeDetector::KolmogorovSmirnov(const Counts& x, const Counts& y) {
  if (x.samples == 0 || y.samples == 0) return 0;
  double a = 0, b = 0, distance = 0;
  for (int i = 0; i < kBins; ++i) {
    a += static_cast<double>(x.histogram[i]) / x.samples;
    b += static_cast<double>(y.histogram[i]) / y.samples;
    distance = std::max(distance, std::fabs(a - b));
  }
  return distance;
}

namespace {

// The disagreement rate over all `samples` (Horvitz-Thompson: the labels'
// weighted disagreements over the samples, not over the labels' weights,
// so that a block whose few audits all missed it does not read as the
// offloads' rate alone), and its variance: the process's r (1 - r) / n
// plus the sampling's sum w (w - 1) d / n^2 (labels drawn with
// probability 1 / w; offloads, w = 1, add none).
struct Rate {
  double rate = 0, variance = 0;
};
Rate RateOf(double samples, double disagreeing, double disagreeing_squared) {
  if (samples <= 0) return {};
  const double r = std::min(1.0, disagreeing / samples);
  const double sampling = std::max(0.0, disagreeing_squared - disagreeing);
  return {r, r * (1 - r) / samples + sampling / (samples * samples)};
}

}  // namespace

double ChangeDetector::AgreementZ(const Counts& x, const Counts& y) {
  if (x.samples <= 0 || y.samples <= 0 || x.weight <= 0 || y.weight <= 0) {
    return 0;
  }
  const Rate block = RateOf(static_cast<double>(x.samples), x.disagreeing,
                            x.disagreeing_squared);
  const Rate reference = RateOf(static_cast<double>(y.samples), y.disagreeing,
                                y.disagreeing_squared);
  // A floor on the variance: a reference with no disagreement yet must not
  // make one disagreement in the block a certain change.
  const double floor =
      1.0 / (static_cast<double>(x.samples) * static_cast<double>(y.samples));
  return (block.rate - reference.rate) /
         std::sqrt(block.variance + reference.variance + floor);
}

bool ChangeDetector::ConfidenceMoved(const Counts& block,
                                     const Counts& reference) const {
  const double n = block.samples, m = reference.samples;
  if (n == 0 || m == 0) return false;
  // The KS critical value c(alpha) sqrt((n + m) / (n m)).
  const double critical = std::sqrt(-std::log(options_.alpha / 2) / 2) *
                          std::sqrt((n + m) / (n * m));
  return KolmogorovSmirnov(block, reference) > critical;
}

ChangeDetector::Change ChangeDetector::Compare(const Counts& block,
                                               const Counts& reference,
                                               int blocks) const {
  if (blocks < 1) return Change::kNone;
  if (ConfidenceMoved(block, reference)) return Change::kConfidence;
  if (blocks >= options_.min_agreement_blocks &&
      AgreementZ(block, reference) > options_.agreement_z) {
    return Change::kAgreement;
  }
  return Change::kNone;
}

ChangeDetector::Change ChangeDetector::CloseBlock() {
  Change change = Compare(block_, reference_, reference_blocks_);
  // A return is told by the confidences alone: the block's labels are
  // partly those of samples before it (a label comes back after its
  // sample), still of the inputs that are leaving. Were the exit worse on
  // the returned inputs, the agreement test would see it in the blocks
  // after, against the restored reference.
  if (change == Change::kConfidence && previous_blocks_ >= 1 &&
      !ConfidenceMoved(block_, previous_)) {
    // Back to the regime before the last change: its reference returns.
    std::swap(reference_, previous_);
    std::swap(reference_blocks_, previous_blocks_);
    reference_.Add(block_);
    ++reference_blocks_;
    change = Change::kReturned;
  } else if (change != Change::kNone) {
    // The block that showed the change may straddle it: the new reference
    // starts after it; the old one is remembered.
    previous_ = reference_;
    previous_blocks_ = reference_blocks_;
    reference_ = Counts();
    reference_blocks_ = 0;
  } else {
    reference_.Add(block_);
    ++reference_blocks_;
  }
  block_ = Counts();
  return change;
}

}  // namespace spex
