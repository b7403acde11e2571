// NEON kernels for kDense. One sample: four rows share each 4-float load of x.
#include <arm_neon.h>

#include "common/kernels/kernel.h"
#include "common/kernels/neon/shared_inputs_neon.h"

namespace spex {
namespace {

inline float Activate(float v, bool relu) {
  return relu && v < 0.0f ? 0.0f : v;
}

}  // namespace

void f32_dense_neon_single(const PackedWeights& p, bool relu, const float* x,
                           float* y) {
  const size_t n_in = p.n_in;
  const size_t vector_end = n_in / 4 * 4;
  int o = 0;
  for (; o + 4 <= p.n_out; o += 4) {
    const float* w0 = p.weights.data() + o * n_in;
    const float* w1 = w0 + n_in;
    const float* w2 = w1 + n_in;
    const float* w3 = w2 + n_in;
    float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i < vector_end; i += 4) {
      const float32x4_t xv = vld1q_f32(x + i);
      a0 = vfmaq_f32(a0, vld1q_f32(w0 + i), xv);
      a1 = vfmaq_f32(a1, vld1q_f32(w1 + i), xv);
      a2 = vfmaq_f32(a2, vld1q_f32(w2 + i), xv);
      a3 = vfmaq_f32(a3, vld1q_f32(w3 + i), xv);
    }
    float s0 = vaddvq_f32(a0) + p.bias[o];
    float s1 = vaddvq_f32(a1) + p.bias[o + 1];
    float s2 = vaddvq_f32(a2) + p.bias[o + 2];
    float s3 = vaddvq_f32(a3) + p.bias[o + 3];
    for (size_t i = vector_end; i < n_in; ++i) {
      s0 += w0[i] * x[i];
      s1 += w1[i] * x[i];
      s2 += w2[i] * x[i];
      s3 += w3[i] * x[i];
    }
    y[o] = Activate(s0, relu);
    y[o + 1] = Activate(s1, relu);
    y[o + 2] = Activate(s2, relu);
    y[o + 3] = Activate(s3, relu);
  }
  for (; o < p.n_out; ++o) {
    const float* w0 = p.weights.data() + o * n_in;
    float32x4_t a0 = vdupq_n_f32(0.0f);
    for (size_t i = 0; i < vector_end; i += 4) {
      a0 = vfmaq_f32(a0, vld1q_f32(w0 + i), vld1q_f32(x + i));
    }
    float s0 = vaddvq_f32(a0) + p.bias[o];
    for (size_t i = vector_end; i < n_in; ++i) s0 += w0[i] * x[i];
    y[o] = Activate(s0, relu);
  }
}

void f32_dense_neon_batch(const PackedWeights& p, bool relu, size_t batch,
                          const float* x, size_t x_stride, float* y,
                          size_t y_stride) {
  // A GEMM through the shared-inputs loop: rows in groups of 4, the last
  // n_out % 4 one at a time.
  using kernel_internal::DenseGroup;
  const int grouped = p.n_out / 4 * 4;
  kernel_internal::RunGroupsNeon<4, 4>(
      p, 0, grouped, relu, batch, x, x_stride, y, y_stride,
      [&p](int q) { return DenseGroup<4>(p, q); });
  kernel_internal::RunGroupsNeon<1, 4>(
      p, grouped, p.n_out, relu, batch, x, x_stride, y, y_stride,
      [&p](int q) { return DenseGroup<1>(p, q); });
}

}  // namespace spex
