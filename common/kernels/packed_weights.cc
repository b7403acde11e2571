#include "common/kernels/packed_weights.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"

namespace spex {

absl::string_view WeightFormatName(WeightFormat format) {
  switch (format) {
    case WeightFormat::kSell8:
      return "sell8";
    case WeightFormat::kBlock8:
      return "block8";
    case WeightFormat::kTile4:
      return "tile4";
    case WeightFormat::kTile8:
      return "tile8";
    case WeightFormat::kDense:
      return "dense";
  }
  return "unknown";
}

int TileGroupSizeOfFormat(WeightFormat format) {
  switch (format) {
    case WeightFormat::kTile4:
      return 4;
    case WeightFormat::kTile8:
      return 8;
    case WeightFormat::kSell8:
    case WeightFormat::kBlock8:
    case WeightFormat::kDense:
      return 0;
  }
  return 0;
}

WeightFormat SparseFormatOf(PatternKind kind) {
  switch (kind) {
    case PatternKind::kBlock:
      return WeightFormat::kBlock8;
    case PatternKind::kTile4:
      return WeightFormat::kTile4;
    case PatternKind::kTile8:
      return WeightFormat::kTile8;
    case PatternKind::kRandom:
      break;
  }
  return WeightFormat::kSell8;
}

PatternKind PatternKindOf(WeightFormat format) {
  switch (format) {
    case WeightFormat::kBlock8:
      return PatternKind::kBlock;
    case WeightFormat::kTile4:
      return PatternKind::kTile4;
    case WeightFormat::kTile8:
      return PatternKind::kTile8;
    case WeightFormat::kSell8:
    case WeightFormat::kDense:
      break;
  }
  return PatternKind::kRandom;
}

bool FormatFitsPattern(WeightFormat format, PatternKind kind) {
  switch (format) {
    case WeightFormat::kSell8:
    case WeightFormat::kDense:
      return true;
    case WeightFormat::kBlock8:
      return kind == PatternKind::kBlock;
    case WeightFormat::kTile4:
    case WeightFormat::kTile8:
      return TileGroupSize(kind) % TileGroupSizeOfFormat(format) == 0;
  }
  return false;
}

int InputTileForBatch(int n_in, int d_in) {
  const int64_t wanted =
      (int64_t{32} * n_in / std::max(1, d_in) + kBlockWidth - 1) / kBlockWidth *
      kBlockWidth;
  return static_cast<int>(
      std::min<int64_t>(n_in, std::max<int64_t>(128, wanted)));
}

namespace {

// Fills tile_starts for `groups` groups whose slot k reads input_of(g, k),
// ascending by tile along k.
template <typename InputOf>
void FillTileStarts(PackedWeights& packed, int groups, InputOf input_of) {
  const int stride = packed.n_tiles + 1;
  packed.tile_starts.assign(static_cast<size_t>(groups) * stride, 0);
  for (int g = 0; g < groups; ++g) {
    uint32_t* starts =
        packed.tile_starts.data() + static_cast<size_t>(g) * stride;
    int k = 0;
    for (int t = 0; t <= packed.n_tiles; ++t) {
      const int64_t bound = int64_t{t} * packed.input_tile;
      while (k < packed.d_in && input_of(g, k) < bound) ++k;
      starts[t] = static_cast<uint32_t>(k);
    }
  }
}

}  // namespace

absl::StatusOr<PackedWeights> PackWeights(const Pattern& pattern,
                                          absl::Span<const float> weights,
                                          absl::Span<const float> bias,
                                          WeightFormat format) {
  const JunctionSpec& spec = pattern.spec();
  if (weights.size() != static_cast<size_t>(spec.connections())) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "layer %s: %d weights given, pattern has %d", spec.DebugString(),
        weights.size(), spec.connections()));
  }
  if (bias.size() != static_cast<size_t>(spec.n_out)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("layer %s: %d biases given, layer has %d outputs",
                        spec.DebugString(), bias.size(), spec.n_out));
  }
  if (!FormatFitsPattern(format, pattern.kind())) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "layer %s: %s format does not fit a %s pattern", spec.DebugString(),
        WeightFormatName(format), PatternKindName(pattern.kind())));
  }
  PackedWeights packed;
  packed.format = format;
  packed.n_in = spec.n_in;
  packed.n_out = spec.n_out;
  packed.d_in = spec.d_in;
  packed.n_slices = (spec.n_out + kSliceRows - 1) / kSliceRows;
  packed.input_tile = InputTileForBatch(spec.n_in, spec.d_in);
  packed.n_tiles = (spec.n_in + packed.input_tile - 1) / packed.input_tile;
  packed.bias.assign(static_cast<size_t>(packed.n_slices) * kSliceRows, 0.0f);
  std::copy(bias.begin(), bias.end(), packed.bias.begin());
  const size_t d_in = spec.d_in;
  const size_t slots = static_cast<size_t>(packed.n_slices) * d_in;

  switch (format) {
    case WeightFormat::kSell8: {
      packed.indices.assign(slots * kSliceRows, 0);
      packed.weights.assign(slots * kSliceRows, 0.0f);
      for (int o = 0; o < spec.n_out; ++o) {
        const size_t s = o / kSliceRows, lane = o % kSliceRows;
        const auto row = pattern.row(o);
        for (size_t k = 0; k < d_in; ++k) {
          const size_t at = (s * d_in + k) * kSliceRows + lane;
          packed.indices[at] = static_cast<uint16_t>(row[k]);
          packed.weights[at] = weights[o * d_in + k];
        }
      }
      FillTileStarts(packed, spec.n_out, [&](int o, int k) {
        return static_cast<int64_t>(pattern.row(o)[k]);
      });
      break;
    }
    case WeightFormat::kBlock8: {
      const auto codes = pattern.block_codes();
      packed.indices.assign(codes.begin(), codes.end());
      packed.weights.assign(slots * kSliceRows, 0.0f);
      for (size_t s = 0; s < static_cast<size_t>(packed.n_slices); ++s) {
        for (size_t lane = 0; lane < kSliceRows; ++lane) {
          const size_t o = s * kSliceRows + lane;
          const auto row = pattern.row(static_cast<int>(o));
          for (size_t k = 0; k < d_in; ++k) {
            const uint32_t input =
                BlockCodeInput(codes[s * d_in + k], static_cast<int>(lane));
            const size_t position =
                std::lower_bound(row.begin(), row.end(), input) - row.begin();
            packed.weights[(s * d_in + k) * kSliceRows + lane] =
                weights[o * d_in + position];
          }
        }
      }
      // Codes ascend by block and tiles are whole blocks: one split per slice.
      FillTileStarts(packed, packed.n_slices, [&](int s, int k) {
        return int64_t{BlockOfCode(codes[static_cast<size_t>(s) * d_in + k])} *
               kBlockWidth;
      });
      break;
    }
    case WeightFormat::kTile4:
    case WeightFormat::kTile8: {
      const size_t g = TileGroupSizeOfFormat(format);
      const size_t groups = spec.n_out / g;
      packed.indices.resize(groups * d_in);
      packed.weights.resize(groups * d_in * g);
      for (size_t q = 0; q < groups; ++q) {
        const auto inputs = pattern.row(static_cast<int>(q * g));
        for (size_t k = 0; k < d_in; ++k) {
          packed.indices[q * d_in + k] = static_cast<uint16_t>(inputs[k]);
          for (size_t r = 0; r < g; ++r) {
            packed.weights[(q * d_in + k) * g + r] =
                weights[(q * g + r) * d_in + k];
          }
        }
      }
      break;
    }
    case WeightFormat::kDense: {
      packed.weights.assign(static_cast<size_t>(spec.n_out) * spec.n_in, 0.0f);
      for (int o = 0; o < spec.n_out; ++o) {
        const auto row = pattern.row(o);
        for (size_t k = 0; k < d_in; ++k) {
          packed.weights[static_cast<size_t>(o) * spec.n_in + row[k]] =
              weights[o * d_in + k];
        }
      }
      break;
    }
  }
  return packed;
}

}  // namespace spex
