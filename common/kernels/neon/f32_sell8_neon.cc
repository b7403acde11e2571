// NEON kernels for kSell8 (any pattern). One sample: each slot serves 8 rows
// with two 4-lane FMAs whose inputs are assembled lane by lane (ld1 {v}[lane]).
#include <arm_neon.h>

#include <cstring>

#include "common/kernels/kernel.h"
#include "common/kernels/neon/feature_major_neon.h"

namespace spex {
namespace {

inline float32x4_t LoadFour(const float* x, const uint16_t* ix) {
  float32x4_t v = vld1q_dup_f32(x + ix[0]);
  v = vld1q_lane_f32(x + ix[1], v, 1);
  v = vld1q_lane_f32(x + ix[2], v, 2);
  return vld1q_lane_f32(x + ix[3], v, 3);
}

}  // namespace

void f32_sell8_neon_single(const PackedWeights& p, bool relu, const float* x,
                           float* y) {
  const size_t d_in = p.d_in;
  const uint16_t* ix = p.indices.data();
  const float* w = p.weights.data();
  const float32x4_t zero = vdupq_n_f32(0.0f);
  for (int s = 0; s < p.n_slices; ++s) {
    float32x4_t lo = vld1q_f32(p.bias.data() + s * kSliceRows);
    float32x4_t hi = vld1q_f32(p.bias.data() + s * kSliceRows + 4);
    for (size_t k = 0; k < d_in; ++k) {
      lo = vfmaq_f32(lo, vld1q_f32(w), LoadFour(x, ix));
      hi = vfmaq_f32(hi, vld1q_f32(w + 4), LoadFour(x, ix + 4));
      ix += 8;
      w += 8;
    }
    if (relu) {
      lo = vmaxq_f32(lo, zero);
      hi = vmaxq_f32(hi, zero);
    }
    const int row0 = s * kSliceRows;
    if (row0 + kSliceRows <= p.n_out) {
      vst1q_f32(y + row0, lo);
      vst1q_f32(y + row0 + 4, hi);
    } else {
      float tail[kSliceRows];
      vst1q_f32(tail, lo);
      vst1q_f32(tail + 4, hi);
      std::memcpy(y + row0, tail, (p.n_out - row0) * sizeof(float));
    }
  }
}

void f32_sell8_neon_batch(const PackedWeights& p, bool relu, size_t batch,
                          const float* x, size_t x_stride, float* y,
                          size_t y_stride) {
  kernel_internal::RunFeatureMajor<kernel_internal::Sell8Row,
                                   kernel_internal::kTileColumnsNeon>(
      p, relu, batch, x, x_stride, y, y_stride,
      kernel_internal::AccumulateColumnsNeon<kernel_internal::Sell8Row>);
}

}  // namespace spex
