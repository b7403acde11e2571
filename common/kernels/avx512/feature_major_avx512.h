// The AVX-512 inner loop of the feature-major batch kernels, for every
// weight format; RunFeatureMajor (row_views.h) walks the tiles around it.
//
// feature_major_avx2.h at twice the width: 64 batch columns are four zmm
// registers per row; even and odd connections accumulate in separate
// registers, so eight independent FMA chains cover the FMA latency on two
// 512-bit pipes. Column tails use masked loads and stores.
//
// Included only by files compiled with -mavx512f (plus AVX2/FMA).
#ifndef SPEX_COMMON_KERNELS_AVX512_FEATURE_MAJOR_AVX512_H_
#define SPEX_COMMON_KERNELS_AVX512_FEATURE_MAJOR_AVX512_H_

#include <immintrin.h>

#include <algorithm>
#include <cstddef>

#include "common/kernels/packed_weights.h"
#include "common/kernels/row_views.h"

namespace spex {
namespace kernel_internal {

// max(v, 0). _mm512_max_ps trips GCC 12's -Wmaybe-uninitialized inside its
// own header (an undefined pass-through operand); the zero-masked form does
// the same operation without it.
inline __m512 Relu512(__m512 v) {
  return _mm512_maskz_max_ps(__mmask16{0xffff}, v, _mm512_setzero_ps());
}

// Batch columns per tile: the widest run AccumulateColumnsAvx512 keeps in
// registers.
inline constexpr size_t kTileColumnsAvx512 = 64;

template <class Row>
inline void AccumulateColumnsAvx512(const Row& row, int k0, int k1,
                                    const float* x, size_t x_stride, float* yo,
                                    size_t width, const float* bias,
                                    bool relu) {
  const __m512 zero = _mm512_setzero_ps();
  size_t j = 0;
  for (; j + 64 <= width; j += 64) {
    __m512 even[4], odd[4];
    for (int i = 0; i < 4; ++i) {
      even[i] = bias ? _mm512_set1_ps(*bias) : _mm512_loadu_ps(yo + j + 16 * i);
      odd[i] = zero;
    }
    int k = k0;
    for (; k + 2 <= k1; k += 2) {
      const __m512 w0 = _mm512_set1_ps(row.Weight(k));
      const __m512 w1 = _mm512_set1_ps(row.Weight(k + 1));
      const float* x0 = x + static_cast<size_t>(row.Input(k)) * x_stride + j;
      const float* x1 =
          x + static_cast<size_t>(row.Input(k + 1)) * x_stride + j;
      for (int i = 0; i < 4; ++i) {
        even[i] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(x0 + 16 * i), even[i]);
        odd[i] = _mm512_fmadd_ps(w1, _mm512_loadu_ps(x1 + 16 * i), odd[i]);
      }
    }
    if (k < k1) {
      const __m512 w0 = _mm512_set1_ps(row.Weight(k));
      const float* x0 = x + static_cast<size_t>(row.Input(k)) * x_stride + j;
      for (int i = 0; i < 4; ++i) {
        even[i] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(x0 + 16 * i), even[i]);
      }
    }
    for (int i = 0; i < 4; ++i) {
      const __m512 sum = _mm512_add_ps(even[i], odd[i]);
      _mm512_storeu_ps(yo + j + 16 * i, relu ? Relu512(sum) : sum);
    }
  }
  for (; j < width; j += 16) {
    const __mmask16 mask =
        width - j >= 16 ? __mmask16{0xffff}
                        : static_cast<__mmask16>((1u << (width - j)) - 1);
    __m512 acc =
        bias ? _mm512_set1_ps(*bias) : _mm512_maskz_loadu_ps(mask, yo + j);
    for (int k = k0; k < k1; ++k) {
      acc = _mm512_fmadd_ps(
          _mm512_set1_ps(row.Weight(k)),
          _mm512_maskz_loadu_ps(
              mask, x + static_cast<size_t>(row.Input(k)) * x_stride + j),
          acc);
    }
    _mm512_mask_storeu_ps(yo + j, mask, relu ? Relu512(acc) : acc);
  }
}

}  // namespace kernel_internal
}  // namespace spex

#endif  // SPEX_COMMON_KERNELS_AVX512_FEATURE_MAJOR_AVX512_H_
