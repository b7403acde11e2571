// Reference kernels for kTile4 and kTile8: plain loops over each tile's
// shared inputs.
#include "common/kernels/kernel.h"

namespace spex {
namespace {

template <int G>
void TileSingle(const PackedWeights& p, bool relu, const float* x, float* y) {
  const size_t d_in = p.d_in;
  for (int q = 0; q < p.n_out / G; ++q) {
    for (int r = 0; r < G; ++r) {
      float acc = p.bias[q * G + r];
      for (size_t k = 0; k < d_in; ++k) {
        acc += p.weights[(q * d_in + k) * G + r] * x[p.indices[q * d_in + k]];
      }
      y[q * G + r] = relu && acc < 0.0f ? 0.0f : acc;
    }
  }
}

template <int G>
void TileBatch(const PackedWeights& p, bool relu, size_t batch, const float* x,
               size_t x_stride, float* y, size_t y_stride) {
  const size_t d_in = p.d_in;
  for (int q = 0; q < p.n_out / G; ++q) {
    for (int r = 0; r < G; ++r) {
      for (size_t j = 0; j < batch; ++j) {
        float acc = p.bias[q * G + r];
        for (size_t k = 0; k < d_in; ++k) {
          acc += p.weights[(q * d_in + k) * G + r] *
                 x[p.indices[q * d_in + k] * x_stride + j];
        }
        y[(q * G + r) * y_stride + j] = relu && acc < 0.0f ? 0.0f : acc;
      }
    }
  }
}

}  // namespace

void f32_tile4_ref_single(const PackedWeights& p, bool relu, const float* x,
                          float* y) {
  TileSingle<4>(p, relu, x, y);
}
void f32_tile4_ref_batch(const PackedWeights& p, bool relu, size_t batch,
                         const float* x, size_t x_stride, float* y,
                         size_t y_stride) {
  TileBatch<4>(p, relu, batch, x, x_stride, y, y_stride);
}
void f32_tile8_ref_single(const PackedWeights& p, bool relu, const float* x,
                          float* y) {
  TileSingle<8>(p, relu, x, y);
}
void f32_tile8_ref_batch(const PackedWeights& p, bool relu, size_t batch,
                         const float* x, size_t x_stride, float* y,
                         size_t y_stride) {
  TileBatch<8>(p, relu, batch, x, x_stride, y, y_stride);
}

}  // namespace spex
