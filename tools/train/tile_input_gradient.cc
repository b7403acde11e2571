#include "tools/train/tile_input_gradient.h"

#include <algorithm>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace spex {
namespace {

#if defined(__AVX512F__)
// Tile q's G dy rows over the 16 * V columns at j (V zmm per row, held in
// registers across the tile's inputs), scattered into dx. Two inputs per
// step: their dx rows differ (a tile reads distinct inputs), so the two
// FMA chains are independent, unless the two rows overlap within the
// step's columns.
template <int G, int V>
void ScatterTileColumns(const PackedWeights& p, int q, const float* dy,
                        size_t dy_stride, float* dx, size_t dx_stride, size_t j,
                        __mmask16 mask) {
  const size_t d_in = p.d_in;
  const uint16_t* idx = p.indices.data() + q * d_in;
  const float* w = p.weights.data() + q * d_in * G;
  __m512 g[G][V];
  for (int r = 0; r < G; ++r) {
    for (int v = 0; v < V; ++v) {
      g[r][v] = _mm512_maskz_loadu_ps(
          mask, dy + static_cast<size_t>(q * G + r) * dy_stride + j + 16 * v);
    }
  }
  auto one = [&](size_t k, __m512(&t)[V]) {
    for (int r = 0; r < G; ++r) {
      const __m512 wr = _mm512_set1_ps(w[k * G + r]);
      for (int v = 0; v < V; ++v) t[v] = _mm512_fmadd_ps(wr, g[r][v], t[v]);
    }
  };
  auto single = [&](size_t k) {
    float* a = dx + static_cast<size_t>(idx[k]) * dx_stride + j;
    __m512 ta[V];
    for (int v = 0; v < V; ++v) ta[v] = _mm512_maskz_loadu_ps(mask, a + 16 * v);
    one(k, ta);
    for (int v = 0; v < V; ++v) _mm512_mask_storeu_ps(a + 16 * v, mask, ta[v]);
  };
  size_t k = 0;
  for (; k + 2 <= d_in; k += 2) {
    float* a = dx + static_cast<size_t>(idx[k]) * dx_stride + j;
    float* b = dx + static_cast<size_t>(idx[k + 1]) * dx_stride + j;
    if (static_cast<size_t>(a < b ? b - a : a - b) < 16 * V) {
      // Overlapping rows (shifted planes of a narrow map): in turn.
      single(k);
      single(k + 1);
      continue;
    }
    __m512 ta[V], tb[V];
    for (int v = 0; v < V; ++v) {
      ta[v] = _mm512_maskz_loadu_ps(mask, a + 16 * v);
      tb[v] = _mm512_maskz_loadu_ps(mask, b + 16 * v);
    }
    one(k, ta);
    one(k + 1, tb);
    for (int v = 0; v < V; ++v) {
      _mm512_mask_storeu_ps(a + 16 * v, mask, ta[v]);
      _mm512_mask_storeu_ps(b + 16 * v, mask, tb[v]);
    }
  }
  if (k < d_in) single(k);
}

template <int G>
void Scatter(const PackedWeights& p, size_t batch, const float* dy,
             size_t dy_stride, float* dx, size_t dx_stride) {
  // 16 dy registers per tile: 4 rows x 4 zmm or 8 rows x 2 zmm.
  constexpr int kVecs = 16 / G;
  constexpr size_t kColumns = 16 * kVecs;
  const int tiles = p.n_out / G;
  size_t j = 0;
  for (; j + kColumns <= batch; j += kColumns) {
    for (int q = 0; q < tiles; ++q) {
      ScatterTileColumns<G, kVecs>(p, q, dy, dy_stride, dx, dx_stride, j,
                                   __mmask16{0xffff});
    }
  }
  for (; j < batch; j += 16) {
    const size_t width = std::min<size_t>(16, batch - j);
    const __mmask16 mask = static_cast<__mmask16>((1u << width) - 1);
    for (int q = 0; q < tiles; ++q) {
      ScatterTileColumns<G, 1>(p, q, dy, dy_stride, dx, dx_stride, j, mask);
    }
  }
}
#else
template <int G>
void Scatter(const PackedWeights& p, size_t batch, const float* dy,
             size_t dy_stride, float* dx, size_t dx_stride) {
  const size_t d_in = p.d_in;
  for (int q = 0; q < p.n_out / G; ++q) {
    for (size_t k = 0; k < d_in; ++k) {
      float* row =
          dx + static_cast<size_t>(p.indices[q * d_in + k]) * dx_stride;
      for (int r = 0; r < G; ++r) {
        const float w = p.weights[(q * d_in + k) * G + r];
        const float* g = dy + static_cast<size_t>(q * G + r) * dy_stride;
        for (size_t j = 0; j < batch; ++j) row[j] += w * g[j];
      }
    }
  }
}
#endif

}  // namespace

void TileInputGradient(const PackedWeights& forward, size_t columns,
                       const float* dy, size_t dy_stride, float* dx,
                       size_t dx_stride) {
  if (TileGroupSizeOfFormat(forward.format) == 4) {
    Scatter<4>(forward, columns, dy, dy_stride, dx, dx_stride);
  } else {
    Scatter<8>(forward, columns, dy, dy_stride, dx, dx_stride);
  }
}

}  // namespace spex
