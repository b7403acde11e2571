// AVX2+FMA kernels for kTile4 and kTile8 (tile patterns).
//
// One sample: the g weights of a slot are contiguous and multiply one input
// value, so a slot costs one 16-bit index, one broadcast of x and one FMA
// for g connections (tile8: a whole ymm; tile4: two slots share a ymm, their
// two broadcasts joined by one vinsertf128). Four accumulators cover the
// FMA latency.
//
// Batch (feature-major): four rows of a tile run over 16 batch columns
// together, 8 ymm accumulators: per slot two loads of the X row serve eight
// FMAs, where a row kernel needs one load per FMA. A tile of 8 runs as two
// halves of four rows.
#include <immintrin.h>

#include <algorithm>

#include "common/kernels/kernel.h"

namespace spex {
namespace {

inline __m256 Relu256(__m256 v) { return _mm256_max_ps(v, _mm256_setzero_ps()); }

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
    __m128 out = _mm_add_ps(_mm256_castps256_ps128(sum),
                            _mm256_extractf128_ps(sum, 1));
    out = _mm_add_ps(out, _mm_loadu_ps(p.bias.data() + q * 4));
    if (k < d_in) {
      out = _mm_fmadd_ps(_mm_loadu_ps(w + k * 4), _mm_broadcast_ss(x + idx[k]),
                         out);
    }
    if (relu) out = _mm_max_ps(out, _mm_setzero_ps());
    _mm_storeu_ps(y + q * 4, out);
  }
}

// Mask of the first n (0..8) lanes for maskload/maskstore.
inline __m256i FirstLanes(size_t n) {
  alignas(32) static constexpr int32_t kLanes[16] = {-1, -1, -1, -1, -1, -1,
                                                     -1, -1, 0,  0,  0,  0,
                                                     0,  0,  0,  0};
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kLanes + 8 - n));
}

// Rows r0 .. r0+3 of tile q (of G rows) over columns [j, j + 16).
template <int G>
inline void FourRowsSixteenColumns(const PackedWeights& p, int q, int r0,
                                   const float* x, size_t x_stride, float* y,
                                   size_t y_stride, bool relu) {
  const size_t d_in = p.d_in;
  const uint16_t* idx = p.indices.data() + q * d_in;
  const float* w = p.weights.data() + q * d_in * G + r0;
  __m256 acc[4][2];
  for (int r = 0; r < 4; ++r) {
    acc[r][0] = acc[r][1] = _mm256_set1_ps(p.bias[q * G + r0 + r]);
  }
  for (size_t k = 0; k < d_in; ++k) {
    const float* xr = x + static_cast<size_t>(idx[k]) * x_stride;
    const __m256 x0 = _mm256_loadu_ps(xr), x1 = _mm256_loadu_ps(xr + 8);
    for (int r = 0; r < 4; ++r) {
      const __m256 wr = _mm256_broadcast_ss(w + k * G + r);
      acc[r][0] = _mm256_fmadd_ps(wr, x0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(wr, x1, acc[r][1]);
    }
  }
  for (int r = 0; r < 4; ++r) {
    float* yr = y + static_cast<size_t>(q * G + r0 + r) * y_stride;
    _mm256_storeu_ps(yr, relu ? Relu256(acc[r][0]) : acc[r][0]);
    _mm256_storeu_ps(yr + 8, relu ? Relu256(acc[r][1]) : acc[r][1]);
  }
}

// Rows r0 .. r0+3 of tile q over `width` (1..8) columns.
template <int G>
inline void FourRowsNarrow(const PackedWeights& p, int q, int r0,
                           const float* x, size_t x_stride, float* y,
                           size_t y_stride, size_t width, bool relu) {
  const size_t d_in = p.d_in;
  const uint16_t* idx = p.indices.data() + q * d_in;
  const float* w = p.weights.data() + q * d_in * G + r0;
  const __m256i mask = FirstLanes(width);
  __m256 acc[4];
  for (int r = 0; r < 4; ++r) acc[r] = _mm256_set1_ps(p.bias[q * G + r0 + r]);
  for (size_t k = 0; k < d_in; ++k) {
    const __m256 xv =
        _mm256_maskload_ps(x + static_cast<size_t>(idx[k]) * x_stride, mask);
    for (int r = 0; r < 4; ++r) {
      acc[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(w + k * G + r), xv, acc[r]);
    }
  }
  for (int r = 0; r < 4; ++r) {
    _mm256_maskstore_ps(y + static_cast<size_t>(q * G + r0 + r) * y_stride,
                        mask, relu ? Relu256(acc[r]) : acc[r]);
  }
}

template <int G>
void TileBatch(const PackedWeights& p, bool relu, size_t batch, const float* x,
               size_t x_stride, float* y, size_t y_stride) {
  const int tiles = p.n_out / G;
  size_t j = 0;
  for (; j + 16 <= batch; j += 16) {
    for (int q = 0; q < tiles; ++q) {
      for (int r0 = 0; r0 < G; r0 += 4) {
        FourRowsSixteenColumns<G>(p, q, r0, x + j, x_stride, y + j, y_stride,
                                  relu);
      }
    }
  }
  for (; j < batch; j += 8) {
    const size_t width = std::min<size_t>(8, batch - j);
    for (int q = 0; q < tiles; ++q) {
      for (int r0 = 0; r0 < G; r0 += 4) {
        FourRowsNarrow<G>(p, q, r0, x + j, x_stride, y + j, y_stride, width,
                          relu);
      }
    }
  }
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
