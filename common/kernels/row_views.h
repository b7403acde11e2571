// Views of one output row of a packed layer as a list of connections
// (input, weight) grouped by input tile, and the tile schedule built on them,
// so that the feature-major batch kernels of every ISA share one loop over
// every weight format.
//
// Row(p, o).d_in connections; Input(k) and Weight(k) for k in [0, d_in);
// TileStart(t) is the first k whose input is in input tile t or later
// (PackedWeights::tile_starts), TileStart(n_tiles) == d_in.
//
// Only ISA kernel files include this. The AVX2 and AVX-512 files of one
// binary both do, each compiled for its own ISA: every function here is
// forced inline (SPEX_KERNEL_INLINE, even in Debug builds), so no shared
// out-of-line copy exists for the linker to pick from the wrong ISA's file.
#ifndef SPEX_COMMON_KERNELS_ROW_VIEWS_H_
#define SPEX_COMMON_KERNELS_ROW_VIEWS_H_

#include <algorithm>

#include "common/kernels/packed_weights.h"
#include "common/sparsity/pattern.h"

#define SPEX_KERNEL_INLINE inline __attribute__((always_inline))

namespace spex {
namespace kernel_internal {

class Sell8Row {
 public:
  SPEX_KERNEL_INLINE Sell8Row(const PackedWeights& p, int o)
      : indices_(p.indices.data() +
                 static_cast<size_t>(o / kSliceRows) * p.d_in * kSliceRows +
                 o % kSliceRows),
        weights_(p.weights.data() +
                 static_cast<size_t>(o / kSliceRows) * p.d_in * kSliceRows +
                 o % kSliceRows),
        tile_starts_(p.tile_starts.data() +
                     static_cast<size_t>(o) * (p.n_tiles + 1)),
        d_in(p.d_in) {}

  SPEX_KERNEL_INLINE int Input(int k) const { return indices_[k * kSliceRows]; }
  SPEX_KERNEL_INLINE float Weight(int k) const {
    return weights_[k * kSliceRows];
  }
  SPEX_KERNEL_INLINE int TileStart(int t) const {
    return static_cast<int>(tile_starts_[t]);
  }

 private:
  const uint16_t* indices_;
  const float* weights_;
  const uint32_t* tile_starts_;

 public:
  const int d_in;
};

class Block8Row {
 public:
  SPEX_KERNEL_INLINE Block8Row(const PackedWeights& p, int o)
      : codes_(p.indices.data() + static_cast<size_t>(o / kSliceRows) * p.d_in),
        weights_(p.weights.data() +
                 static_cast<size_t>(o / kSliceRows) * p.d_in * kSliceRows +
                 o % kSliceRows),
        tile_starts_(p.tile_starts.data() +
                     static_cast<size_t>(o / kSliceRows) * (p.n_tiles + 1)),
        lane_(o % kSliceRows),
        d_in(p.d_in) {}

  SPEX_KERNEL_INLINE int Input(int k) const {
    return BlockCodeInput(codes_[k], lane_);
  }
  SPEX_KERNEL_INLINE float Weight(int k) const {
    return weights_[k * kSliceRows];
  }
  SPEX_KERNEL_INLINE int TileStart(int t) const {
    return static_cast<int>(tile_starts_[t]);
  }

 private:
  const uint16_t* codes_;
  const float* weights_;
  const uint32_t* tile_starts_;
  int lane_;

 public:
  const int d_in;
};

// G consecutive rows that read the same inputs, as the batch kernels of the
// tile and dense formats see them: a tile of a tile format (G its group
// size) or G rows of a dense matrix (every row reads every input).
// count inputs; Input(k) and Weight(k, r) for row r of the group.
template <int G>
class TileGroup {
 public:
  SPEX_KERNEL_INLINE TileGroup(const PackedWeights& p, int q)
      : indices_(p.indices.data() + static_cast<size_t>(q) * p.d_in),
        weights_(p.weights.data() + static_cast<size_t>(q) * p.d_in * G),
        count(p.d_in) {}

  // A tile's G weights of one input are contiguous: vector loads.
  static constexpr bool kContiguousWeights = true;
  SPEX_KERNEL_INLINE int Input(int k) const { return indices_[k]; }
  SPEX_KERNEL_INLINE float Weight(int k, int r) const {
    return weights_[k * G + r];
  }
  SPEX_KERNEL_INLINE const float* Weights(int k) const {
    return weights_ + k * G;
  }

 private:
  const uint16_t* indices_;
  const float* weights_;

 public:
  const int count;
};

template <int G>
class DenseGroup {
 public:
  // Rows q*G .. q*G + G-1.
  SPEX_KERNEL_INLINE DenseGroup(const PackedWeights& p, int q)
      : weights_(p.weights.data() + static_cast<size_t>(q) * G * p.n_in),
        n_in_(p.n_in),
        count(p.n_in) {}

  static constexpr bool kContiguousWeights = false;
  SPEX_KERNEL_INLINE int Input(int k) const { return k; }
  SPEX_KERNEL_INLINE float Weight(int k, int r) const {
    return weights_[r * n_in_ + k];
  }

 private:
  const float* weights_;
  size_t n_in_;

 public:
  const int count;
};

// The feature-major batch schedule every ISA shares: for each tile of
// kTileColumns batch columns and each input tile, runs
//   accumulate(row, k0, k1, x_columns, x_stride, y_columns, width, bias, relu)
// for every row with work in that tile. The first input tile starts from the
// bias (bias != nullptr), the last applies the activation; partial sums live
// in y between input tiles. The first and last tiles always run, so every
// output is written even when a row has no connection in them.
template <class Row, size_t kTileColumns, class Accumulate>
SPEX_KERNEL_INLINE void RunFeatureMajor(const PackedWeights& p, bool relu,
                                        size_t batch, const float* x,
                                        size_t x_stride, float* y,
                                        size_t y_stride,
                                        Accumulate accumulate) {
  for (size_t j0 = 0; j0 < batch; j0 += kTileColumns) {
    const size_t width = std::min(kTileColumns, batch - j0);
    for (int t = 0; t < p.n_tiles; ++t) {
      const bool first = t == 0, last = t + 1 == p.n_tiles;
      for (int o = 0; o < p.n_out; ++o) {
        const Row row(p, o);
        const int k0 = row.TileStart(t), k1 = row.TileStart(t + 1);
        if (k0 == k1 && !first && !last) continue;
        accumulate(row, k0, k1, x + j0, x_stride, y + o * y_stride + j0, width,
                   first ? &p.bias[o] : nullptr, relu && last);
      }
    }
  }
}

}  // namespace kernel_internal
}  // namespace spex

#endif  // SPEX_COMMON_KERNELS_ROW_VIEWS_H_
