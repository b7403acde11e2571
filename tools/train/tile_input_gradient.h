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

// dx (n_in rows of `batch`, overwritten) = W^T dy (n_out rows of `batch`),
// both feature-major with stride `batch`. REQUIRES: `forward` in a tile
// format.
void TileInputGradient(const PackedWeights& forward, size_t batch,
                       const float* dy, float* dx);

}  // namespace spex

#endif  // SPEX_TOOLS_TRAIN_TILE_INPUT_GRADIENT_H_
