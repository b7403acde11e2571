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

// The same for one tile of `group_size` rows that share `inputs`: dy_tile
// holds the tile's group_size dy rows one after another, dw row r (at dw + r
// * count) receives row r's gradients. Each x row is loaded once for the
// whole tile instead of once per row.
void AccumulateTileGradients(const float* dy_tile, const float* x, size_t batch,
                             const uint32_t* inputs, int count, int group_size,
                             float* dw);

}  // namespace spex

#endif  // SPEX_TOOLS_TRAIN_ROW_GRADIENTS_H_
