// The AVX-512 batch loop for rows that share their inputs: the tile formats
// (a tile's g rows read one input set) and the dense format (every row reads
// every input). Each X row fetched serves all the group's rows:
//  G rows x V zmm of columns in registers (G * V = 24 accumulators); per
//  input, V loads of X and G weight broadcasts feed G * V FMAs, against one
//  load per FMA for a row kernel. The loop is then bound by the FMA pipes
//  rather than by L2 -> L1 traffic (docs/BENCHMARKS.md has the arithmetic).
// No input tiling: each output is finished in registers in one pass, from
// the bias to the activation. Narrower column tails use fewer registers per
// row, down to 16 columns at a time, masked, and a last chunk narrower than
// a tile keeps the tile's rows in one register instead.
//
// Included only by files compiled with -mavx512f (plus AVX2/FMA).
#ifndef SPEX_COMMON_KERNELS_AVX512_SHARED_INPUTS_AVX512_H_
#define SPEX_COMMON_KERNELS_AVX512_SHARED_INPUTS_AVX512_H_

#include <immintrin.h>

#include <algorithm>
#include <cstddef>

#include "common/kernels/avx512/feature_major_avx512.h"
#include "common/kernels/packed_weights.h"
#include "common/kernels/row_views.h"

namespace spex {
namespace kernel_internal {

// One group's G rows over the columns `mask` selects in each of V zmm
// (all set but in a tail). y points at the group's first row.
template <int G, int V, class Group>
inline void GroupColumnsAvx512(const Group& group, const float* bias,
                               const float* x, size_t x_stride, float* y,
                               size_t y_stride, __mmask16 mask, bool relu) {
  __m512 acc[G][V];
  for (int r = 0; r < G; ++r) {
    for (int v = 0; v < V; ++v) acc[r][v] = _mm512_set1_ps(bias[r]);
  }
  for (int k = 0; k < group.count; ++k) {
    const float* xr = x + static_cast<size_t>(group.Input(k)) * x_stride;
    __m512 xv[V];
    for (int v = 0; v < V; ++v) {
      xv[v] = V == 1 ? _mm512_maskz_loadu_ps(mask, xr)
                     : _mm512_loadu_ps(xr + 16 * v);
    }
    for (int r = 0; r < G; ++r) {
      const __m512 w = _mm512_set1_ps(group.Weight(k, r));
      for (int v = 0; v < V; ++v)
        acc[r][v] = _mm512_fmadd_ps(w, xv[v], acc[r][v]);
    }
  }
  for (int r = 0; r < G; ++r) {
    float* yr = y + static_cast<size_t>(r) * y_stride;
    for (int v = 0; v < V; ++v) {
      const __m512 out = relu ? Relu512(acc[r][v]) : acc[r][v];
      if (V == 1) {
        _mm512_mask_storeu_ps(yr, mask, out);
      } else {
        _mm512_storeu_ps(yr + 16 * v, out);
      }
    }
  }
}

// The G rows of a group in one register: ymm for 8, xmm for 4.
template <int G>
struct RowsRegister;
template <>
struct RowsRegister<8> {
  using Vec = __m256;
  static Vec Load(const float* p) { return _mm256_loadu_ps(p); }
  static Vec Broadcast(const float* p) { return _mm256_broadcast_ss(p); }
  static Vec FmAdd(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
  static void Store(float* p, Vec v, bool relu) {
    _mm256_storeu_ps(p, relu ? _mm256_max_ps(v, _mm256_setzero_ps()) : v);
  }
};
template <>
struct RowsRegister<4> {
  using Vec = __m128;
  static Vec Load(const float* p) { return _mm_loadu_ps(p); }
  static Vec Broadcast(const float* p) { return _mm_broadcast_ss(p); }
  static Vec FmAdd(Vec a, Vec b, Vec c) { return _mm_fmadd_ps(a, b, c); }
  static void Store(float* p, Vec v, bool relu) {
    _mm_storeu_ps(p, relu ? _mm_max_ps(v, _mm_setzero_ps()) : v);
  }
};

// One group's G rows (G = 4 or 8, weights contiguous) over `width` < G
// columns: the rows in one register, each column's input broadcast, so a
// column costs one FMA per input where a masked zmm step costs G (a 7x7
// map's 49 columns end in one).
template <int G, class Group>
inline void GroupFewColumnsAvx512(const Group& group, const float* bias,
                                  const float* x, size_t x_stride, float* y,
                                  size_t y_stride, size_t width, bool relu) {
  using R = RowsRegister<G>;
  typename R::Vec acc[G - 1];
  for (size_t c = 0; c < width; ++c) acc[c] = R::Load(bias);
  for (int k = 0; k < group.count; ++k) {
    const float* xr = x + static_cast<size_t>(group.Input(k)) * x_stride;
    const typename R::Vec w = R::Load(group.Weights(k));
    for (size_t c = 0; c < width; ++c) {
      acc[c] = R::FmAdd(w, R::Broadcast(xr + c), acc[c]);
    }
  }
  for (size_t c = 0; c < width; ++c) {
    float rows[G];
    R::Store(rows, acc[c], relu);
    for (int r = 0; r < G; ++r) {
      y[static_cast<size_t>(r) * y_stride + c] = rows[r];
    }
  }
}

// Columns [j, batch) of rows [row_begin, row_end): chunks of 16 * V columns
// while they fit, then the rest with one register fewer per row at a time,
// down to masked 16-column chunks (a batch of 64 at V = 6 runs as one
// 64-column chunk, 49 columns at V = 3 as 48 + 1); a last chunk narrower
// than G takes the rows in one register instead (GroupFewColumnsAvx512).
template <int G, int V, class MakeGroup>
inline void RunColumnsAvx512(const PackedWeights& p, int row_begin, int row_end,
                             bool relu, size_t j, size_t batch, const float* x,
                             size_t x_stride, float* y, size_t y_stride,
                             MakeGroup make_group) {
  if constexpr (V > 1) {
    for (; j + 16 * V <= batch; j += 16 * V) {
      for (int q = row_begin / G; q < row_end / G; ++q) {
        GroupColumnsAvx512<G, V>(make_group(q), p.bias.data() + q * G, x + j,
                                 x_stride, y + q * G * y_stride + j, y_stride,
                                 __mmask16{0xffff}, relu);
      }
    }
    RunColumnsAvx512<G, V - 1>(p, row_begin, row_end, relu, j, batch, x,
                               x_stride, y, y_stride, make_group);
  } else {
    for (; j < batch; j += 16) {
      const size_t width = std::min<size_t>(16, batch - j);
      using Group = decltype(make_group(0));
      if constexpr ((G == 4 || G == 8) && Group::kContiguousWeights) {
        if (width < static_cast<size_t>(G)) {
          for (int q = row_begin / G; q < row_end / G; ++q) {
            GroupFewColumnsAvx512<G>(make_group(q), p.bias.data() + q * G,
                                     x + j, x_stride, y + q * G * y_stride + j,
                                     y_stride, width, relu);
          }
          continue;
        }
      }
      const __mmask16 mask = static_cast<__mmask16>((1u << width) - 1);
      for (int q = row_begin / G; q < row_end / G; ++q) {
        GroupColumnsAvx512<G, 1>(make_group(q), p.bias.data() + q * G, x + j,
                                 x_stride, y + q * G * y_stride + j, y_stride,
                                 mask, relu);
      }
    }
  }
}

// Rows [row_begin, row_end) (a multiple of G apart) in groups of G:
// make_group(q) gives group q, rows q*G .. q*G + G-1. Up to 24 accumulators
// (G rows x 24/G zmm; 32 zmm leave room for the inputs and a broadcast), at
// most 4 zmm (64 columns) per row for G < 4.
template <int G, class MakeGroup>
inline void RunGroupsAvx512(const PackedWeights& p, int row_begin, int row_end,
                            bool relu, size_t batch, const float* x,
                            size_t x_stride, float* y, size_t y_stride,
                            MakeGroup make_group) {
  constexpr int kVecs = G >= 4 ? 24 / G : 4;
  RunColumnsAvx512<G, kVecs>(p, row_begin, row_end, relu, 0, batch, x, x_stride,
                             y, y_stride, make_group);
}

}  // namespace kernel_internal
}  // namespace spex

#endif  // SPEX_COMMON_KERNELS_AVX512_SHARED_INPUTS_AVX512_H_
