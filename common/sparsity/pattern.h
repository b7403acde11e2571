// A predefined connection pattern: which inputs feed each output of a
// junction. Fixed before training, never changed, immutable once built.
//
// Three kinds exist. `kRandom` is any pattern with the junction's exact
// degrees (generated uniformly at random). `kBlock` is laid out for SIMD:
// outputs are grouped in slices of kBlockWidth rows, and at each slot a slice
// reads one aligned block of kBlockWidth inputs, lane r taking element
// (r + rotation) mod kBlockWidth. One 16-bit code (block << 3 | rotation)
// describes kBlockWidth connections, and a kernel serves them with one vector
// load and one permute instead of a gather. `kTile4` and `kTile8` group the
// outputs in tiles of g = 4 or 8 consecutive rows that read the identical
// input set: one index serves g connections, and every input (a whole row of
// a feature-major batch) a kernel fetches feeds g outputs. The groups and
// the inputs form a random biregular graph (every group reads d_in inputs,
// every input feeds d_out / g groups), so both degrees stay exact.
//
// Thread safety: const methods may be called concurrently.
#ifndef SPEX_COMMON_SPARSITY_PATTERN_H_
#define SPEX_COMMON_SPARSITY_PATTERN_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/sparsity/junction.h"

namespace spex {

enum class PatternKind { kRandom, kBlock, kTile4, kTile8 };

absl::string_view PatternKindName(PatternKind kind);
absl::StatusOr<PatternKind> ParsePatternKind(absl::string_view name);

// Outputs per tile (sharing one input set): 4 or 8 for the tile kinds, 1
// for the others.
int TileGroupSize(PatternKind kind);
// The tile kind of group size g; InvalidArgument unless g is 4 or 8.
absl::StatusOr<PatternKind> TileKindOfGroupSize(int group_size);
// OK when tiles of `group_size` fit the junction (n_out and d_out multiples
// of it); otherwise an error naming the junction and the sizes that fit.
absl::Status CheckTileFits(const JunctionSpec& spec, int group_size);

inline constexpr int kBlockWidth = 8;
inline constexpr int kBlockRotationBits = 3;

inline uint16_t MakeBlockCode(int block, int rotation) {
  return static_cast<uint16_t>((block << kBlockRotationBits) | rotation);
}
inline int BlockOfCode(uint16_t code) { return code >> kBlockRotationBits; }
inline int RotationOfCode(uint16_t code) { return code & (kBlockWidth - 1); }
// The input that lane `lane` of a slice reads at a slot with this code.
inline int BlockCodeInput(uint16_t code, int lane) {
  return BlockOfCode(code) * kBlockWidth +
         ((lane + RotationOfCode(code)) & (kBlockWidth - 1));
}

class Pattern {
 public:
  // Validates and wraps per-output input lists: `row_indices` holds n_out
  // rows of d_in strictly ascending inputs in [0, n_in), and every input must
  // appear in exactly d_out rows. Errors name the row or input at fault.
  static absl::StatusOr<Pattern> FromRowIndices(
      const JunctionSpec& spec, std::vector<uint32_t> row_indices);

  // Validates and expands block codes: n_out/kBlockWidth slices of d_in
  // codes, ascending within a slice, blocks in range, no code repeated in a
  // slice (so no output reads an input twice), every block visited d_out
  // times. Both widths must be multiples of kBlockWidth.
  static absl::StatusOr<Pattern> FromBlockCodes(const JunctionSpec& spec,
                                                std::vector<uint16_t> codes);

  // Validates and expands tiles of `group_size` outputs (4 or 8): n_out / g
  // lists of d_in strictly ascending inputs, tile q's list read by outputs
  // q*g .. q*g + g-1, every input in exactly d_out / g lists. n_out and d_out
  // must be multiples of g.
  static absl::StatusOr<Pattern> FromTileInputs(const JunctionSpec& spec,
                                                int group_size,
                                                std::vector<uint32_t> inputs);

  const JunctionSpec& spec() const { return spec_; }
  PatternKind kind() const { return kind_; }
  int group_size() const { return TileGroupSize(kind_); }

  // Inputs of output `o`, ascending. REQUIRES: 0 <= o < n_out.
  absl::Span<const uint32_t> row(int o) const {
    return absl::MakeConstSpan(row_indices_)
        .subspan(static_cast<size_t>(o) * spec_.d_in, spec_.d_in);
  }
  // All rows, row-major: n_out * d_in entries.
  absl::Span<const uint32_t> row_indices() const { return row_indices_; }
  // Slice-major codes (n_out / kBlockWidth * d_in); empty unless kBlock.
  absl::Span<const uint16_t> block_codes() const { return block_codes_; }
  // Inputs of tile `q` (outputs q*g .. q*g + g-1), ascending: the stored
  // form of a tile pattern. REQUIRES: a tile kind, 0 <= q < n_out / g.
  absl::Span<const uint32_t> tile_inputs(int q) const {
    return row(q * group_size());
  }

 private:
  Pattern(const JunctionSpec& spec, PatternKind kind,
          std::vector<uint32_t> row_indices, std::vector<uint16_t> codes)
      : spec_(spec),
        kind_(kind),
        row_indices_(std::move(row_indices)),
        block_codes_(std::move(codes)) {}

  JunctionSpec spec_;
  PatternKind kind_;
  std::vector<uint32_t> row_indices_;
  std::vector<uint16_t> block_codes_;
};

// Generates a pattern of `kind` for `spec`, deterministically for `seed` on
// every platform. kRandom samples uniformly among patterns with the exact
// degrees; kBlock samples the slice-to-block graph the same way, then random
// distinct rotations; the tile kinds sample the tile-to-input graph. An
// InvalidArgument when the kind cannot fit the spec names what would.
absl::StatusOr<Pattern> GeneratePattern(const JunctionSpec& spec,
                                        PatternKind kind, uint64_t seed);

}  // namespace spex

#endif  // SPEX_COMMON_SPARSITY_PATTERN_H_
