// NEON kernels for kTile4 and kTile8 (tile patterns).
//
// One sample: a slot's g weights are contiguous and multiply one input, so
// it costs one 16-bit index, one scalar load of x and g/4 FMAs by element
// (fmla v.4s, v.4s, v.s[0]) for g connections: tile8 about 5 instructions
// per 8 connections (ldrh, ldr s, ldp q, 2 fmla), where sell8 needs a gather
// of single lanes per connection.
//
// Batch (feature-major): the shared-inputs loop (shared_inputs_neon.h),
// tile4 as 4 rows x 24 columns, tile8 as 8 rows x 12 columns: 24
// accumulators, the X loads and the weights fill 29-31 of the 32
// registers. Counted under qemu (scripts/bench.sh kernels-arm64) on a
// 28x28x128 -> 128 3x3 convolution at 1/4, the loop retires 33 (tile4) and
// 32 (tile8) instructions per input for 96 multiply-adds, against 29 per 64
// with 16 columns and scalar weight loads.
#include <arm_neon.h>

#include "common/kernels/kernel.h"
#include "common/kernels/neon/shared_inputs_neon.h"

namespace spex {
namespace {

template <int G>
void TileSingle(const PackedWeights& p, bool relu, const float* x, float* y) {
  constexpr int kQuads = G / 4;
  const size_t d_in = p.d_in;
  const float32x4_t zero = vdupq_n_f32(0.0f);
  for (int q = 0; q < p.n_out / G; ++q) {
    const uint16_t* idx = p.indices.data() + q * d_in;
    const float* w = p.weights.data() + q * d_in * G;
    // Two accumulator sets (even and odd slots) halve the FMA chains.
    float32x4_t even[kQuads], odd[kQuads];
    for (int h = 0; h < kQuads; ++h) {
      even[h] = vld1q_f32(p.bias.data() + q * G + 4 * h);
      odd[h] = zero;
    }
    size_t k = 0;
    for (; k + 2 <= d_in; k += 2) {
      const float x0 = x[idx[k]], x1 = x[idx[k + 1]];
      for (int h = 0; h < kQuads; ++h) {
        even[h] = vfmaq_n_f32(even[h], vld1q_f32(w + k * G + 4 * h), x0);
        odd[h] = vfmaq_n_f32(odd[h], vld1q_f32(w + (k + 1) * G + 4 * h), x1);
      }
    }
    if (k < d_in) {
      const float x0 = x[idx[k]];
      for (int h = 0; h < kQuads; ++h) {
        even[h] = vfmaq_n_f32(even[h], vld1q_f32(w + k * G + 4 * h), x0);
      }
    }
    for (int h = 0; h < kQuads; ++h) {
      float32x4_t out = vaddq_f32(even[h], odd[h]);
      if (relu) out = vmaxq_f32(out, zero);
      vst1q_f32(y + q * G + 4 * h, out);
    }
  }
}

template <int G>
void TileBatch(const PackedWeights& p, bool relu, size_t batch, const float* x,
               size_t x_stride, float* y, size_t y_stride) {
  kernel_internal::RunGroupsNeon<G, 24 / G>(
      p, 0, p.n_out, relu, batch, x, x_stride, y, y_stride,
      [&p](int q) { return kernel_internal::TileGroup<G>(p, q); });
}

}  // namespace

void f32_tile4_neon_single(const PackedWeights& p, bool relu, const float* x,
                           float* y) {
  TileSingle<4>(p, relu, x, y);
}
void f32_tile4_neon_batch(const PackedWeights& p, bool relu, size_t batch,
                          const float* x, size_t x_stride, float* y,
                          size_t y_stride) {
  TileBatch<4>(p, relu, batch, x, x_stride, y, y_stride);
}
void f32_tile8_neon_single(const PackedWeights& p, bool relu, const float* x,
                           float* y) {
  TileSingle<8>(p, relu, x, y);
}
void f32_tile8_neon_batch(const PackedWeights& p, bool relu, size_t batch,
                          const float* x, size_t x_stride, float* y,
                          size_t y_stride) {
  TileBatch<8>(p, relu, batch, x, x_stride, y, y_stride);
}

}  // namespace spex
