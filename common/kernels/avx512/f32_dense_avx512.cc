// AVX-512 kernels for kDense weights. The batch path is a GEMM: every row
// reads every input, so rows run in groups of 4 through the shared-inputs
// loop (shared_inputs_avx512.h), each X row loaded once for 4 rows; the
// last n_out % 4 rows one at a time. One sample runs the AVX2 kernel, which
// every AVX-512 CPU also has: it streams the matrix once, bound by where it
// lives, which 512-bit registers do not change.
#include "common/kernels/avx512/shared_inputs_avx512.h"
#include "common/kernels/kernel.h"

namespace spex {

void f32_dense_avx512_single(const PackedWeights& p, bool relu, const float* x,
                             float* y) {
  f32_dense_avx2_single(p, relu, x, y);
}

void f32_dense_avx512_batch(const PackedWeights& p, bool relu, size_t batch,
                            const float* x, size_t x_stride, float* y,
                            size_t y_stride) {
  using kernel_internal::DenseGroup;
  const int grouped = p.n_out / 4 * 4;
  kernel_internal::RunGroupsAvx512<4>(
      p, 0, grouped, relu, batch, x, x_stride, y, y_stride,
      [&p](int q) { return DenseGroup<4>(p, q); });
  kernel_internal::RunGroupsAvx512<1>(
      p, grouped, p.n_out, relu, batch, x, x_stride, y, y_stride,
      [&p](int q) { return DenseGroup<1>(p, q); });
}

}  // namespace spex
