// The AVX2+FMA inner loop of the feature-major batch kernels, for every
// weight format; RunFeatureMajor (row_views.h) walks the tiles around it.
//
// One row's connections in one input tile, over 64 batch columns: 8 ymm
// accumulators (enough independent FMAs to cover their latency on two FMA
// ports), one broadcast weight and eight FMAs with the X row streamed as
// memory operands per connection. Narrower column tails use one accumulator,
// then scalars.
//
// Included only by files compiled with -mavx2 -mfma.
#ifndef SPEX_COMMON_KERNELS_AVX2_FEATURE_MAJOR_AVX2_H_
#define SPEX_COMMON_KERNELS_AVX2_FEATURE_MAJOR_AVX2_H_

#include <immintrin.h>

#include <algorithm>
#include <cstddef>

#include "common/kernels/packed_weights.h"
#include "common/kernels/row_views.h"

namespace spex {
namespace kernel_internal {

// Batch columns per tile: the widest run AccumulateColumnsAvx2 keeps in
// registers.
inline constexpr size_t kTileColumnsAvx2 = 64;

template <class Row>
inline void AccumulateColumnsAvx2(const Row& row, int k0, int k1,
                                  const float* x, size_t x_stride, float* yo,
                                  size_t width, const float* bias, bool relu) {
  size_t j = 0;
  const __m256 zero = _mm256_setzero_ps();
  for (; j + 64 <= width; j += 64) {
    __m256 acc[8];
    for (int i = 0; i < 8; ++i) {
      acc[i] = bias ? _mm256_set1_ps(*bias) : _mm256_loadu_ps(yo + j + 8 * i);
    }
    for (int k = k0; k < k1; ++k) {
      const __m256 w = _mm256_set1_ps(row.Weight(k));
      const float* xr = x + static_cast<size_t>(row.Input(k)) * x_stride + j;
      for (int i = 0; i < 8; ++i) {
        acc[i] = _mm256_fmadd_ps(w, _mm256_loadu_ps(xr + 8 * i), acc[i]);
      }
    }
    for (int i = 0; i < 8; ++i) {
      _mm256_storeu_ps(yo + j + 8 * i,
                       relu ? _mm256_max_ps(acc[i], zero) : acc[i]);
    }
  }
  for (; j + 8 <= width; j += 8) {
    __m256 acc = bias ? _mm256_set1_ps(*bias) : _mm256_loadu_ps(yo + j);
    for (int k = k0; k < k1; ++k) {
      acc = _mm256_fmadd_ps(
          _mm256_set1_ps(row.Weight(k)),
          _mm256_loadu_ps(x + static_cast<size_t>(row.Input(k)) * x_stride + j),
          acc);
    }
    _mm256_storeu_ps(yo + j, relu ? _mm256_max_ps(acc, zero) : acc);
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

#endif  // SPEX_COMMON_KERNELS_AVX2_FEATURE_MAJOR_AVX2_H_
