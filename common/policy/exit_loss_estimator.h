// What an exit's answers cost against the full network, and how sure we are
// of it, from samples whose full-network label is known.
//
// The loss at a threshold t is the fraction of all samples that the exit
// would answer (confidence >= t) with a label the full network would not
// give. Labels come from two places: every sample sent on (its confidence
// was below the threshold in force) comes back with the full network's
// answer, and a sampled fraction of the samples the exit answered is sent
// on as well (an audit). Each label carries the probability with which it
// was drawn (1 when sent on, the audit rate when audited): labels are
// grouped into classes by that probability (powers of two), and each class
// stands for its labels' summed inverse probabilities of the population.
// Within a class the labels are a uniform sample, so at a candidate
// threshold the class contributes
//
//   share * q * r    share: the class's weight over all classes' weight,
//                    q: the fraction of its labels at or above t,
//                    r: the fraction of those that disagree,
//
// whatever threshold was in force when each label was drawn, as long as
// every confidence had a chance of a label. The estimate is the sum; the
// upper bound takes each class's r at the centre and half-width of its
// Wilson score interval (right with few labels and no disagreement seen:
// 115 audits that saw none still allow a rate of 3.2 %), adds the centres
// and the half-widths in quadrature. tests/common/policy/
// exit_loss_estimator_test.cc measures its coverage on synthetic streams.
//
// Confidences are kept in 256 bins (of 1 - (1 - c)^(1/4), which spreads the
// end near 1 where max softmax piles up); candidate thresholds are the
// bins' lower edges. The window forgets geometrically: each closed block
// (`block_samples` samples) is added to the window after the window is
// scaled by 1 - 1/`window_blocks`. Restart() keeps only the last closed
// block (after a change in the inputs older labels describe another
// distribution) and puts the window aside; Resume() brings it back when the
// inputs return to the distribution before the change (change_detector.h).
// Memory is fixed at construction; nothing allocates after.
//
// Not thread-safe (the accuracy controller serialises it).
#ifndef SPEX_COMMON_POLICY_EXIT_LOSS_ESTIMATOR_H_
#define SPEX_COMMON_POLICY_EXIT_LOSS_ESTIMATOR_H_

#include <array>
#include <cstdint>

namespace spex {

struct ExitLossOptions {
  int block_samples = 500;
  // About 100,000 samples: bounding a loss of 1 % within half a point takes
  // about 1,500 audits, and audits kept to a tenth of the bytes sent are
  // 2-3 % of the samples when a fifth is offloaded.
  int window_blocks = 200;
  double z = 1.96;  // one-sided 97.5 %
};

struct LossBound {
  double estimate = 0;  // fraction of all samples
  double upper = 1;
  double labels = 0;  // labels behind it (decayed)
};

class ExitLossEstimator {
 public:
  static constexpr int kBins = 256;
  static constexpr int kClasses = 8;  // label probabilities 1 .. 1/128

  explicit ExitLossEstimator(const ExitLossOptions& options);

  // One sample the exit saw, labelled or not. True when it closed a block.
  bool Count();
  // A sample whose full-network label is known: its confidence, whether the
  // exit's label agreed, and the probability it had of being labelled
  // (in (0, 1]).
  void Label(float confidence, bool agree, double probability);

  // The loss if every sample at or above `threshold` (its bin's lower
  // edge) were answered by the exit.
  LossBound BoundAt(double threshold) const;
  // The lowest bin edge in [lowest, highest] whose bound is at most
  // `objective`; `highest` when none is.
  double LowestThresholdWithin(double objective, double lowest,
                               double highest) const;

  // After a change: the window is put aside, the last block starts anew.
  void Restart();
  // After a return to the distribution before the last change: the window
  // put aside comes back, with the last block; the one in force goes aside.
  void Resume();

  // Samples in the window (decayed), the block in progress included.
  double samples() const;

  static int Bin(double confidence);
  static double BinEdge(int bin);  // the lowest confidence in `bin`

 private:
  struct Counts {
    std::array<std::array<double, kBins>, kClasses> labels{};
    std::array<std::array<double, kBins>, kClasses> disagreements{};
    std::array<double, kClasses> weight{};
    double samples = 0;
    void Add(const Counts& other, double scale);
    void Clear() { *this = Counts(); }
  };
  // Per class, over the window and the block in progress: the labels in
  // all, those from some bin up and their disagreements, and the class's
  // share of all samples.
  struct Above {
    std::array<double, kClasses> all{}, above{}, disagreeing{}, share{};
  };
  // `above` empty (the top of the range), `all` and `share` filled; false
  // when there are no labels at all.
  bool StartAbove(Above* sums) const;
  // Moves `sums` down to include bin `bin`.
  void AddBin(int bin, Above* sums) const;
  static LossBound BoundOf(const Above& sums, double z);
  // Window and block in progress, each bin from `bin` up.
  LossBound BoundFromBin(int bin) const;

  const ExitLossOptions options_;
  Counts window_;   // closed blocks, decayed
  Counts aside_;    // the window before the last change
  Counts last_;     // the last closed block
  Counts current_;  // the block in progress
};

}  // namespace spex

#endif  // SPEX_COMMON_POLICY_EXIT_LOSS_ESTIMATOR_H_
