// Reference kernel for kBlock8: decodes each slot's block code per lane.
#include "common/kernels/kernel.h"

namespace spex {

void f32_block8_ref_single(const PackedWeights& p, bool relu, const float* x,
                           float* y) {
  for (int o = 0; o < p.n_out; ++o) {
    const size_t s = o / kSliceRows;
    const int lane = o % kSliceRows;
    float acc = p.bias[o];
    for (size_t k = 0; k < static_cast<size_t>(p.d_in); ++k) {
      const uint16_t code = p.indices[s * p.d_in + k];
      acc += p.weights[(s * p.d_in + k) * kSliceRows + lane] *
             x[BlockCodeInput(code, lane)];
    }
    y[o] = relu && acc < 0.0f ? 0.0f : acc;
  }
}

void f32_block8_ref_batch(const PackedWeights& p, bool relu, size_t batch,
                          const float* x, size_t x_stride, float* y,
                          size_t y_stride) {
  for (int o = 0; o < p.n_out; ++o) {
    const size_t s = o / kSliceRows;
    const int lane = o % kSliceRows;
    for (size_t j = 0; j < batch; ++j) {
      float acc = p.bias[o];
      for (size_t k = 0; k < static_cast<size_t>(p.d_in); ++k) {
        const uint16_t code = p.indices[s * p.d_in + k];
        acc += p.weights[(s * p.d_in + k) * kSliceRows + lane] *
               x[BlockCodeInput(code, lane) * x_stride + j];
      }
      y[o * y_stride + j] = relu && acc < 0.0f ? 0.0f : acc;
    }
  }
}

}  // namespace spex
