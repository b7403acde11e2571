#include "common/model/layer_pattern.h"

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace spex {
namespace {

absl::Status FieldError(absl::string_view field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", problem));
}

}  // namespace

absl::StatusOr<Pattern> LayerPattern(const v1::Layer& layer,
                                     const JunctionSpec& spec) {
  const auto& indices = layer.indices();
  if (layer.pattern() != v1::PATTERN_KIND_TILE && layer.group_size() != 0) {
    return FieldError("group_size",
                      absl::StrFormat("%d, but only a tile pattern has one",
                                      layer.group_size()));
  }
  absl::StatusOr<Pattern> pattern = absl::InternalError("unset");
  switch (layer.pattern()) {
    case v1::PATTERN_KIND_DENSE: {
      if (!spec.dense()) {
        return FieldError("pattern",
                          absl::StrFormat("dense, but d_in %d != n_in %d",
                                          spec.d_in, spec.n_in));
      }
      if (!indices.empty()) {
        return FieldError("indices", "must be empty for a dense layer");
      }
      std::vector<uint32_t> rows(static_cast<size_t>(spec.connections()));
      for (size_t c = 0; c < rows.size(); ++c) rows[c] = c % spec.n_in;
      pattern = Pattern::FromRowIndices(spec, std::move(rows));
      break;
    }
    case v1::PATTERN_KIND_RANDOM: {
      if (indices.size() != spec.connections()) {
        return FieldError(
            "indices",
            absl::StrFormat("%d entries, a random pattern of %d outputs x %d "
                            "inputs needs %d",
                            indices.size(), spec.n_out, spec.d_in,
                            spec.connections()));
      }
      pattern = Pattern::FromRowIndices(
          spec, std::vector<uint32_t>(indices.begin(), indices.end()));
      break;
    }
    case v1::PATTERN_KIND_BLOCK: {
      const int64_t needed = int64_t{spec.n_out / kBlockWidth} * spec.d_in;
      if (spec.n_out % kBlockWidth != 0 || indices.size() != needed) {
        return FieldError(
            "indices",
            absl::StrFormat("%d entries, a block pattern of %d outputs x %d "
                            "inputs needs %d/8 slices x %d codes",
                            indices.size(), spec.n_out, spec.d_in, spec.n_out,
                            spec.d_in));
      }
      std::vector<uint16_t> codes(indices.size());
      for (int i = 0; i < indices.size(); ++i) {
        if (indices[i] > 0xffff) {
          return FieldError("indices",
                            absl::StrFormat("entry %d: block code %d exceeds "
                                            "16 bits",
                                            i, indices[i]));
        }
        codes[i] = static_cast<uint16_t>(indices[i]);
      }
      pattern = Pattern::FromBlockCodes(spec, std::move(codes));
      break;
    }
    case v1::PATTERN_KIND_TILE: {
      const absl::StatusOr<PatternKind> kind =
          TileKindOfGroupSize(static_cast<int>(layer.group_size()));
      if (!kind.ok()) return FieldError("group_size", kind.status().message());
      const int g = TileGroupSize(*kind);
      const int64_t needed = int64_t{spec.n_out / g} * spec.d_in;
      if (spec.n_out % g != 0 || indices.size() != needed) {
        return FieldError(
            "indices",
            absl::StrFormat("%d entries, a tile pattern of %d outputs x %d "
                            "inputs needs %d/%d tiles x %d inputs",
                            indices.size(), spec.n_out, spec.d_in, spec.n_out,
                            g, spec.d_in));
      }
      pattern = Pattern::FromTileInputs(
          spec, g, std::vector<uint32_t>(indices.begin(), indices.end()));
      break;
    }
    default:
      return FieldError(
          "pattern",
          absl::StrFormat("unknown or missing value %d", layer.pattern()));
  }
  if (!pattern.ok()) {
    return FieldError("indices", pattern.status().message());
  }
  return pattern;
}

}  // namespace spex
