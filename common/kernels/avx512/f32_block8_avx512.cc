// AVX-512 kernels for kBlock8 weights (block patterns).
//
// Batch: the 8 rows of a slice visit the same blocks, so they share each
// input tile's slot range. Four rows run through that range together: 16
// zmm accumulators (4 rows x 64 columns), four broadcasts per slot, and the
// loop overhead and its exit branch shared by 64 FMAs instead of 16.
// Column tails fall back to the shared one-row loop.
//
// One sample runs the AVX2 kernel, which every AVX-512 CPU also has: its
// limit is loads and permutes per connection, which 512-bit registers do not
// reduce.
#include "common/kernels/avx512/feature_major_avx512.h"
#include "common/kernels/kernel.h"

namespace spex {
namespace {

constexpr int kRowsTogether = 4;

// Rows lane0 .. lane0 + 3 of slice s over slots [k0, k1), 64 columns.
inline void AccumulateFourRows(const PackedWeights& p, int s, int lane0, int k0,
                               int k1, const float* x, size_t x_stride,
                               float* y, size_t y_stride, bool first,
                               bool relu) {
  const uint16_t* codes = p.indices.data() + static_cast<size_t>(s) * p.d_in;
  const float* weights =
      p.weights.data() + static_cast<size_t>(s) * p.d_in * kSliceRows + lane0;
  float* yo = y + static_cast<size_t>(s * kSliceRows + lane0) * y_stride;
  __m512 acc[kRowsTogether][4];
  for (int r = 0; r < kRowsTogether; ++r) {
    for (int i = 0; i < 4; ++i) {
      acc[r][i] = first ? _mm512_set1_ps(p.bias[s * kSliceRows + lane0 + r])
                        : _mm512_loadu_ps(yo + r * y_stride + 16 * i);
    }
  }
  for (int k = k0; k < k1; ++k) {
    const uint16_t code = codes[k];
    const int base = BlockOfCode(code) * kBlockWidth;
    const int rotation = RotationOfCode(code);
    for (int r = 0; r < kRowsTogether; ++r) {
      const __m512 w = _mm512_set1_ps(weights[k * kSliceRows + r]);
      const float* xr =
          x +
          static_cast<size_t>(base + ((lane0 + r + rotation) & 7)) * x_stride;
      for (int i = 0; i < 4; ++i) {
        acc[r][i] = _mm512_fmadd_ps(w, _mm512_loadu_ps(xr + 16 * i), acc[r][i]);
      }
    }
  }
  for (int r = 0; r < kRowsTogether; ++r) {
    for (int i = 0; i < 4; ++i) {
      _mm512_storeu_ps(yo + r * y_stride + 16 * i,
                       relu ? kernel_internal::Relu512(acc[r][i]) : acc[r][i]);
    }
  }
}

}  // namespace

void f32_block8_avx512_single(const PackedWeights& p, bool relu, const float* x,
                              float* y) {
  f32_block8_avx2_single(p, relu, x, y);
}

void f32_block8_avx512_batch(const PackedWeights& p, bool relu, size_t batch,
                             const float* x, size_t x_stride, float* y,
                             size_t y_stride) {
  // The slice-level counterpart of RunFeatureMajor (row_views.h): the four
  // rows share one slot range, so the loop runs per slice, not per row.
  constexpr size_t kTileColumns = kernel_internal::kTileColumnsAvx512;
  for (size_t j0 = 0; j0 < batch; j0 += kTileColumns) {
    const size_t width = std::min(kTileColumns, batch - j0);
    for (int t = 0; t < p.n_tiles; ++t) {
      const bool first = t == 0, last = t + 1 == p.n_tiles;
      for (int s = 0; s < p.n_slices; ++s) {
        const uint32_t* starts =
            p.tile_starts.data() + static_cast<size_t>(s) * (p.n_tiles + 1);
        const int k0 = static_cast<int>(starts[t]);
        const int k1 = static_cast<int>(starts[t + 1]);
        if (k0 == k1 && !first && !last) continue;
        if (width == kTileColumns) {
          for (int lane0 = 0; lane0 < kSliceRows; lane0 += kRowsTogether) {
            AccumulateFourRows(p, s, lane0, k0, k1, x + j0, x_stride, y + j0,
                               y_stride, first, relu && last);
          }
          continue;
        }
        for (int lane = 0; lane < kSliceRows; ++lane) {
          const int o = s * kSliceRows + lane;
          kernel_internal::AccumulateColumnsAvx512(
              kernel_internal::Block8Row(p, o), k0, k1, x + j0, x_stride,
              y + o * y_stride + j0, width, first ? &p.bias[o] : nullptr,
              relu && last);
        }
      }
    }
  }
}

}  // namespace spex
