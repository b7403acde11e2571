// The input gradient of a tile junction, dx = W^T dy, computed from the
// forward pack (kTile4 or kTile8) instead of a transposed pattern: the
// transpose of a tile pattern is grouped too (each input's outputs come in
// whole tiles), so walking the tiles and scattering into dx lets one load
// of each tile's dy rows serve all of its d_in inputs, the mirror of the
// forward kernel where one X row serves the tile's g outputs.
#ifndef SPEX_TOOLS_TRAIN_TILE_INPUT_GRADIENT_H_
#define SPEX_TOOLS_TRAIN_TILE_INPUT_GRADIENT_H_

#include <cstddef>

#include "common/kernels/packed_weights.h"

namespace spex {

// dx += W^T dy over `columns` columns: dy's n_out rows at dy + o *
// dy_stride, dx's rows at dx + forward.indices[...] * dx_stride; rows of
// dx may overlap (a convolution's shifted planes). REQUIRES: `forward` in
// a tile format.
void TileInputGradient(const PackedWeights& forward, size_t columns,
                       const float* dy, size_t dy_stride, float* dx,
                       size_t dx_stride);

}  // namespace spex

#endif  // SPEX_TOOLS_TRAIN_TILE_INPUT_GRADIENT_H_
