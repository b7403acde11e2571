// A predefined connection pattern: which inputs feed each output of a
// junction. Fixed before training, never changed, immutable once built.
//
// Two kinds exist. `kRandom` is any pattern with the junction's exact degrees
// (generated uniformly at random). `kBlock` is laid out for SIMD: outputs are
// grouped in slices of kBlockWidth rows, and at each slot a slice reads one
// aligned block of kBlockWidth inputs, lane r taking element
// (r + rotation) mod kBlockWidth. One 16-bit code (block << 3 | rotation)
// describes kBlockWidth connections, and a kernel serves them with one vector
// load and one permute instead of a gather.
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

enum class PatternKind { kRandom, kBlock };

absl::string_view PatternKindName(PatternKind kind);
absl::StatusOr<PatternKind> ParsePatternKind(absl::string_view name);

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

  const JunctionSpec& spec() const { return spec_; }
  PatternKind kind() const { return kind_; }

  // Inputs of output `o`, ascending. REQUIRES: 0 <= o < n_out.
  absl::Span<const uint32_t> row(int o) const {
    return absl::MakeConstSpan(row_indices_)
        .subspan(static_cast<size_t>(o) * spec_.d_in, spec_.d_in);
  }
  // All rows, row-major: n_out * d_in entries.
  absl::Span<const uint32_t> row_indices() const { return row_indices_; }
  // Slice-major codes (n_out / kBlockWidth * d_in); empty for kRandom.
  absl::Span<const uint16_t> block_codes() const { return block_codes_; }

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
// distinct rotations. InvalidArgument when the kind cannot fit the spec.
absl::StatusOr<Pattern> GeneratePattern(const JunctionSpec& spec,
                                        PatternKind kind, uint64_t seed);

}  // namespace spex

#endif  // SPEX_COMMON_SPARSITY_PATTERN_H_
