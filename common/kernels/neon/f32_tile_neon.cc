// NEON kernels for kTile4 and kTile8 (tile patterns).
//
// One sample: a slot's g weights are contiguous and multiply one input, so
// it costs one 16-bit index, one scalar load of x and g/4 FMAs by element
// (fmla v.4s, v.4s, v.s[0]) for g connections: tile8 about 5 instructions
// per 8 connections (ldrh, ldr s, ldp q, 2 fmla), where sell8 needs a gather
// of single lanes per connection.
//
// Batch (feature-major): tile4 runs 4 rows x 16 columns, tile8 8 rows x 8
// columns, 16 q accumulators either way; per slot the X row is loaded once
// for all g rows and the g weights once as whole q registers, each FMA
// taking its weight by lane. Column tails run one column at a time.
#include <arm_neon.h>

#include <algorithm>

#include "common/kernels/kernel.h"

namespace spex {
namespace {

template <int G>
void TileSingle(const PackedWeights& p, bool relu, const float* x, float* y) {
  constexpr int kQuads = G / 4;
  const size_t d_in = p.d_in;
  const float32x4_t zero = vdupq_n_f32(0.0f);
  for (int q = 0; q < p.n_out / G; ++q) {
    const uint16_t* idx = p.indices.data() + q * d_in;
    const float* w = p.weights.data() + q * d_in * G;
    // Two accumulator sets (even and odd slots) halve the FMA chains.
    float32x4_t even[kQuads], odd[kQuads];
    for (int h = 0; h < kQuads; ++h) {
      even[h] = vld1q_f32(p.bias.data() + q * G + 4 * h);
      odd[h] = zero;
    }
    size_t k = 0;
    for (; k + 2 <= d_in; k += 2) {
      const float x0 = x[idx[k]], x1 = x[idx[k + 1]];
      for (int h = 0; h < kQuads; ++h) {
        even[h] = vfmaq_n_f32(even[h], vld1q_f32(w + k * G + 4 * h), x0);
        odd[h] = vfmaq_n_f32(odd[h], vld1q_f32(w + (k + 1) * G + 4 * h), x1);
      }
    }
    if (k < d_in) {
      const float x0 = x[idx[k]];
      for (int h = 0; h < kQuads; ++h) {
        even[h] = vfmaq_n_f32(even[h], vld1q_f32(w + k * G + 4 * h), x0);
      }
    }
    for (int h = 0; h < kQuads; ++h) {
      float32x4_t out = vaddq_f32(even[h], odd[h]);
      if (relu) out = vmaxq_f32(out, zero);
      vst1q_f32(y + q * G + 4 * h, out);
    }
  }
}

// Tile q's G rows over kColumns = 64 / G columns at x, y.
template <int G>
inline void TileFullColumns(const PackedWeights& p, int q, const float* x,
                            size_t x_stride, float* y, size_t y_stride,
                            bool relu) {
  constexpr int kVecs = 16 / G;  // q registers per row
  constexpr int kQuads = G / 4;  // q registers of weights per slot
  const size_t d_in = p.d_in;
  const uint16_t* idx = p.indices.data() + q * d_in;
  const float* w = p.weights.data() + q * d_in * G;
  float32x4_t acc[G][kVecs];
  for (int r = 0; r < G; ++r) {
    for (int v = 0; v < kVecs; ++v) acc[r][v] = vdupq_n_f32(p.bias[q * G + r]);
  }
  for (size_t k = 0; k < d_in; ++k) {
    const float* xr = x + static_cast<size_t>(idx[k]) * x_stride;
    float32x4_t xv[kVecs];
    for (int v = 0; v < kVecs; ++v) xv[v] = vld1q_f32(xr + 4 * v);
    for (int h = 0; h < kQuads; ++h) {
      const float32x4_t wq = vld1q_f32(w + k * G + 4 * h);
      for (int v = 0; v < kVecs; ++v) {
        acc[4 * h + 0][v] = vfmaq_laneq_f32(acc[4 * h + 0][v], xv[v], wq, 0);
        acc[4 * h + 1][v] = vfmaq_laneq_f32(acc[4 * h + 1][v], xv[v], wq, 1);
        acc[4 * h + 2][v] = vfmaq_laneq_f32(acc[4 * h + 2][v], xv[v], wq, 2);
        acc[4 * h + 3][v] = vfmaq_laneq_f32(acc[4 * h + 3][v], xv[v], wq, 3);
      }
    }
  }
  const float32x4_t zero = vdupq_n_f32(0.0f);
  for (int r = 0; r < G; ++r) {
    float* yr = y + static_cast<size_t>(q * G + r) * y_stride;
    for (int v = 0; v < kVecs; ++v) {
      vst1q_f32(yr + 4 * v, relu ? vmaxq_f32(acc[r][v], zero) : acc[r][v]);
    }
  }
}

// Tile q's G rows over one column.
template <int G>
inline void TileOneColumn(const PackedWeights& p, int q, const float* x,
                          size_t x_stride, float* y, size_t y_stride,
                          bool relu) {
  constexpr int kQuads = G / 4;
  const size_t d_in = p.d_in;
  const uint16_t* idx = p.indices.data() + q * d_in;
  const float* w = p.weights.data() + q * d_in * G;
  float32x4_t acc[kQuads];
  for (int h = 0; h < kQuads; ++h) acc[h] = vld1q_f32(p.bias.data() + q * G + 4 * h);
  for (size_t k = 0; k < d_in; ++k) {
    const float xk = x[static_cast<size_t>(idx[k]) * x_stride];
    for (int h = 0; h < kQuads; ++h) {
      acc[h] = vfmaq_n_f32(acc[h], vld1q_f32(w + k * G + 4 * h), xk);
    }
  }
  float out[G];
  for (int h = 0; h < kQuads; ++h) vst1q_f32(out + 4 * h, acc[h]);
  for (int r = 0; r < G; ++r) {
    y[static_cast<size_t>(q * G + r) * y_stride] =
        relu && out[r] < 0.0f ? 0.0f : out[r];
  }
}

template <int G>
void TileBatch(const PackedWeights& p, bool relu, size_t batch, const float* x,
               size_t x_stride, float* y, size_t y_stride) {
  constexpr size_t kColumns = 64 / G;
  const int tiles = p.n_out / G;
  size_t j = 0;
  for (; j + kColumns <= batch; j += kColumns) {
    for (int q = 0; q < tiles; ++q) {
      TileFullColumns<G>(p, q, x + j, x_stride, y + j, y_stride, relu);
    }
  }
  for (; j < batch; ++j) {
    for (int q = 0; q < tiles; ++q) {
      TileOneColumn<G>(p, q, x + j, x_stride, y + j, y_stride, relu);
    }
  }
}

}  // namespace

void f32_tile4_neon_single(const PackedWeights& p, bool relu, const float* x,
                           float* y) {
  TileSingle<4>(p, relu, x, y);
}
void f32_tile4_neon_batch(const PackedWeights& p, bool relu, size_t batch,
                          const float* x, size_t x_stride, float* y,
                          size_t y_stride) {
  TileBatch<4>(p, relu, batch, x, x_stride, y, y_stride);
}
void f32_tile8_neon_single(const PackedWeights& p, bool relu, const float* x,
                           float* y) {
  TileSingle<8>(p, relu, x, y);
}
void f32_tile8_neon_batch(const PackedWeights& p, bool relu, size_t batch,
                          const float* x, size_t x_stride, float* y,
                          size_t y_stride) {
  TileBatch<8>(p, relu, batch, x, x_stride, y, y_stride);
}

}  // namespace spex
