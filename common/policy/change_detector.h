// Notices that an exit's inputs changed, from what every stage sees anyway:
// block by block (a block is `block_samples` samples), the latest block
// against a reference made of every block since the last change.
//
//   confidence  the distribution of the exit's confidence over all samples
//               (labelled or not) moved: a two-sample Kolmogorov-Smirnov
//               test at level `alpha`, on 128 bins of 1 - (1 - c)^(1/4)
//               (max softmax piles up near 1; the map spreads that end);
//   agreement   the exit's disagreement with the full network over all
//               samples rose: the labels' weighted (Horvitz-Thompson) rate
//               in the block against the reference's, a one-sided z test
//               at `agreement_z`.
//
// Neither statistic depends on the threshold in force: every sample's
// confidence is seen, and the weighted rate estimates the disagreement over
// all samples whichever of them were labelled. A change restarts the
// reference with the block after the one that showed it (that one may
// straddle the change). The confidence test runs against a reference of
// one block already (its critical value accounts for the reference's size,
// and a longer wait would let a second change go unseen, absorbed into the
// new reference); the agreement test waits for `min_agreement_blocks`
// (its variance, estimated from few weighted labels, is too rough before).
//
// One regime back is remembered: the reference in force before the last
// change. A block whose confidence moved away from the reference but
// matches the remembered one (by the confidence test alone: the block's
// labels are partly of the samples before it) is a return
// (kReturned): the two references swap, so a camera that goes dark and
// comes back finds its daytime statistics (and the controller its labels)
// where it left them instead of learning them again.
//
// Not thread-safe (the accuracy controller serialises it).
#ifndef SPEX_COMMON_POLICY_CHANGE_DETECTOR_H_
#define SPEX_COMMON_POLICY_CHANGE_DETECTOR_H_

#include <array>
#include <cstdint>

namespace spex {

struct ChangeDetectorOptions {
  double alpha = 1e-4;       // KS level, per block
  double agreement_z = 4.0;  // z for a rise in disagreement
  int min_agreement_blocks = 4;
};

class ChangeDetector {
 public:
  enum class Change { kNone, kConfidence, kAgreement, kReturned };

  explicit ChangeDetector(const ChangeDetectorOptions& options);

  void Observe(float confidence);
  void Label(bool agree, double probability);
  // Ends a block: what changed in it against the reference.
  Change CloseBlock();

 private:
  static constexpr int kBins = 128;
  struct Counts {
    std::array<int64_t, kBins> histogram{};
    int64_t samples = 0;
    // Labels' weights, and the weighted disagreements: sum w d, and for
    // the variance sum w^2 d.
    double weight = 0, disagreeing = 0, disagreeing_squared = 0;
    void Add(const Counts& other);
  };
  static int Bin(float confidence);
  // Whether `block`'s confidences are not drawn from `reference`'s.
  bool ConfidenceMoved(const Counts& block, const Counts& reference) const;
  // Whether `block` differs from `reference` (made of `blocks` blocks),
  // and how.
  Change Compare(const Counts& block, const Counts& reference,
                 int blocks) const;
  static double KolmogorovSmirnov(const Counts& a, const Counts& b);
  // (block rate - reference rate) / its standard error.
  static double AgreementZ(const Counts& block, const Counts& reference);

  const ChangeDetectorOptions options_;
  Counts block_, reference_, previous_;
  int reference_blocks_ = 0, previous_blocks_ = 0;
};

}  // namespace spex

#endif  // SPEX_COMMON_POLICY_CHANGE_DETECTOR_H_
