// The NEON batch loop for rows that share their inputs: the tile formats and
// the dense format (see shared_inputs_avx512.h for the why). G rows x V q
// registers of columns; per input, V loads of X and the G weights feed
// G * V FMAs by element. A tile's G weights are contiguous: one q load per
// 4 of them, used lane by lane (fmla v.4s, v.4s, v.s[lane]), where the
// dense format's strided weights take one scalar load each. Column tails
// run 4 columns, then one column, at a time.
//
// Included only by aarch64 kernel files.
#ifndef SPEX_COMMON_KERNELS_NEON_SHARED_INPUTS_NEON_H_
#define SPEX_COMMON_KERNELS_NEON_SHARED_INPUTS_NEON_H_

#include <arm_neon.h>

#include <cstddef>

#include "common/kernels/packed_weights.h"
#include "common/kernels/row_views.h"

namespace spex {
namespace kernel_internal {

// One group's G rows over 4 * V columns; y points at the group's first row.
template <int G, int V, class Group>
inline void GroupColumnsNeon(const Group& group, const float* bias,
                             const float* x, size_t x_stride, float* y,
                             size_t y_stride, bool relu) {
  float32x4_t acc[G][V];
  for (int r = 0; r < G; ++r) {
    for (int v = 0; v < V; ++v) acc[r][v] = vdupq_n_f32(bias[r]);
  }
  for (int k = 0; k < group.count; ++k) {
    const float* xr = x + static_cast<size_t>(group.Input(k)) * x_stride;
    float32x4_t xv[V];
    for (int v = 0; v < V; ++v) xv[v] = vld1q_f32(xr + 4 * v);
    if constexpr (Group::kContiguousWeights && G % 4 == 0) {
      const float* w = group.Weights(k);
      for (int h = 0; h < G / 4; ++h) {
        const float32x4_t wv = vld1q_f32(w + 4 * h);
        for (int v = 0; v < V; ++v) {
          acc[4 * h + 0][v] = vfmaq_laneq_f32(acc[4 * h + 0][v], xv[v], wv, 0);
          acc[4 * h + 1][v] = vfmaq_laneq_f32(acc[4 * h + 1][v], xv[v], wv, 1);
          acc[4 * h + 2][v] = vfmaq_laneq_f32(acc[4 * h + 2][v], xv[v], wv, 2);
          acc[4 * h + 3][v] = vfmaq_laneq_f32(acc[4 * h + 3][v], xv[v], wv, 3);
        }
      }
    } else {
      for (int r = 0; r < G; ++r) {
        const float w = group.Weight(k, r);
        for (int v = 0; v < V; ++v) {
          acc[r][v] = vfmaq_n_f32(acc[r][v], xv[v], w);
        }
      }
    }
  }
  const float32x4_t zero = vdupq_n_f32(0.0f);
  for (int r = 0; r < G; ++r) {
    for (int v = 0; v < V; ++v) {
      vst1q_f32(y + static_cast<size_t>(r) * y_stride + 4 * v,
                relu ? vmaxq_f32(acc[r][v], zero) : acc[r][v]);
    }
  }
}

// One group's G rows over one column.
template <int G, class Group>
inline void GroupOneColumn(const Group& group, const float* bias,
                           const float* x, size_t x_stride, float* y,
                           size_t y_stride, bool relu) {
  float acc[G];
  for (int r = 0; r < G; ++r) acc[r] = bias[r];
  for (int k = 0; k < group.count; ++k) {
    const float xk = x[static_cast<size_t>(group.Input(k)) * x_stride];
    for (int r = 0; r < G; ++r) acc[r] += group.Weight(k, r) * xk;
  }
  for (int r = 0; r < G; ++r) {
    y[static_cast<size_t>(r) * y_stride] =
        relu && acc[r] < 0.0f ? 0.0f : acc[r];
  }
}

// Rows [row_begin, row_end) (a multiple of G apart) in groups of G, V q
// registers of columns: make_group(q) gives group q, rows q*G .. q*G + G-1.
template <int G, int V, class MakeGroup>
inline void RunGroupsNeon(const PackedWeights& p, int row_begin, int row_end,
                          bool relu, size_t batch, const float* x,
                          size_t x_stride, float* y, size_t y_stride,
                          MakeGroup make_group) {
  constexpr size_t kColumns = 4 * V;
  size_t j = 0;
  for (; j + kColumns <= batch; j += kColumns) {
    for (int q = row_begin / G; q < row_end / G; ++q) {
      GroupColumnsNeon<G, V>(make_group(q), p.bias.data() + q * G, x + j,
                             x_stride, y + q * G * y_stride + j, y_stride,
                             relu);
    }
  }
  if constexpr (V > 1) {
    for (; j + 4 <= batch; j += 4) {
      for (int q = row_begin / G; q < row_end / G; ++q) {
        GroupColumnsNeon<G, 1>(make_group(q), p.bias.data() + q * G, x + j,
                               x_stride, y + q * G * y_stride + j, y_stride,
                               relu);
      }
    }
  }
  for (; j < batch; ++j) {
    for (int q = row_begin / G; q < row_end / G; ++q) {
      GroupOneColumn<G>(make_group(q), p.bias.data() + q * G, x + j, x_stride,
                        y + q * G * y_stride + j, y_stride, relu);
    }
  }
}

}  // namespace kernel_internal
}  // namespace spex

#endif  // SPEX_COMMON_KERNELS_NEON_SHARED_INPUTS_NEON_H_
