// AVX2+FMA kernels for kSell8 (any pattern).
//
// One sample: each slot of a slice serves 8 rows with one FMA, its 8 inputs
// assembled from scalar loads. vgatherdps costs about 11 cycles per 8 lanes
// on Zen 3, more than 8 scalar loads plus inserts, so there is no gather.
// Indices come in as two 64-bit loads and are split with shifts, which keeps
// the load ports for the x values themselves.
#include <immintrin.h>

#include <cstring>

#include "common/kernels/avx2/feature_major_avx2.h"
#include "common/kernels/kernel.h"

namespace spex {
namespace {

inline __m256 LoadEight(const float* x, const uint16_t* ix) {
  uint64_t lo, hi;
  std::memcpy(&lo, ix, sizeof(lo));
  std::memcpy(&hi, ix + 4, sizeof(hi));
  return _mm256_setr_ps(x[lo & 0xffff], x[(lo >> 16) & 0xffff],
                        x[(lo >> 32) & 0xffff], x[lo >> 48], x[hi & 0xffff],
                        x[(hi >> 16) & 0xffff], x[(hi >> 32) & 0xffff],
                        x[hi >> 48]);
}

}  // namespace

void f32_sell8_avx2_single(const PackedWeights& p, bool relu, const float* x,
                           float* y) {
  const size_t d_in = p.d_in;
  const uint16_t* ix = p.indices.data();
  const float* w = p.weights.data();
  for (int s = 0; s < p.n_slices; ++s) {
    __m256 acc0 = _mm256_load_ps(p.bias.data() + s * kSliceRows);
    __m256 acc1 = _mm256_setzero_ps();
    size_t k = 0;
    for (; k + 2 <= d_in; k += 2) {
      acc0 = _mm256_fmadd_ps(_mm256_load_ps(w), LoadEight(x, ix), acc0);
      acc1 = _mm256_fmadd_ps(_mm256_load_ps(w + 8), LoadEight(x, ix + 8), acc1);
      ix += 16;
      w += 16;
    }
    if (k < d_in) {
      acc0 = _mm256_fmadd_ps(_mm256_load_ps(w), LoadEight(x, ix), acc0);
      ix += 8;
      w += 8;
    }
    __m256 out = _mm256_add_ps(acc0, acc1);
    if (relu) out = _mm256_max_ps(out, _mm256_setzero_ps());
    const int row0 = s * kSliceRows;
    if (row0 + kSliceRows <= p.n_out) {
      _mm256_storeu_ps(y + row0, out);
    } else {
      alignas(32) float tail[kSliceRows];
      _mm256_store_ps(tail, out);
      std::memcpy(y + row0, tail, (p.n_out - row0) * sizeof(float));
    }
  }
}

void f32_sell8_avx2_batch(const PackedWeights& p, bool relu, size_t batch,
                          const float* x, size_t x_stride, float* y,
                          size_t y_stride) {
  kernel_internal::RunFeatureMajor<kernel_internal::Sell8Row,
                                   kernel_internal::kTileColumnsAvx2>(
      p, relu, batch, x, x_stride, y, y_stride,
      kernel_internal::AccumulateColumnsAvx2<kernel_internal::Sell8Row>);
}

}  // namespace spex
