// AVX-512 kernels for kTile4 and kTile8 (tile patterns).
//
// Batch (feature-major): the shared-inputs loop (shared_inputs_avx512.h),
// tile4 as 4 rows x 96 columns, tile8 as 8 rows x 48 columns.
//
// One sample, tile8: two slots share a zmm (their broadcasts joined by one
// insert), so 16 connections cost two indices, two broadcasts and one FMA.
// Tile4 runs the AVX2 kernel: packing four slots into a zmm costs more
// shuffles than the wider FMA saves.
#include <immintrin.h>

#include "common/kernels/avx512/shared_inputs_avx512.h"
#include "common/kernels/kernel.h"

namespace spex {
namespace {

// The zero-masked insert: GCC 12's unmasked form trips
// -Wmaybe-uninitialized on its undefined pass-through operand (as in
// kernel_internal::Relu512).
inline __m512 BroadcastPair(const float* x, uint16_t a, uint16_t b) {
  const __m256d low = _mm256_castps_pd(_mm256_broadcast_ss(x + a));
  const __m256d high = _mm256_castps_pd(_mm256_broadcast_ss(x + b));
  return _mm512_castpd_ps(_mm512_maskz_insertf64x4(
      __mmask8{0xff}, _mm512_castpd256_pd512(low), high, 1));
}

void Tile8Single(const PackedWeights& p, bool relu, const float* x, float* y) {
  const size_t d_in = p.d_in;
  for (int q = 0; q < p.n_out / 8; ++q) {
    const uint16_t* idx = p.indices.data() + q * d_in;
    const float* w = p.weights.data() + q * d_in * 8;
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(),
                     _mm512_setzero_ps(), _mm512_setzero_ps()};
    size_t k = 0;
    for (; k + 8 <= d_in; k += 8) {
      for (int u = 0; u < 4; ++u) {
        const size_t s = k + 2 * u;
        acc[u] = _mm512_fmadd_ps(_mm512_loadu_ps(w + s * 8),
                                 BroadcastPair(x, idx[s], idx[s + 1]), acc[u]);
      }
    }
    for (; k + 2 <= d_in; k += 2) {
      acc[0] = _mm512_fmadd_ps(_mm512_loadu_ps(w + k * 8),
                               BroadcastPair(x, idx[k], idx[k + 1]), acc[0]);
    }
    const __m512 sum = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]),
                                     _mm512_add_ps(acc[2], acc[3]));
    // Even slots in lanes 0-7, odd ones in 8-15: add the halves (through
    // memory: GCC 12's cast and extract intrinsics trip the same warning).
    alignas(64) float lanes[16];
    _mm512_store_ps(lanes, sum);
    __m256 out =
        _mm256_add_ps(_mm256_load_ps(lanes), _mm256_load_ps(lanes + 8));
    out = _mm256_add_ps(out, _mm256_load_ps(p.bias.data() + q * 8));
    if (k < d_in) {
      out = _mm256_fmadd_ps(_mm256_loadu_ps(w + k * 8),
                            _mm256_broadcast_ss(x + idx[k]), out);
    }
    if (relu) out = _mm256_max_ps(out, _mm256_setzero_ps());
    _mm256_storeu_ps(y + q * 8, out);
  }
}

template <int G>
void TileBatch(const PackedWeights& p, bool relu, size_t batch, const float* x,
               size_t x_stride, float* y, size_t y_stride) {
  kernel_internal::RunGroupsAvx512<G>(
      p, 0, p.n_out, relu, batch, x, x_stride, y, y_stride,
      [&p](int q) { return kernel_internal::TileGroup<G>(p, q); });
}

}  // namespace

void f32_tile4_avx512_single(const PackedWeights& p, bool relu, const float* x,
                             float* y) {
  f32_tile4_avx2_single(p, relu, x, y);
}
void f32_tile4_avx512_batch(const PackedWeights& p, bool relu, size_t batch,
                            const float* x, size_t x_stride, float* y,
                            size_t y_stride) {
  TileBatch<4>(p, relu, batch, x, x_stride, y, y_stride);
}
void f32_tile8_avx512_single(const PackedWeights& p, bool relu, const float* x,
                             float* y) {
  Tile8Single(p, relu, x, y);
}
void f32_tile8_avx512_batch(const PackedWeights& p, bool relu, size_t batch,
                            const float* x, size_t x_stride, float* y,
                            size_t y_stride) {
  TileBatch<8>(p, relu, batch, x, x_stride, y, y_stride);
}

}  // namespace spex
