// The weight gradient of a sparse junction exists only where a connection
// does: dW[o, k] = sum over the batch of dy[o, j] * x[input(o, k), j], one
// dot product per connection (a sampled dense-dense product).
#ifndef SPEX_TOOLS_TRAIN_ROW_GRADIENTS_H_
#define SPEX_TOOLS_TRAIN_ROW_GRADIENTS_H_

#include <cstddef>
#include <cstdint>

namespace spex {

// For one output row: dw[k] += dot(dy_row, x + inputs[k] * x_stride) for
// k < count, over `columns` contiguous values of each.
void AccumulateRowGradients(size_t columns, const float* dy_row, const float* x,
                            size_t x_stride, const uint32_t* inputs, int count,
                            float* dw);

// The same for one tile of `group_size` rows that share `inputs`: the
// tile's dy row r at dy_tile + r * dy_stride, dw row r (at dw + r * count)
// receives row r's gradients. Each x row is loaded once for the whole tile
// instead of once per row.
void AccumulateTileGradients(size_t columns, const float* dy_tile,
                             size_t dy_stride, const float* x, size_t x_stride,
                             const uint32_t* inputs, int count, int group_size,
                             float* dw);

}  // namespace spex

#endif  // SPEX_TOOLS_TRAIN_ROW_GRADIENTS_H_
