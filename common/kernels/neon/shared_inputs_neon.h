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

// V q registers of consecutive floats, with as few loads as NEON allows
// (ld1 takes up to four registers).
template <int V>
inline void LoadColumns(const float* x, float32x4_t* xv) {
  if constexpr (V >= 4) {
    const float32x4x4_t four = vld1q_f32_x4(x);
    for (int i = 0; i < 4; ++i) xv[i] = four.val[i];
    LoadColumns<V - 4>(x + 16, xv + 4);
  } else if constexpr (V == 3) {
    const float32x4x3_t three = vld1q_f32_x3(x);
    for (int i = 0; i < 3; ++i) xv[i] = three.val[i];
  } else if constexpr (V == 2) {
    const float32x4x2_t two = vld1q_f32_x2(x);
    xv[0] = two.val[0];
    xv[1] = two.val[1];
  } else if constexpr (V == 1) {
    xv[0] = vld1q_f32(x);
  }
}

// One group's G rows over 4 * V columns; y points at the group's first row.
// The loops over rows and registers are unrolled whole (the pragmas): left
// to itself GCC kept the accumulators in memory, a store per FMA group.
template <int G, int V, class Group>
inline void GroupColumnsNeon(const Group& group, const float* bias,
                             const float* x, size_t x_stride, float* y,
                             size_t y_stride, bool relu) {
  float32x4_t acc[G][V];
#pragma GCC unroll 16
  for (int r = 0; r < G; ++r) {
#pragma GCC unroll 16
    for (int v = 0; v < V; ++v) acc[r][v] = vdupq_n_f32(bias[r]);
  }
  // The row address as one multiply-add on bytes (a float stride costs a
  // shift more per input).
  const char* x_bytes = reinterpret_cast<const char*>(x);
  size_t stride_bytes = x_stride * sizeof(float);
  asm("" : "+r"(stride_bytes));  // else GCC folds the shift back in
  for (int k = 0; k < group.count; ++k) {
    const float* xr = reinterpret_cast<const float*>(
        x_bytes + static_cast<size_t>(group.Input(k)) * stride_bytes);
    float32x4_t xv[V];
    LoadColumns<V>(xr, xv);
    if constexpr (Group::kContiguousWeights && G % 4 == 0) {
      const float* w = group.Weights(k);
      float32x4_t wq[G / 4];
      if constexpr (G == 8) {
        const float32x4x2_t pair = vld1q_f32_x2(w);  // one ld1 of 8 floats
        wq[0] = pair.val[0];
        wq[1] = pair.val[1];
      } else {
#pragma GCC unroll 16
        for (int h = 0; h < G / 4; ++h) wq[h] = vld1q_f32(w + 4 * h);
      }
#pragma GCC unroll 16
      for (int h = 0; h < G / 4; ++h) {
        const float32x4_t wv = wq[h];
#pragma GCC unroll 16
        for (int v = 0; v < V; ++v) {
          acc[4 * h + 0][v] = vfmaq_laneq_f32(acc[4 * h + 0][v], xv[v], wv, 0);
          acc[4 * h + 1][v] = vfmaq_laneq_f32(acc[4 * h + 1][v], xv[v], wv, 1);
          acc[4 * h + 2][v] = vfmaq_laneq_f32(acc[4 * h + 2][v], xv[v], wv, 2);
          acc[4 * h + 3][v] = vfmaq_laneq_f32(acc[4 * h + 3][v], xv[v], wv, 3);
        }
      }
    } else {
#pragma GCC unroll 16
      for (int r = 0; r < G; ++r) {
        const float w = group.Weight(k, r);
#pragma GCC unroll 16
        for (int v = 0; v < V; ++v) {
          acc[r][v] = vfmaq_n_f32(acc[r][v], xv[v], w);
        }
      }
    }
  }
  const float32x4_t zero = vdupq_n_f32(0.0f);
#pragma GCC unroll 16
  for (int r = 0; r < G; ++r) {
#pragma GCC unroll 16
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
  if constexpr (Group::kContiguousWeights && G % 4 == 0) {
    // The G rows in G / 4 q registers: the input broadcast, the tile's
    // weights loaded as they lie (a 7x7 map's 49 columns end in one).
    float32x4_t sums[G / 4];
#pragma GCC unroll 16
    for (int h = 0; h < G / 4; ++h) sums[h] = vld1q_f32(bias + 4 * h);
    for (int k = 0; k < group.count; ++k) {
      const float32x4_t xk =
          vld1q_dup_f32(x + static_cast<size_t>(group.Input(k)) * x_stride);
      const float* w = group.Weights(k);
#pragma GCC unroll 16
      for (int h = 0; h < G / 4; ++h) {
        sums[h] = vfmaq_f32(sums[h], vld1q_f32(w + 4 * h), xk);
      }
    }
    alignas(16) float out[G];
#pragma GCC unroll 16
    for (int h = 0; h < G / 4; ++h) {
      vst1q_f32(out + 4 * h,
                relu ? vmaxq_f32(sums[h], vdupq_n_f32(0.0f)) : sums[h]);
    }
    for (int r = 0; r < G; ++r) y[static_cast<size_t>(r) * y_stride] = out[r];
    return;
  }
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

// Columns [j_begin, j_end) (a multiple of 4 * V apart) of rows [row_begin,
// row_end), in groups of G. A function of its own: inlined beside the tails
// below, GCC ran short of registers and reloaded three loop invariants from
// the stack on every input.
template <int G, int V, class MakeGroup>
__attribute__((noinline)) void ColumnBlocksNeon(
    const float* bias, int row_begin, int row_end, bool relu, size_t j_begin,
    size_t j_end, const float* x, size_t x_stride, float* y, size_t y_stride,
    const MakeGroup& make_group) {
  for (size_t j = j_begin; j < j_end; j += 4 * V) {
    for (int q = row_begin / G; q < row_end / G; ++q) {
      GroupColumnsNeon<G, V>(make_group(q), bias + q * G, x + j, x_stride,
                             y + q * G * y_stride + j, y_stride, relu);
    }
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
  const size_t blocks_end = batch / kColumns * kColumns;
  ColumnBlocksNeon<G, V>(p.bias.data(), row_begin, row_end, relu, 0, blocks_end,
                         x, x_stride, y, y_stride, make_group);
  size_t j = blocks_end;
  if constexpr (V > 1) {
    const size_t quads_end = j + (batch - j) / 4 * 4;
    ColumnBlocksNeon<G, 1>(p.bias.data(), row_begin, row_end, relu, j,
                           quads_end, x, x_stride, y, y_stride, make_group);
    j = quads_end;
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
