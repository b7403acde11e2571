// The weight gradient of a sparse junction exists only where a connection
// does: dW[o, k] = sum over the batch of dy[o, j] * x[input(o, k), j], one
// dot product per connection (a sampled dense-dense product).
#ifndef SPEX_TOOLS_TRAIN_ROW_GRADIENTS_H_
#define SPEX_TOOLS_TRAIN_ROW_GRADIENTS_H_

#include <cstddef>
#include <cstdint>

namespace spex {

// For one output row: dw[k] += dot(dy_row, x + inputs[k] * batch) for
// k < count; dy_row and each x row hold `batch` contiguous values.
void AccumulateRowGradients(const float* dy_row, const float* x, size_t batch,
                            const uint32_t* inputs, int count, float* dw);

}  // namespace spex

#endif  // SPEX_TOOLS_TRAIN_ROW_GRADIENTS_H_
