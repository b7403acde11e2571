// NEON kernels for kBlock8 (block patterns). One sample: per slot, the 8-float
// block is loaded as two q registers and rotated with two tbl lookups (the
// NEON counterpart of vpermps), then two FMAs.
#include <arm_neon.h>

#include "common/kernels/kernel.h"
#include "common/kernels/neon/feature_major_neon.h"

namespace spex {
namespace {

// Byte indices for tbl over the 32-byte block: rotation r, lanes 0-7.
struct RotationTable {
  uint8_t bytes[kBlockWidth][kBlockWidth * 4];
  constexpr RotationTable() : bytes() {
    for (int r = 0; r < kBlockWidth; ++r) {
      for (int lane = 0; lane < kBlockWidth; ++lane) {
        const int element = (lane + r) % kBlockWidth;
        for (int b = 0; b < 4; ++b) {
          bytes[r][lane * 4 + b] = static_cast<uint8_t>(element * 4 + b);
        }
      }
    }
  }
};
constexpr RotationTable kRotations;

}  // namespace

void f32_block8_neon_single(const PackedWeights& p, bool relu, const float* x,
                            float* y) {
  const size_t d_in = p.d_in;
  const uint16_t* codes = p.indices.data();
  const float* w = p.weights.data();
  const float32x4_t zero = vdupq_n_f32(0.0f);
  for (int s = 0; s < p.n_slices; ++s) {
    float32x4_t lo = vld1q_f32(p.bias.data() + s * kSliceRows);
    float32x4_t hi = vld1q_f32(p.bias.data() + s * kSliceRows + 4);
    for (size_t k = 0; k < d_in; ++k) {
      const uint16_t code = codes[k];
      const uint8_t* block =
          reinterpret_cast<const uint8_t*>(x + BlockOfCode(code) * kBlockWidth);
      const uint8x16x2_t table = {{vld1q_u8(block), vld1q_u8(block + 16)}};
      const uint8_t* rotation = kRotations.bytes[RotationOfCode(code)];
      const float32x4_t x_lo =
          vreinterpretq_f32_u8(vqtbl2q_u8(table, vld1q_u8(rotation)));
      const float32x4_t x_hi =
          vreinterpretq_f32_u8(vqtbl2q_u8(table, vld1q_u8(rotation + 16)));
      lo = vfmaq_f32(lo, vld1q_f32(w), x_lo);
      hi = vfmaq_f32(hi, vld1q_f32(w + 4), x_hi);
      w += 8;
    }
    codes += d_in;
    if (relu) {
      lo = vmaxq_f32(lo, zero);
      hi = vmaxq_f32(hi, zero);
    }
    vst1q_f32(y + s * kSliceRows, lo);
    vst1q_f32(y + s * kSliceRows + 4, hi);
  }
}

void f32_block8_neon_batch(const PackedWeights& p, bool relu, size_t batch,
                           const float* x, size_t x_stride, float* y,
                           size_t y_stride) {
  kernel_internal::RunFeatureMajor<kernel_internal::Block8Row,
                                   kernel_internal::kTileColumnsNeon>(
      p, relu, batch, x, x_stride, y, y_stride,
      kernel_internal::AccumulateColumnsNeon<kernel_internal::Block8Row>);
}

}  // namespace spex
