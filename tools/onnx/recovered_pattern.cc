#include "tools/onnx/recovered_pattern.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace spex {
namespace {

// Whether each run of g consecutive rows reads one input set.
bool TilesOf(int g, const JunctionSpec& spec,
             const std::vector<uint32_t>& rows) {
  if (!CheckTileFits(spec, g).ok()) return false;
  for (int o = 0; o < spec.n_out; ++o) {
    if (o % g == 0) continue;
    if (!std::equal(rows.begin() + static_cast<int64_t>(o) * spec.d_in,
                    rows.begin() + static_cast<int64_t>(o + 1) * spec.d_in,
                    rows.begin() + static_cast<int64_t>(o - 1) * spec.d_in)) {
      return false;
    }
  }
  return true;
}

// The block codes of `rows` when every slice of kBlockWidth outputs reads
// whole aligned blocks, lane r of a slot taking 8 b + (r + rotation) mod 8;
// empty when the rows are not so laid out.
std::vector<uint16_t> BlockCodes(const JunctionSpec& spec,
                                 const std::vector<uint32_t>& rows) {
  if (spec.n_in % kBlockWidth != 0 || spec.n_out % kBlockWidth != 0) return {};
  std::vector<uint16_t> codes;
  for (int s = 0; s < spec.n_out / kBlockWidth; ++s) {
    std::vector<uint16_t> slice;
    const uint32_t* lane0 =
        rows.data() + static_cast<int64_t>(s) * kBlockWidth * spec.d_in;
    for (int k = 0; k < spec.d_in; ++k) {
      const int block = static_cast<int>(lane0[k]) / kBlockWidth;
      const int rotation = static_cast<int>(lane0[k]) % kBlockWidth;
      if (block >= (1 << (16 - kBlockRotationBits))) return {};
      slice.push_back(MakeBlockCode(block, rotation));
    }
    std::sort(slice.begin(), slice.end());
    // Every lane must read exactly what the codes say.
    for (int lane = 0; lane < kBlockWidth; ++lane) {
      std::vector<uint32_t> expected;
      for (uint16_t code : slice) {
        expected.push_back(static_cast<uint32_t>(BlockCodeInput(code, lane)));
      }
      std::sort(expected.begin(), expected.end());
      const uint32_t* row =
          rows.data() +
          (static_cast<int64_t>(s) * kBlockWidth + lane) * spec.d_in;
      if (!std::equal(expected.begin(), expected.end(), row)) return {};
    }
    codes.insert(codes.end(), slice.begin(), slice.end());
  }
  return codes;
}

}  // namespace

absl::StatusOr<RecoveredPattern> RecoverPattern(
    const std::vector<bool>& nonzero, int n_out, int n_in, bool allow_dense) {
  std::vector<int> per_output(n_out, 0), per_input(n_in, 0);
  for (int o = 0; o < n_out; ++o) {
    for (int i = 0; i < n_in; ++i) {
      if (nonzero[static_cast<size_t>(o) * n_in + i]) {
        ++per_output[o];
        ++per_input[i];
      }
    }
  }
  const auto [out_low, out_high] =
      std::minmax_element(per_output.begin(), per_output.end());
  const auto [in_low, in_high] =
      std::minmax_element(per_input.begin(), per_input.end());
  RecoveredPattern result;
  if (*out_low == n_in) {
    result.found = "no zeros: dense";
    return result;
  }
  if (*out_low != *out_high || *in_low != *in_high || *out_low == 0) {
    const std::string degrees =
        absl::StrFormat("nonzeros per output %d to %d, per input %d to %d",
                        *out_low, *out_high, *in_low, *in_high);
    if (!allow_dense) {
      return absl::InvalidArgumentError(absl::StrCat(
          "its zeros are not a predefined-sparse pattern (", degrees,
          "; spex needs one count per output and one per input); "
          "--allow-dense stores it dense"));
    }
    result.found = absl::StrCat(degrees, ": stored dense (--allow-dense)");
    return result;
  }
  const JunctionSpec spec{n_in, n_out, *out_low, *in_low};
  std::vector<uint32_t> rows;
  rows.reserve(static_cast<size_t>(n_out) * spec.d_in);
  for (int o = 0; o < n_out; ++o) {
    for (int i = 0; i < n_in; ++i) {
      if (nonzero[static_cast<size_t>(o) * n_in + i]) rows.push_back(i);
    }
  }
  absl::StatusOr<Pattern> pattern = absl::InternalError("no kind tried");
  for (int g : {8, 4}) {
    if (!TilesOf(g, spec, rows)) continue;
    std::vector<uint32_t> inputs;
    for (int q = 0; q < n_out / g; ++q) {
      const auto first = rows.begin() + static_cast<int64_t>(q) * g * spec.d_in;
      inputs.insert(inputs.end(), first, first + spec.d_in);
    }
    pattern = Pattern::FromTileInputs(spec, g, std::move(inputs));
    break;
  }
  if (!pattern.ok()) {
    std::vector<uint16_t> codes = BlockCodes(spec, rows);
    if (!codes.empty())
      pattern = Pattern::FromBlockCodes(spec, std::move(codes));
  }
  if (!pattern.ok()) pattern = Pattern::FromRowIndices(spec, std::move(rows));
  if (!pattern.ok()) return pattern.status();
  result.found =
      absl::StrFormat("d_in %d of %d, d_out %d of %d: %s", spec.d_in, n_in,
                      spec.d_out, n_out, PatternKindName(pattern->kind()));
  result.pattern = *std::move(pattern);
  return result;
}

}  // namespace spex
