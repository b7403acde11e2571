// AVX2+FMA kernels for kBlock8 (block patterns).
//
// One sample: per slot, one aligned 8-float load of x, one vpermps that
// rotates it so lane r holds element (r + rotation) mod 8, one FMA. Eight
// connections cost one 16-bit code, no gather.
#include <immintrin.h>

#include <cstring>

#include "common/kernels/avx2/feature_major_avx2.h"
#include "common/kernels/kernel.h"

namespace spex {
namespace {

// kRotations[r] is the vpermps control that rotates a block by r lanes.
alignas(32) constexpr int32_t kRotations[kBlockWidth][kBlockWidth] = {
    {0, 1, 2, 3, 4, 5, 6, 7}, {1, 2, 3, 4, 5, 6, 7, 0},
    {2, 3, 4, 5, 6, 7, 0, 1}, {3, 4, 5, 6, 7, 0, 1, 2},
    {4, 5, 6, 7, 0, 1, 2, 3}, {5, 6, 7, 0, 1, 2, 3, 4},
    {6, 7, 0, 1, 2, 3, 4, 5}, {7, 0, 1, 2, 3, 4, 5, 6}};

inline __m256 RotatedBlock(const float* x, uint16_t code) {
  const __m256 block = _mm256_loadu_ps(x + BlockOfCode(code) * kBlockWidth);
  const __m256i control = _mm256_load_si256(
      reinterpret_cast<const __m256i*>(kRotations[RotationOfCode(code)]));
  return _mm256_permutevar8x32_ps(block, control);
}

}  // namespace

void f32_block8_avx2_single(const PackedWeights& p, bool relu, const float* x,
                            float* y) {
  const size_t d_in = p.d_in;
  const uint16_t* codes = p.indices.data();
  const float* w = p.weights.data();
  for (int s = 0; s < p.n_slices; ++s) {
    __m256 acc0 = _mm256_load_ps(p.bias.data() + s * kSliceRows);
    __m256 acc1 = _mm256_setzero_ps();
    size_t k = 0;
    for (; k + 2 <= d_in; k += 2) {
      acc0 =
          _mm256_fmadd_ps(_mm256_load_ps(w), RotatedBlock(x, codes[0]), acc0);
      acc1 = _mm256_fmadd_ps(_mm256_load_ps(w + 8), RotatedBlock(x, codes[1]),
                             acc1);
      codes += 2;
      w += 16;
    }
    if (k < d_in) {
      acc0 =
          _mm256_fmadd_ps(_mm256_load_ps(w), RotatedBlock(x, codes[0]), acc0);
      codes += 1;
      w += 8;
    }
    __m256 out = _mm256_add_ps(acc0, acc1);
    if (relu) out = _mm256_max_ps(out, _mm256_setzero_ps());
    // Block patterns have n_out % 8 == 0: every slice is whole.
    _mm256_storeu_ps(y + s * kSliceRows, out);
  }
}

void f32_block8_avx2_batch(const PackedWeights& p, bool relu, size_t batch,
                           const float* x, size_t x_stride, float* y,
                           size_t y_stride) {
  kernel_internal::RunFeatureMajor<kernel_internal::Block8Row,
                                   kernel_internal::kTileColumnsAvx2>(
      p, relu, batch, x, x_stride, y, y_stride,
      kernel_internal::AccumulateColumnsAvx2<kernel_internal::Block8Row>);
}

}  // namespace spex
