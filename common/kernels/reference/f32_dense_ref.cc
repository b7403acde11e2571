// Reference kernel for kDense: a row-major matrix-vector product.
#include "common/kernels/kernel.h"

namespace spex {

void f32_dense_ref_single(const PackedWeights& p, bool relu, const float* x,
                          float* y) {
  for (int o = 0; o < p.n_out; ++o) {
    const float* w = p.weights.data() + static_cast<size_t>(o) * p.n_in;
    float acc = p.bias[o];
    for (int i = 0; i < p.n_in; ++i) acc += w[i] * x[i];
    y[o] = relu && acc < 0.0f ? 0.0f : acc;
  }
}

void f32_dense_ref_batch(const PackedWeights& p, bool relu, size_t batch,
                         const float* x, size_t x_stride, float* y,
                         size_t y_stride) {
  for (int o = 0; o < p.n_out; ++o) {
    const float* w = p.weights.data() + static_cast<size_t>(o) * p.n_in;
    for (size_t j = 0; j < batch; ++j) {
      float acc = p.bias[o];
      for (int i = 0; i < p.n_in; ++i) acc += w[i] * x[i * x_stride + j];
      y[o * y_stride + j] = relu && acc < 0.0f ? 0.0f : acc;
    }
  }
}

}  // namespace spex
