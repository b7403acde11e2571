// Views of one output row of a packed layer as a list of connections
// (input, weight) with ascending input blocks, so that the feature-major batch
// kernels can share one loop over every weight format.
//
// Row(p, o).d_in connections; Input(k) and Weight(k) for k in [0, d_in);
// LowerBound(i) is the first k whose input is >= i, for i a multiple of
// kBlockWidth (batch kernels tile inputs on such boundaries).
//
// Only ISA kernel files include this, each binary compiling it for one ISA
// only, so the inline definitions cannot mix instruction sets.
#ifndef SPEX_COMMON_KERNELS_ROW_VIEWS_H_
#define SPEX_COMMON_KERNELS_ROW_VIEWS_H_

#include <algorithm>

#include "common/kernels/packed_weights.h"
#include "common/sparsity/pattern.h"

namespace spex {
namespace kernel_internal {

class Sell8Row {
 public:
  Sell8Row(const PackedWeights& p, int o)
      : indices_(p.indices.data() +
                 static_cast<size_t>(o / kSliceRows) * p.d_in * kSliceRows +
                 o % kSliceRows),
        weights_(p.weights.data() +
                 static_cast<size_t>(o / kSliceRows) * p.d_in * kSliceRows +
                 o % kSliceRows),
        d_in(p.d_in) {}

  int Input(int k) const { return indices_[k * kSliceRows]; }
  float Weight(int k) const { return weights_[k * kSliceRows]; }
  int LowerBound(int input) const {
    int lo = 0, hi = d_in;
    while (lo < hi) {
      const int mid = (lo + hi) / 2;
      if (Input(mid) < input) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

 private:
  const uint16_t* indices_;
  const float* weights_;

 public:
  const int d_in;
};

class Block8Row {
 public:
  Block8Row(const PackedWeights& p, int o)
      : codes_(p.indices.data() + static_cast<size_t>(o / kSliceRows) * p.d_in),
        weights_(p.weights.data() +
                 static_cast<size_t>(o / kSliceRows) * p.d_in * kSliceRows +
                 o % kSliceRows),
        lane_(o % kSliceRows),
        d_in(p.d_in) {}

  int Input(int k) const { return BlockCodeInput(codes_[k], lane_); }
  float Weight(int k) const { return weights_[k * kSliceRows]; }
  // Codes ascend by block, so a block-aligned input splits them cleanly.
  int LowerBound(int input) const {
    const uint16_t first_code = MakeBlockCode(input / kBlockWidth, 0);
    return static_cast<int>(
        std::lower_bound(codes_, codes_ + d_in, first_code) - codes_);
  }

 private:
  const uint16_t* codes_;
  const float* weights_;
  int lane_;

 public:
  const int d_in;
};

class DenseRow {
 public:
  DenseRow(const PackedWeights& p, int o)
      : weights_(p.weights.data() + static_cast<size_t>(o) * p.n_in),
        d_in(p.n_in) {}

  int Input(int k) const { return k; }
  float Weight(int k) const { return weights_[k]; }
  int LowerBound(int input) const { return input; }

 private:
  const float* weights_;

 public:
  const int d_in;
};

// Inputs per tile of a feature-major batch kernel. Tiling keeps a block of
// X in L1 while all rows read it; a tile spans about 16 connections per row
// so that reloading each row's partial sums stays cheap.
inline int InputTileForBatch(const PackedWeights& p) {
  const int wanted = (16 * p.n_in / std::max(1, p.d_in) + kBlockWidth - 1) /
                     kBlockWidth * kBlockWidth;
  return std::min(p.n_in, std::max(64, wanted));
}

}  // namespace kernel_internal
}  // namespace spex

#endif  // SPEX_COMMON_KERNELS_ROW_VIEWS_H_
