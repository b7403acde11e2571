#include "tools/train/row_gradients.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace spex {
namespace {

// Sixteen independent partial sums, so that the compiler vectorises the loop
// (a single float sum would have to stay in order).
float Dot(const float* a, const float* b, size_t n) {
  constexpr size_t kLanes = 16;
  float partial[kLanes] = {};
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (size_t l = 0; l < kLanes; ++l) partial[l] += a[i + l] * b[i + l];
  }
  float sum = 0.0f;
  for (; i < n; ++i) sum += a[i] * b[i];
  for (size_t l = 0; l < kLanes; ++l) sum += partial[l];
  return sum;
}

#if defined(__AVX512F__)
// acc[c] holds connection c's 16 partial sums; returns their 16 totals in
// one register (a transpose-and-add tree: 15 shuffles and adds per level
// instead of a horizontal sum per connection).
inline __m512 ReduceSixteen(__m512 acc[16]) {
  __m512 pairs[8], quads[4], octs[2];
  for (int i = 0; i < 8; ++i) {
    // Per 128-bit lane: [a0+a2, b0+b2, a1+a3, b1+b3].
    pairs[i] = _mm512_add_ps(_mm512_unpacklo_ps(acc[2 * i], acc[2 * i + 1]),
                             _mm512_unpackhi_ps(acc[2 * i], acc[2 * i + 1]));
  }
  for (int i = 0; i < 4; ++i) {
    // Per 128-bit lane: the lane's total for connections 4i .. 4i+3.
    quads[i] = _mm512_add_ps(_mm512_shuffle_ps(pairs[2 * i], pairs[2 * i + 1],
                                               _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_ps(pairs[2 * i], pairs[2 * i + 1],
                                               _MM_SHUFFLE(3, 2, 3, 2)));
  }
  for (int i = 0; i < 2; ++i) {
    octs[i] = _mm512_add_ps(_mm512_shuffle_f32x4(quads[2 * i], quads[2 * i + 1],
                                                 _MM_SHUFFLE(2, 0, 2, 0)),
                            _mm512_shuffle_f32x4(quads[2 * i], quads[2 * i + 1],
                                                 _MM_SHUFFLE(3, 1, 3, 1)));
  }
  return _mm512_add_ps(
      _mm512_shuffle_f32x4(octs[0], octs[1], _MM_SHUFFLE(2, 0, 2, 0)),
      _mm512_shuffle_f32x4(octs[0], octs[1], _MM_SHUFFLE(3, 1, 3, 1)));
}
#endif

#if defined(__AVX512F__)
// 16 / G connections of a tile of G rows at a time: acc[kk * G + r] sums row
// r's products with connection k + kk, so one ReduceSixteen finishes all 16.
template <int G>
int AccumulateTileSixteens(size_t columns, const float* dy_tile,
                           size_t dy_stride, const float* x, size_t x_stride,
                           const uint32_t* inputs, int count, float* dw) {
  constexpr int kConnections = 16 / G;
  const size_t full = columns / 16 * 16;
  const __mmask16 tail_mask =
      static_cast<__mmask16>((1u << (columns - full)) - 1);
  int k = 0;
  for (; k + kConnections <= count; k += kConnections) {
    __m512 acc[16];
    for (int c = 0; c < 16; ++c) acc[c] = _mm512_setzero_ps();
    const float* xk[kConnections];
    for (int kk = 0; kk < kConnections; ++kk) {
      xk[kk] = x + static_cast<size_t>(inputs[k + kk]) * x_stride;
    }
    auto step = [&](size_t j, __mmask16 mask) {
      __m512 g[G];
      for (int r = 0; r < G; ++r) {
        g[r] = _mm512_maskz_loadu_ps(mask, dy_tile + r * dy_stride + j);
      }
      for (int kk = 0; kk < kConnections; ++kk) {
        const __m512 xv = _mm512_maskz_loadu_ps(mask, xk[kk] + j);
        for (int r = 0; r < G; ++r) {
          acc[kk * G + r] = _mm512_fmadd_ps(g[r], xv, acc[kk * G + r]);
        }
      }
    };
    for (size_t j = 0; j < full; j += 16) step(j, __mmask16{0xffff});
    if (tail_mask != 0) step(full, tail_mask);
    alignas(64) float totals[16];
    _mm512_store_ps(totals, ReduceSixteen(acc));
    for (int kk = 0; kk < kConnections; ++kk) {
      for (int r = 0; r < G; ++r) dw[r * count + k + kk] += totals[kk * G + r];
    }
  }
  return k;
}
#endif

}  // namespace

void AccumulateTileGradients(size_t columns, const float* dy_tile,
                             size_t dy_stride, const float* x, size_t x_stride,
                             const uint32_t* inputs, int count, int group_size,
                             float* dw) {
  int k = 0;
#if defined(__AVX512F__)
  if (group_size == 4) {
    k = AccumulateTileSixteens<4>(columns, dy_tile, dy_stride, x, x_stride,
                                  inputs, count, dw);
  } else if (group_size == 8) {
    k = AccumulateTileSixteens<8>(columns, dy_tile, dy_stride, x, x_stride,
                                  inputs, count, dw);
  }
#endif
  for (; k < count; ++k) {
    const float* xk = x + static_cast<size_t>(inputs[k]) * x_stride;
    for (int r = 0; r < group_size; ++r) {
      dw[r * count + k] += Dot(dy_tile + r * dy_stride, xk, columns);
    }
  }
}

void AccumulateRowGradients(size_t columns, const float* dy_row, const float* x,
                            size_t x_stride, const uint32_t* inputs, int count,
                            float* dw) {
  int k = 0;
#if defined(__AVX512F__)
  // Sixteen connections at a time, the row's dy chunk loaded once for all.
  const size_t full = columns / 16 * 16;
  const __mmask16 tail_mask =
      static_cast<__mmask16>((1u << (columns - full)) - 1);
  for (; k + 16 <= count; k += 16) {
    __m512 acc[16];
    for (int c = 0; c < 16; ++c) acc[c] = _mm512_setzero_ps();
    for (size_t j = 0; j < full; j += 16) {
      const __m512 g = _mm512_loadu_ps(dy_row + j);
      for (int c = 0; c < 16; ++c) {
        acc[c] = _mm512_fmadd_ps(
            g,
            _mm512_loadu_ps(x + static_cast<size_t>(inputs[k + c]) * x_stride +
                            j),
            acc[c]);
      }
    }
    if (tail_mask != 0) {
      const __m512 g = _mm512_maskz_loadu_ps(tail_mask, dy_row + full);
      for (int c = 0; c < 16; ++c) {
        acc[c] = _mm512_fmadd_ps(
            g,
            _mm512_maskz_loadu_ps(
                tail_mask,
                x + static_cast<size_t>(inputs[k + c]) * x_stride + full),
            acc[c]);
      }
    }
    _mm512_storeu_ps(
        dw + k, _mm512_add_ps(_mm512_loadu_ps(dw + k), ReduceSixteen(acc)));
  }
#endif
  for (; k < count; ++k) {
    dw[k] +=
        Dot(dy_row, x + static_cast<size_t>(inputs[k]) * x_stride, columns);
  }
}

}  // namespace spex
