// Reference kernel for kSell8: plain loops over the packed layout, written to
// be obviously right. The tests' float64 oracle checks it like any other.
#include "common/kernels/kernel.h"

namespace spex {

void f32_sell8_ref_single(const PackedWeights& p, bool relu, const float* x,
                          float* y) {
  for (int o = 0; o < p.n_out; ++o) {
    const size_t s = o / kSliceRows, lane = o % kSliceRows;
    float acc = p.bias[o];
    for (size_t k = 0; k < static_cast<size_t>(p.d_in); ++k) {
      const size_t at = (s * p.d_in + k) * kSliceRows + lane;
      acc += p.weights[at] * x[p.indices[at]];
    }
    y[o] = relu && acc < 0.0f ? 0.0f : acc;
  }
}

void f32_sell8_ref_batch(const PackedWeights& p, bool relu, size_t batch,
                         const float* x, size_t x_stride, float* y,
                         size_t y_stride) {
  for (int o = 0; o < p.n_out; ++o) {
    const size_t s = o / kSliceRows, lane = o % kSliceRows;
    for (size_t j = 0; j < batch; ++j) {
      float acc = p.bias[o];
      for (size_t k = 0; k < static_cast<size_t>(p.d_in); ++k) {
        const size_t at = (s * p.d_in + k) * kSliceRows + lane;
        acc += p.weights[at] * x[p.indices[at] * x_stride + j];
      }
      y[o * y_stride + j] = relu && acc < 0.0f ? 0.0f : acc;
    }
  }
}

}  // namespace spex
