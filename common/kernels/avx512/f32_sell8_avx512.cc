// AVX-512 kernels for kSell8 weights (any pattern). The batch path is the wide
// feature-major loop; one sample runs the AVX2 kernel, which every AVX-512
// CPU also has: its limit is loads and permutes per connection, which
// 512-bit registers do not reduce.
#include "common/kernels/avx512/feature_major_avx512.h"
#include "common/kernels/kernel.h"

namespace spex {

void f32_sell8_avx512_single(const PackedWeights& p, bool relu, const float* x,
                             float* y) {
  f32_sell8_avx2_single(p, relu, x, y);
}

void f32_sell8_avx512_batch(const PackedWeights& p, bool relu, size_t batch,
                            const float* x, size_t x_stride, float* y,
                            size_t y_stride) {
  kernel_internal::RunFeatureMajor<kernel_internal::Sell8Row,
                                   kernel_internal::kTileColumnsAvx512>(
      p, relu, batch, x, x_stride, y, y_stride,
      kernel_internal::AccumulateColumnsAvx512<kernel_internal::Sell8Row>);
}

}  // namespace spex
