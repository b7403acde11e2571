// The NEON inner loop of the feature-major batch kernels, for every weight
// format; RunFeatureMajor (row_views.h) walks the tiles around it. As
// feature_major_avx2.h with 4-lane vectors: 32 batch columns in 8
// accumulators per row.
//
// Included only by aarch64 kernel files.
#ifndef SPEX_COMMON_KERNELS_NEON_FEATURE_MAJOR_NEON_H_
#define SPEX_COMMON_KERNELS_NEON_FEATURE_MAJOR_NEON_H_

#include <arm_neon.h>

#include <algorithm>
#include <cstddef>

#include "common/kernels/packed_weights.h"
#include "common/kernels/row_views.h"

namespace spex {
namespace kernel_internal {

// Batch columns per tile: the widest run AccumulateColumnsNeon keeps in
// registers.
inline constexpr size_t kTileColumnsNeon = 32;

template <class Row>
inline void AccumulateColumnsNeon(const Row& row, int k0, int k1,
                                  const float* x, size_t x_stride, float* yo,
                                  size_t width, const float* bias, bool relu) {
  size_t j = 0;
  const float32x4_t zero = vdupq_n_f32(0.0f);
  for (; j + 32 <= width; j += 32) {
    float32x4_t acc[8];
    for (int i = 0; i < 8; ++i) {
      acc[i] = bias ? vdupq_n_f32(*bias) : vld1q_f32(yo + j + 4 * i);
    }
    for (int k = k0; k < k1; ++k) {
      const float w = row.Weight(k);
      const float* xr = x + static_cast<size_t>(row.Input(k)) * x_stride + j;
      for (int i = 0; i < 8; ++i) {
        acc[i] = vfmaq_n_f32(acc[i], vld1q_f32(xr + 4 * i), w);
      }
    }
    for (int i = 0; i < 8; ++i) {
      vst1q_f32(yo + j + 4 * i, relu ? vmaxq_f32(acc[i], zero) : acc[i]);
    }
  }
  for (; j + 4 <= width; j += 4) {
    float32x4_t acc = bias ? vdupq_n_f32(*bias) : vld1q_f32(yo + j);
    for (int k = k0; k < k1; ++k) {
      acc = vfmaq_n_f32(
          acc, vld1q_f32(x + static_cast<size_t>(row.Input(k)) * x_stride + j),
          row.Weight(k));
    }
    vst1q_f32(yo + j, relu ? vmaxq_f32(acc, zero) : acc);
  }
  for (; j < width; ++j) {
    float acc = bias ? *bias : yo[j];
    for (int k = k0; k < k1; ++k) {
      acc +=
          row.Weight(k) * x[static_cast<size_t>(row.Input(k)) * x_stride + j];
    }
    yo[j] = relu && acc < 0.0f ? 0.0f : acc;
  }
}

}  // namespace kernel_internal
}  // namespace spex

#endif  // SPEX_COMMON_KERNELS_NEON_FEATURE_MAJOR_NEON_H_
