// GeneratePattern: every pattern kind on top of the biregular sampler.
#include <algorithm>
#include <array>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "common/sparsity/biregular_sampler.h"
#include "common/sparsity/pattern.h"
#include "common/status/status_macros.h"

namespace spex {
namespace {

absl::StatusOr<Pattern> GenerateRandom(const JunctionSpec& spec,
                                       SeededRandom& random) {
  BiregularShape shape;
  shape.n_left = spec.n_out;
  shape.n_right = spec.n_in;
  shape.left_degree = spec.d_in;
  shape.right_degree = spec.d_out;
  shape.max_multiplicity = 1;
  SPEX_ASSIGN_OR_RETURN(std::vector<uint32_t> rows,
                        SampleBiregular(shape, random));
  return Pattern::FromRowIndices(spec, std::move(rows));
}

absl::StatusOr<Pattern> GenerateBlock(const JunctionSpec& spec,
                                      SeededRandom& random) {
  if (spec.n_in % kBlockWidth != 0 || spec.n_out % kBlockWidth != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "block pattern needs both widths to be multiples of %d; junction is "
        "%d -> %d (pad the layer or use the random pattern)",
        kBlockWidth, spec.n_in, spec.n_out));
  }
  const int n_blocks = spec.n_in / kBlockWidth;
  // Visit each block as few times per slice as the in-degree allows: once up
  // to density 1/kBlockWidth, then a Latin-square row per extra visit.
  BiregularShape shape;
  shape.n_left = spec.n_out / kBlockWidth;
  shape.n_right = n_blocks;
  shape.left_degree = spec.d_in;
  shape.right_degree = spec.d_out;
  shape.max_multiplicity = (spec.d_in + n_blocks - 1) / n_blocks;
  SPEX_ASSIGN_OR_RETURN(std::vector<uint32_t> slice_blocks,
                        SampleBiregular(shape, random));

  std::vector<uint16_t> codes(slice_blocks.size());
  std::array<int, kBlockWidth> rotations;
  size_t k = 0;
  while (k < slice_blocks.size()) {
    // slice_blocks is sorted within each slice: a run of equal blocks is one
    // (slice, block) pair visited `run` times, each with its own rotation.
    const int64_t slice_end =
        (static_cast<int64_t>(k) / spec.d_in + 1) * spec.d_in;
    size_t run = 1;  // at most max_multiplicity <= kBlockWidth
    while (run < kBlockWidth && static_cast<int64_t>(k + run) < slice_end &&
           slice_blocks[k + run] == slice_blocks[k]) {
      ++run;
    }
    for (int r = 0; r < kBlockWidth; ++r) rotations[r] = r;
    random.Shuffle(rotations.data(), rotations.size());
    std::sort(rotations.begin(), rotations.begin() + run);
    for (size_t j = 0; j < run; ++j) {
      codes[k + j] =
          MakeBlockCode(static_cast<int>(slice_blocks[k]), rotations[j]);
    }
    k += run;
  }
  return Pattern::FromBlockCodes(spec, std::move(codes));
}

// Tiles of g outputs x inputs, each tile reading d_in distinct inputs and
// each input read by d_out / g tiles: a random biregular graph.
absl::StatusOr<Pattern> GenerateTile(const JunctionSpec& spec, int group_size,
                                     SeededRandom& random) {
  SPEX_RETURN_IF_ERROR(CheckTileFits(spec, group_size));
  BiregularShape shape;
  shape.n_left = spec.n_out / group_size;
  shape.n_right = spec.n_in;
  shape.left_degree = spec.d_in;
  shape.right_degree = spec.d_out / group_size;
  shape.max_multiplicity = 1;
  SPEX_ASSIGN_OR_RETURN(std::vector<uint32_t> inputs,
                        SampleBiregular(shape, random));
  return Pattern::FromTileInputs(spec, group_size, std::move(inputs));
}

}  // namespace

absl::StatusOr<Pattern> GeneratePattern(const JunctionSpec& spec,
                                        PatternKind kind, uint64_t seed) {
  SeededRandom random(seed);
  switch (kind) {
    case PatternKind::kRandom:
      return GenerateRandom(spec, random);
    case PatternKind::kBlock:
      return GenerateBlock(spec, random);
    case PatternKind::kTile4:
    case PatternKind::kTile8:
      return GenerateTile(spec, TileGroupSize(kind), random);
  }
  return absl::InvalidArgumentError("unknown pattern kind");
}

}  // namespace spex
