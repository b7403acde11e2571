// Softmax over a layer's outputs, for one sample or a feature-major batch.
// Numerically stable (the maximum is subtracted first); no allocation.
#ifndef SPEX_COMMON_KERNELS_SOFTMAX_H_
#define SPEX_COMMON_KERNELS_SOFTMAX_H_

#include <cstddef>

namespace spex {

// In place over y[0..n).
void SoftmaxInPlace(float* y, size_t n);

// In place over each column j < batch of an n-row feature-major block whose
// rows start at y + o * stride.
void SoftmaxColumnsInPlace(float* y, size_t n, size_t batch, size_t stride);

}  // namespace spex

#endif  // SPEX_COMMON_KERNELS_SOFTMAX_H_
