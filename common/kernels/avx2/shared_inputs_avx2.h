// The AVX2 batch loop for rows that share their inputs: the tile formats
// and the dense format (see shared_inputs_avx512.h for the why). With 16
// ymm registers, R rows (4, or 1 for a dense layer's last rows) run over 16
// columns at a time: per input, two loads of X and R weight broadcasts feed
// 2R FMAs. A group of G rows runs as G/R passes. Column tails run 8 at a
// time, masked.
//
// Included only by files compiled with -mavx2 -mfma.
#ifndef SPEX_COMMON_KERNELS_AVX2_SHARED_INPUTS_AVX2_H_
#define SPEX_COMMON_KERNELS_AVX2_SHARED_INPUTS_AVX2_H_

#include <immintrin.h>

#include <algorithm>
#include <cstddef>

#include "common/kernels/packed_weights.h"
#include "common/kernels/row_views.h"

namespace spex {
namespace kernel_internal {

inline __m256 Relu256(__m256 v) {
  return _mm256_max_ps(v, _mm256_setzero_ps());
}

// Mask of the first n (0..8) lanes for maskload/maskstore.
inline __m256i FirstLanes(size_t n) {
  alignas(32) static constexpr int32_t kLanes[16] = {
      -1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kLanes + 8 - n));
}

// Rows r0 .. r0+R-1 of a group over V ymm of columns (V = 2: 16 columns;
// V = 1: the `width` <= 8 columns of a tail). y points at row r0.
template <int R, int V, class Group>
inline void GroupRowsAvx2(const Group& group, int r0, const float* bias,
                          const float* x, size_t x_stride, float* y,
                          size_t y_stride, size_t width, bool relu) {
  const __m256i mask = FirstLanes(std::min<size_t>(width, 8));
  __m256 acc[R][V];
  for (int r = 0; r < R; ++r) {
    for (int v = 0; v < V; ++v) acc[r][v] = _mm256_set1_ps(bias[r]);
  }
  for (int k = 0; k < group.count; ++k) {
    const float* xr = x + static_cast<size_t>(group.Input(k)) * x_stride;
    __m256 xv[V];
    for (int v = 0; v < V; ++v) {
      xv[v] =
          V == 1 ? _mm256_maskload_ps(xr, mask) : _mm256_loadu_ps(xr + 8 * v);
    }
    for (int r = 0; r < R; ++r) {
      const __m256 w = _mm256_set1_ps(group.Weight(k, r0 + r));
      for (int v = 0; v < V; ++v)
        acc[r][v] = _mm256_fmadd_ps(w, xv[v], acc[r][v]);
    }
  }
  for (int r = 0; r < R; ++r) {
    float* yr = y + static_cast<size_t>(r) * y_stride;
    for (int v = 0; v < V; ++v) {
      const __m256 out = relu ? Relu256(acc[r][v]) : acc[r][v];
      if (V == 1) {
        _mm256_maskstore_ps(yr, mask, out);
      } else {
        _mm256_storeu_ps(yr + 8 * v, out);
      }
    }
  }
}

// Rows [row_begin, row_end) (a multiple of G apart) in groups of G, R rows
// per pass: make_group(q) gives group q, rows q*G .. q*G + G-1.
template <int G, int R, class MakeGroup>
inline void RunGroupsAvx2(const PackedWeights& p, int row_begin, int row_end,
                          bool relu, size_t batch, const float* x,
                          size_t x_stride, float* y, size_t y_stride,
                          MakeGroup make_group) {
  size_t j = 0;
  for (; j + 16 <= batch; j += 16) {
    for (int q = row_begin / G; q < row_end / G; ++q) {
      for (int r0 = 0; r0 < G; r0 += R) {
        const int row = q * G + r0;
        GroupRowsAvx2<R, 2>(make_group(q), r0, p.bias.data() + row, x + j,
                            x_stride, y + row * y_stride + j, y_stride, 16,
                            relu);
      }
    }
  }
  for (; j < batch; j += 8) {
    const size_t width = std::min<size_t>(8, batch - j);
    for (int q = row_begin / G; q < row_end / G; ++q) {
      for (int r0 = 0; r0 < G; r0 += R) {
        const int row = q * G + r0;
        GroupRowsAvx2<R, 1>(make_group(q), r0, p.bias.data() + row, x + j,
                            x_stride, y + row * y_stride + j, y_stride, width,
                            relu);
      }
    }
  }
}

}  // namespace kernel_internal
}  // namespace spex

#endif  // SPEX_COMMON_KERNELS_AVX2_SHARED_INPUTS_AVX2_H_
