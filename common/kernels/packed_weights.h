// A layer's weights packed for one kernel format, and the packing itself.
//
// Formats (all keep only existing connections except kDense):
//  kSell8  sliced ELL for any pattern: rows grouped in slices of 8; for slice
//          s, slot k, lane r: indices[(s*d_in + k)*8 + r] is the k-th input of
//          row 8s+r (ascending) and weights[...] its weight. Rows past n_out
//          in the last slice are padding with weight 0 and input 0.
//  kBlock8 for `block` patterns: indices holds one code per (slice, slot),
//          codes[s*d_in + k]; weights[(s*d_in + k)*8 + r] belongs to lane r,
//          which reads input BlockCodeInput(code, r).
//  kTile4, kTile8  for tile patterns of that group size (or a multiple of
//          it: a tile of 8 is two tiles of 4): indices[q*d_in + k] is the
//          k-th input of tile q (outputs q*g .. q*g + g-1), weights[(q*d_in +
//          k)*g + r] output q*g + r's weight for it. One index and one input
//          value (or batch row) serve g connections.
//  kDense  row-major n_out x n_in, zeros where no connection exists. Chosen
//          only where density is high enough for dense code to be faster.
// bias has n_slices * 8 entries (zero-padded) in every format.
//
// Batch kernels walk the inputs in tiles of `input_tile` (a multiple of 8)
// so that a tile of X stays in L1 while every row reads it. tile_starts holds,
// for each row (kSell8) or slice (kBlock8) g and tile t in [0, n_tiles], the
// first slot whose input is >= t * input_tile, at g * (n_tiles + 1) + t:
// found once here instead of searched for in every batch. The tile formats
// need no input tiles (empty tile_starts): each X row they fetch feeds g
// outputs, so they stream X from L2 at full speed (docs/BENCHMARKS.md).
#ifndef SPEX_COMMON_KERNELS_PACKED_WEIGHTS_H_
#define SPEX_COMMON_KERNELS_PACKED_WEIGHTS_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/kernels/aligned_vector.h"
#include "common/sparsity/pattern.h"

namespace spex {

enum class WeightFormat { kSell8, kBlock8, kTile4, kTile8, kDense };

absl::string_view WeightFormatName(WeightFormat format);

// Whether `format` can hold a pattern of `kind`: sell8 and dense hold any,
// block8 only block patterns, tileG tile patterns whose group size is a
// multiple of G.
bool FormatFitsPattern(WeightFormat format, PatternKind kind);

// G for kTileG, 0 for the other formats.
int TileGroupSizeOfFormat(WeightFormat format);

// The sparse format made for a pattern kind (sell8 for random, block8 for
// block, tileG for tileG), and the pattern kind a format is made for (random
// for sell8 and dense, which hold any).
WeightFormat SparseFormatOf(PatternKind kind);
PatternKind PatternKindOf(WeightFormat format);

inline constexpr int kSliceRows = 8;

struct PackedWeights {
  WeightFormat format = WeightFormat::kSell8;
  int n_in = 0;
  int n_out = 0;
  int d_in = 0;
  int n_slices = 0;  // ceil(n_out / kSliceRows)
  int input_tile = 0;
  int n_tiles = 0;  // ceil(n_in / input_tile)
  AlignedVector<uint16_t> indices;
  AlignedVector<float> weights;
  AlignedVector<float> bias;
  AlignedVector<uint32_t> tile_starts;  // empty for kDense and the tiles

  size_t bytes() const {
    return indices.size() * sizeof(uint16_t) +
           tile_starts.size() * sizeof(uint32_t) +
           (weights.size() + bias.size()) * sizeof(float);
  }
};

// Inputs per batch tile: about 32 connections per row per tile, so that
// reloading each row's partial sums stays cheap, and at least 128 inputs
// (the best of 4 to 64 connections and 32 to 256 inputs measured on
// 1024 -> 1024 at densities 1/8 and 1/2, batch 64).
int InputTileForBatch(int n_in, int d_in);

// Packs `weights` (logical order: row o's weight for its k-th ascending input
// at o * d_in + k) and `bias` (n_out) for `format`. InvalidArgument on size
// mismatch or when the format does not fit the pattern (FormatFitsPattern).
absl::StatusOr<PackedWeights> PackWeights(const Pattern& pattern,
                                          absl::Span<const float> weights,
                                          absl::Span<const float> bias,
                                          WeightFormat format);

}  // namespace spex

#endif  // SPEX_COMMON_KERNELS_PACKED_WEIGHTS_H_
