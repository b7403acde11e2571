// AVX2+FMA kernels for kTile4 and kTile8 (tile patterns).
//
// One sample: the g weights of a slot are contiguous and multiply one input
// value, so a slot costs one 16-bit index, one broadcast of x and one FMA
// for g connections (tile8: a whole ymm; tile4: two slots share a ymm, their
// two broadcasts joined by one vinsertf128). Four accumulators cover the
// FMA latency.
//
// Batch (feature-major): the shared-inputs loop (shared_inputs_avx2.h), four
// rows of a tile over 16 columns at a time; a tile of 8 as two halves.
#include <immintrin.h>

#include "common/kernels/avx2/shared_inputs_avx2.h"
#include "common/kernels/kernel.h"

namespace spex {
namespace {

using kernel_internal::Relu256;

inline __m256 BroadcastPair(const float* x, uint16_t a, uint16_t b) {
  return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_broadcast_ss(x + a)),
                              _mm_broadcast_ss(x + b), 1);
}

void Tile8Single(const PackedWeights& p, bool relu, const float* x, float* y) {
  const size_t d_in = p.d_in;
  for (int q = 0; q < p.n_out / 8; ++q) {
    const uint16_t* idx = p.indices.data() + q * d_in;
    const float* w = p.weights.data() + q * d_in * 8;
    __m256 acc[4] = {_mm256_load_ps(p.bias.data() + q * 8), _mm256_setzero_ps(),
                     _mm256_setzero_ps(), _mm256_setzero_ps()};
    size_t k = 0;
    for (; k + 4 <= d_in; k += 4) {
      for (int u = 0; u < 4; ++u) {
        acc[u] = _mm256_fmadd_ps(_mm256_loadu_ps(w + (k + u) * 8),
                                 _mm256_broadcast_ss(x + idx[k + u]), acc[u]);
      }
    }
    for (; k < d_in; ++k) {
      acc[0] = _mm256_fmadd_ps(_mm256_loadu_ps(w + k * 8),
                               _mm256_broadcast_ss(x + idx[k]), acc[0]);
    }
    __m256 out = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]),
                               _mm256_add_ps(acc[2], acc[3]));
    _mm256_storeu_ps(y + q * 8, relu ? Relu256(out) : out);
  }
}

void Tile4Single(const PackedWeights& p, bool relu, const float* x, float* y) {
  const size_t d_in = p.d_in;
  for (int q = 0; q < p.n_out / 4; ++q) {
    const uint16_t* idx = p.indices.data() + q * d_in;
    const float* w = p.weights.data() + q * d_in * 4;
    // Lanes 0-3 sum even slots, lanes 4-7 odd ones.
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(),
                     _mm256_setzero_ps(), _mm256_setzero_ps()};
    size_t k = 0;
    for (; k + 8 <= d_in; k += 8) {
      for (int u = 0; u < 4; ++u) {
        const size_t s = k + 2 * u;
        acc[u] = _mm256_fmadd_ps(_mm256_loadu_ps(w + s * 4),
                                 BroadcastPair(x, idx[s], idx[s + 1]), acc[u]);
      }
    }
    for (; k + 2 <= d_in; k += 2) {
      acc[0] = _mm256_fmadd_ps(_mm256_loadu_ps(w + k * 4),
                               BroadcastPair(x, idx[k], idx[k + 1]), acc[0]);
    }
    const __m256 sum = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]),
                                     _mm256_add_ps(acc[2], acc[3]));
    __m128 out =
        _mm_add_ps(_mm256_castps256_ps128(sum), _mm256_extractf128_ps(sum, 1));
    out = _mm_add_ps(out, _mm_loadu_ps(p.bias.data() + q * 4));
    if (k < d_in) {
      out = _mm_fmadd_ps(_mm_loadu_ps(w + k * 4), _mm_broadcast_ss(x + idx[k]),
                         out);
    }
    if (relu) out = _mm_max_ps(out, _mm_setzero_ps());
    _mm_storeu_ps(y + q * 4, out);
  }
}

template <int G>
void TileBatch(const PackedWeights& p, bool relu, size_t batch, const float* x,
               size_t x_stride, float* y, size_t y_stride) {
  kernel_internal::RunGroupsAvx2<G, 4>(
      p, 0, p.n_out, relu, batch, x, x_stride, y, y_stride,
      [&p](int q) { return kernel_internal::TileGroup<G>(p, q); });
}

}  // namespace

void f32_tile4_avx2_single(const PackedWeights& p, bool relu, const float* x,
                           float* y) {
  Tile4Single(p, relu, x, y);
}
void f32_tile4_avx2_batch(const PackedWeights& p, bool relu, size_t batch,
                          const float* x, size_t x_stride, float* y,
                          size_t y_stride) {
  TileBatch<4>(p, relu, batch, x, x_stride, y, y_stride);
}
void f32_tile8_avx2_single(const PackedWeights& p, bool relu, const float* x,
                           float* y) {
  Tile8Single(p, relu, x, y);
}
void f32_tile8_avx2_batch(const PackedWeights& p, bool relu, size_t batch,
                          const float* x, size_t x_stride, float* y,
                          size_t y_stride) {
  TileBatch<8>(p, relu, batch, x, x_stride, y, y_stride);
}

}  // namespace spex
