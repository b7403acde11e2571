// AVX2+FMA kernels for kDense, the path for layers dense enough that
// skipping zeros no longer pays.
//
// One sample: four rows at a time share each 8-float load of x; the matrix
// streams once, so the kernel runs at the bandwidth of wherever W lives.
// Batch: a GEMM through the shared-inputs loop (shared_inputs_avx2.h), rows
// in groups of 4, the last n_out % 4 one at a time.
#include <immintrin.h>

#include "common/kernels/avx2/shared_inputs_avx2.h"
#include "common/kernels/kernel.h"

namespace spex {
namespace {

inline float HorizontalSum(__m256 v) {
  const __m128 sum4 =
      _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 sum2 = _mm_add_ps(sum4, _mm_movehl_ps(sum4, sum4));
  return _mm_cvtss_f32(_mm_add_ss(sum2, _mm_movehdup_ps(sum2)));
}

inline float Activate(float v, bool relu) {
  return relu && v < 0.0f ? 0.0f : v;
}

}  // namespace

void f32_dense_avx2_single(const PackedWeights& p, bool relu, const float* x,
                           float* y) {
  const size_t n_in = p.n_in;
  const size_t vector_end = n_in / 8 * 8;
  int o = 0;
  for (; o + 4 <= p.n_out; o += 4) {
    const float* w0 = p.weights.data() + o * n_in;
    const float* w1 = w0 + n_in;
    const float* w2 = w1 + n_in;
    const float* w3 = w2 + n_in;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    for (size_t i = 0; i < vector_end; i += 8) {
      const __m256 xv = _mm256_loadu_ps(x + i);
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + i), xv, a0);
      a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1 + i), xv, a1);
      a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2 + i), xv, a2);
      a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3 + i), xv, a3);
    }
    float s0 = HorizontalSum(a0) + p.bias[o];
    float s1 = HorizontalSum(a1) + p.bias[o + 1];
    float s2 = HorizontalSum(a2) + p.bias[o + 2];
    float s3 = HorizontalSum(a3) + p.bias[o + 3];
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
    __m256 a0 = _mm256_setzero_ps();
    for (size_t i = 0; i < vector_end; i += 8) {
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + i), _mm256_loadu_ps(x + i), a0);
    }
    float s0 = HorizontalSum(a0) + p.bias[o];
    for (size_t i = vector_end; i < n_in; ++i) s0 += w0[i] * x[i];
    y[o] = Activate(s0, relu);
  }
}

void f32_dense_avx2_batch(const PackedWeights& p, bool relu, size_t batch,
                          const float* x, size_t x_stride, float* y,
                          size_t y_stride) {
  using kernel_internal::DenseGroup;
  const int grouped = p.n_out / 4 * 4;
  kernel_internal::RunGroupsAvx2<4, 4>(
      p, 0, grouped, relu, batch, x, x_stride, y, y_stride,
      [&p](int q) { return DenseGroup<4>(p, q); });
  kernel_internal::RunGroupsAvx2<1, 1>(
      p, grouped, p.n_out, relu, batch, x, x_stride, y, y_stride,
      [&p](int q) { return DenseGroup<1>(p, q); });
}

}  // namespace spex
