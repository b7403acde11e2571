// The AVX-512 batch loop for rows that share their inputs: the tile formats
// (a tile's g rows read one input set) and the dense format (every row reads
// every input). Each X row fetched serves all the group's rows:
//  G rows x V zmm of columns in registers (G * V = 16 accumulators); per
//  input, V loads of X and G weight broadcasts feed G * V FMAs, against one
//  load per FMA for a row kernel. The loop is then bound by the FMA pipes
//  rather than by L2 -> L1 traffic (docs/BENCHMARKS.md has the arithmetic).
// No input tiling: each output is finished in registers in one pass, from
// the bias to the activation. Column tails run 16 at a time, masked.
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
      for (int v = 0; v < V; ++v) acc[r][v] = _mm512_fmadd_ps(w, xv[v], acc[r][v]);
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

// Rows [row_begin, row_end) (a multiple of G apart) in groups of G:
// make_group(q) gives group q, rows q*G .. q*G + G-1.
template <int G, class MakeGroup>
inline void RunGroupsAvx512(const PackedWeights& p, int row_begin, int row_end,
                            bool relu, size_t batch, const float* x,
                            size_t x_stride, float* y, size_t y_stride,
                            MakeGroup make_group) {
  constexpr int kVecs = 16 / G;
  constexpr size_t kColumns = 16 * kVecs;
  size_t j = 0;
  for (; j + kColumns <= batch; j += kColumns) {
    for (int q = row_begin / G; q < row_end / G; ++q) {
      GroupColumnsAvx512<G, kVecs>(make_group(q), p.bias.data() + q * G, x + j,
                                   x_stride, y + q * G * y_stride + j, y_stride,
                                   __mmask16{0xffff}, relu);
    }
  }
  for (; j < batch; j += 16) {
    const size_t width = std::min<size_t>(16, batch - j);
    const __mmask16 mask = static_cast<__mmask16>((1u << width) - 1);
    for (int q = row_begin / G; q < row_end / G; ++q) {
      GroupColumnsAvx512<G, 1>(make_group(q), p.bias.data() + q * G, x + j,
                               x_stride, y + q * G * y_stride + j, y_stride,
                               mask, relu);
    }
  }
}

}  // namespace kernel_internal
}  // namespace spex

#endif  // SPEX_COMMON_KERNELS_AVX512_SHARED_INPUTS_AVX512_H_
