#include "common/sparsity/pattern.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status/status_macros.h"

namespace spex {
namespace {

absl::Status CheckSpec(const JunctionSpec& spec) {
  if (spec.n_in < 1 || spec.n_in > kMaxJunctionWidth || spec.n_out < 1 ||
      spec.n_out > kMaxJunctionWidth || spec.d_in < 1 ||
      spec.d_in > spec.n_in || spec.d_out < 1 || spec.d_out > spec.n_out ||
      int64_t{spec.n_in} * spec.d_out != int64_t{spec.n_out} * spec.d_in) {
    return absl::InvalidArgumentError(
        absl::StrCat("inconsistent junction ", spec.DebugString()));
  }
  return absl::OkStatus();
}

// Every input in [0, n_in) must be used by exactly d_out rows.
absl::Status CheckOutDegrees(const JunctionSpec& spec,
                             absl::Span<const uint32_t> row_indices) {
  std::vector<int> uses(spec.n_in, 0);
  for (uint32_t i : row_indices) ++uses[i];
  for (int i = 0; i < spec.n_in; ++i) {
    if (uses[i] != spec.d_out) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "input %d feeds %d outputs, junction declares out-degree %d", i,
          uses[i], spec.d_out));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::string_view PatternKindName(PatternKind kind) {
  switch (kind) {
    case PatternKind::kRandom:
      return "random";
    case PatternKind::kBlock:
      return "block";
  }
  return "unknown";
}

absl::StatusOr<PatternKind> ParsePatternKind(absl::string_view name) {
  if (name == "random") return PatternKind::kRandom;
  if (name == "block") return PatternKind::kBlock;
  return absl::InvalidArgumentError(absl::StrFormat(
      "unknown pattern kind '%s' (expected 'random' or 'block')", name));
}

absl::StatusOr<Pattern> Pattern::FromRowIndices(
    const JunctionSpec& spec, std::vector<uint32_t> row_indices) {
  SPEX_RETURN_IF_ERROR(CheckSpec(spec));
  if (row_indices.size() != static_cast<size_t>(spec.connections())) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "pattern has %d indices, junction %s needs %d", row_indices.size(),
        spec.DebugString(), spec.connections()));
  }
  for (int o = 0; o < spec.n_out; ++o) {
    const uint32_t* row =
        row_indices.data() + static_cast<size_t>(o) * spec.d_in;
    for (int k = 0; k < spec.d_in; ++k) {
      if (row[k] >= static_cast<uint32_t>(spec.n_in)) {
        return absl::InvalidArgumentError(
            absl::StrFormat("row %d slot %d: input %d out of range [0, %d)", o,
                            k, row[k], spec.n_in));
      }
      if (k > 0 && row[k] <= row[k - 1]) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "row %d slot %d: inputs not strictly ascending (%d after %d)", o, k,
            row[k], row[k - 1]));
      }
    }
  }
  SPEX_RETURN_IF_ERROR(CheckOutDegrees(spec, row_indices));
  return Pattern(spec, PatternKind::kRandom, std::move(row_indices), {});
}

absl::StatusOr<Pattern> Pattern::FromBlockCodes(const JunctionSpec& spec,
                                                std::vector<uint16_t> codes) {
  SPEX_RETURN_IF_ERROR(CheckSpec(spec));
  if (spec.n_in % kBlockWidth != 0 || spec.n_out % kBlockWidth != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "block pattern needs both widths to be multiples of %d; junction is "
        "%d -> %d (pad the layer or use the random pattern)",
        kBlockWidth, spec.n_in, spec.n_out));
  }
  const int n_slices = spec.n_out / kBlockWidth;
  const int n_blocks = spec.n_in / kBlockWidth;
  if (codes.size() != static_cast<size_t>(n_slices) * spec.d_in) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "block pattern has %d codes, junction %s needs %d", codes.size(),
        spec.DebugString(), static_cast<size_t>(n_slices) * spec.d_in));
  }
  std::vector<uint32_t> row_indices(static_cast<size_t>(spec.connections()));
  std::vector<uint32_t> lane_inputs(spec.d_in);
  for (int s = 0; s < n_slices; ++s) {
    const uint16_t* slice = codes.data() + static_cast<size_t>(s) * spec.d_in;
    for (int k = 0; k < spec.d_in; ++k) {
      if (BlockOfCode(slice[k]) >= n_blocks) {
        return absl::InvalidArgumentError(
            absl::StrFormat("slice %d slot %d: block %d out of range [0, %d)",
                            s, k, BlockOfCode(slice[k]), n_blocks));
      }
      if (k > 0 && slice[k] <= slice[k - 1]) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "slice %d slot %d: codes not strictly ascending (%d after %d)", s,
            k, slice[k], slice[k - 1]));
      }
    }
    // Distinct codes give distinct inputs per lane: two visits of one block
    // have different rotations, so a lane reads different elements.
    for (int lane = 0; lane < kBlockWidth; ++lane) {
      for (int k = 0; k < spec.d_in; ++k) {
        lane_inputs[k] = static_cast<uint32_t>(BlockCodeInput(slice[k], lane));
      }
      std::sort(lane_inputs.begin(), lane_inputs.end());
      std::copy(lane_inputs.begin(), lane_inputs.end(),
                row_indices.begin() +
                    static_cast<size_t>(s * kBlockWidth + lane) * spec.d_in);
    }
  }
  SPEX_RETURN_IF_ERROR(CheckOutDegrees(spec, row_indices));
  return Pattern(spec, PatternKind::kBlock, std::move(row_indices),
                 std::move(codes));
}

}  // namespace spex
