#include "common/sparsity/pattern.h"

#include <algorithm>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
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

constexpr int kTileGroupSizes[] = {4, 8};

// `lists` holds `count` lists of d_in inputs each; `what` names a list in
// errors ("row" or "tile").
absl::Status CheckAscendingLists(const JunctionSpec& spec,
                                 absl::Span<const uint32_t> lists, int count,
                                 absl::string_view what) {
  for (int o = 0; o < count; ++o) {
    const uint32_t* list = lists.data() + static_cast<size_t>(o) * spec.d_in;
    for (int k = 0; k < spec.d_in; ++k) {
      if (list[k] >= static_cast<uint32_t>(spec.n_in)) {
        return absl::InvalidArgumentError(
            absl::StrFormat("%s %d slot %d: input %d out of range [0, %d)",
                            what, o, k, list[k], spec.n_in));
      }
      if (k > 0 && list[k] <= list[k - 1]) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "%s %d slot %d: inputs not strictly ascending (%d after %d)", what,
            o, k, list[k], list[k - 1]));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

int TileGroupSize(PatternKind kind) {
  switch (kind) {
    case PatternKind::kTile4:
      return 4;
    case PatternKind::kTile8:
      return 8;
    case PatternKind::kRandom:
    case PatternKind::kBlock:
      return 1;
  }
  return 1;
}

absl::StatusOr<PatternKind> TileKindOfGroupSize(int group_size) {
  if (group_size == 4) return PatternKind::kTile4;
  if (group_size == 8) return PatternKind::kTile8;
  return absl::InvalidArgumentError(
      absl::StrFormat("tile group size %d unsupported (4 or 8)", group_size));
}

absl::Status CheckTileFits(const JunctionSpec& spec, int group_size) {
  if (spec.n_out % group_size == 0 && spec.d_out % group_size == 0) {
    return absl::OkStatus();
  }
  std::vector<std::string> fitting;
  for (int g : kTileGroupSizes) {
    if (spec.n_out % g == 0 && spec.d_out % g == 0) {
      fitting.push_back(absl::StrCat("tile", g));
    }
  }
  return absl::InvalidArgumentError(absl::StrFormat(
      "junction %s: a tile pattern of group size %d needs n_out and d_out "
      "to be multiples of %d; %s",
      spec.DebugString(), group_size, group_size,
      fitting.empty()
          ? std::string("no tile group size fits (use random or block)")
          : absl::StrCat("group sizes that fit: ",
                         absl::StrJoin(fitting, ", "))));
}

absl::string_view PatternKindName(PatternKind kind) {
  switch (kind) {
    case PatternKind::kRandom:
      return "random";
    case PatternKind::kBlock:
      return "block";
    case PatternKind::kTile4:
      return "tile4";
    case PatternKind::kTile8:
      return "tile8";
  }
  return "unknown";
}

absl::StatusOr<PatternKind> ParsePatternKind(absl::string_view name) {
  if (name == "random") return PatternKind::kRandom;
  if (name == "block") return PatternKind::kBlock;
  if (name == "tile4") return PatternKind::kTile4;
  if (name == "tile8") return PatternKind::kTile8;
  return absl::InvalidArgumentError(absl::StrFormat(
      "unknown pattern kind '%s' (expected random, block, tile4 or tile8)",
      name));
}

absl::StatusOr<Pattern> Pattern::FromRowIndices(
    const JunctionSpec& spec, std::vector<uint32_t> row_indices) {
  SPEX_RETURN_IF_ERROR(CheckSpec(spec));
  if (row_indices.size() != static_cast<size_t>(spec.connections())) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "pattern has %d indices, junction %s needs %d", row_indices.size(),
        spec.DebugString(), spec.connections()));
  }
  SPEX_RETURN_IF_ERROR(
      CheckAscendingLists(spec, row_indices, spec.n_out, "row"));
  SPEX_RETURN_IF_ERROR(CheckOutDegrees(spec, row_indices));
  return Pattern(spec, PatternKind::kRandom, std::move(row_indices), {});
}

absl::StatusOr<Pattern> Pattern::FromTileInputs(const JunctionSpec& spec,
                                                int group_size,
                                                std::vector<uint32_t> inputs) {
  SPEX_RETURN_IF_ERROR(CheckSpec(spec));
  SPEX_ASSIGN_OR_RETURN(const PatternKind kind,
                        TileKindOfGroupSize(group_size));
  SPEX_RETURN_IF_ERROR(CheckTileFits(spec, group_size));
  const int n_tiles = spec.n_out / group_size;
  if (inputs.size() != static_cast<size_t>(n_tiles) * spec.d_in) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "tile pattern has %d indices, junction %s needs %d tiles x %d",
        inputs.size(), spec.DebugString(), n_tiles, spec.d_in));
  }
  SPEX_RETURN_IF_ERROR(CheckAscendingLists(spec, inputs, n_tiles, "tile"));
  std::vector<uint32_t> row_indices;
  row_indices.reserve(static_cast<size_t>(spec.connections()));
  for (int q = 0; q < n_tiles; ++q) {
    const auto first = inputs.begin() + static_cast<ptrdiff_t>(q) * spec.d_in;
    for (int r = 0; r < group_size; ++r) {
      row_indices.insert(row_indices.end(), first, first + spec.d_in);
    }
  }
  SPEX_RETURN_IF_ERROR(CheckOutDegrees(spec, row_indices));
  return Pattern(spec, kind, std::move(row_indices), {});
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
