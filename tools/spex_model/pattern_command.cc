#include "tools/spex_model/pattern_command.h"

#include <cstdint>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/model/model_init.h"
#include "common/sparsity/junction.h"
#include "common/sparsity/pattern.h"
#include "common/status/status_macros.h"
#include "tools/common/json.h"

namespace spex {
namespace {

absl::StatusOr<uint64_t> Number(const Args& options, const std::string& name,
                                uint64_t lowest) {
  if (!options.Given(name)) {
    return absl::InvalidArgumentError(absl::StrCat("--", name, " is needed"));
  }
  uint64_t value = 0;
  if (!absl::SimpleAtoi(options.Get(name), &value) || value < lowest) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, "=", options.Get(name),
                     ": not a whole number of at least ", lowest));
  }
  return value;
}

absl::StatusOr<uint64_t> PatternSeed(const Args& options) {
  if (options.Given("seed")) {
    if (options.Given("model_seed") || options.Given("layer")) {
      return absl::InvalidArgumentError(
          "--seed, or --model_seed with --layer: not both");
    }
    return Number(options, "seed", 0);
  }
  SPEX_ASSIGN_OR_RETURN(const uint64_t model_seed,
                        Number(options, "model_seed", 0));
  SPEX_ASSIGN_OR_RETURN(const uint64_t layer, Number(options, "layer", 1));
  // InitializeModel's salts: backbone layer j (0-based), or 1000 (e + 1) + j
  // for exit e's layer j.
  uint64_t salt = layer - 1;
  if (options.Given("exit")) {
    SPEX_ASSIGN_OR_RETURN(const uint64_t exit, Number(options, "exit", 1));
    salt += 1000 * exit;
  }
  return LayerPatternSeed(model_seed, salt);
}

}  // namespace

void DeclarePatternOptions(Args* args) {
  args->Option("n_in", "", "inputs (input channels of a convolution)")
      .Option("n_out", "", "outputs (output channels)")
      .Option("fan_out", "", "outputs per input")
      .Option("kind", "random", "random, block, tile4 or tile8")
      .Option("seed", "", "the pattern seed")
      .Option("model_seed", "", "spex-train's --seed, with --layer")
      .Option("layer", "", "1-based layer, with --model_seed")
      .Option("exit", "", "1-based exit whose layer --layer is");
}

absl::StatusOr<std::string> PatternJson(const Args& options) {
  SPEX_ASSIGN_OR_RETURN(const uint64_t n_in, Number(options, "n_in", 1));
  SPEX_ASSIGN_OR_RETURN(const uint64_t n_out, Number(options, "n_out", 1));
  SPEX_ASSIGN_OR_RETURN(const uint64_t fan_out, Number(options, "fan_out", 1));
  if (n_in > kMaxJunctionWidth || n_out > kMaxJunctionWidth) {
    return absl::InvalidArgumentError(
        absl::StrCat("--n_in and --n_out are at most ", kMaxJunctionWidth));
  }
  if (fan_out > n_out) {
    return absl::InvalidArgumentError(
        absl::StrCat("--fan_out=", fan_out, ": more than --n_out=", n_out));
  }
  SPEX_ASSIGN_OR_RETURN(
      const JunctionSpec spec,
      JunctionFromFanOut(0, static_cast<int>(n_in), static_cast<int>(n_out),
                         static_cast<int>(fan_out)));
  SPEX_ASSIGN_OR_RETURN(const PatternKind requested,
                        ParsePatternKind(options.Get("kind")));
  SPEX_ASSIGN_OR_RETURN(const uint64_t seed, PatternSeed(options));

  Json out = Json::Object();
  out.Set("n_in", spec.n_in)
      .Set("n_out", spec.n_out)
      .Set("d_in", spec.d_in)
      .Set("d_out", spec.d_out);
  Json rows = Json::Array();
  Json indices = Json::Array();
  if (spec.dense()) {
    out.Set("kind", "dense").Set("group_size", 0);
    for (int o = 0; o < spec.n_out; ++o) {
      Json row = Json::Array();
      for (int i = 0; i < spec.n_in; ++i) row.Push(i);
      rows.Push(std::move(row));
    }
  } else {
    const PatternKind kind = FittingPatternKind(spec, requested);
    SPEX_ASSIGN_OR_RETURN(const Pattern pattern,
                          GeneratePattern(spec, kind, seed));
    const bool tile =
        kind == PatternKind::kTile4 || kind == PatternKind::kTile8;
    out.Set("kind", std::string(PatternKindName(kind)))
        .Set("group_size", tile ? pattern.group_size() : 0);
    for (int o = 0; o < spec.n_out; ++o) {
      Json row = Json::Array();
      for (uint32_t input : pattern.row(o))
        row.Push(static_cast<int64_t>(input));
      rows.Push(std::move(row));
    }
    if (kind == PatternKind::kBlock) {
      for (uint16_t code : pattern.block_codes()) indices.Push(int{code});
    } else {
      const int step = tile ? pattern.group_size() : 1;
      for (int o = 0; o < spec.n_out; o += step) {
        for (uint32_t input : pattern.row(o)) {
          indices.Push(static_cast<int64_t>(input));
        }
      }
    }
  }
  // The seed as a string: JSON numbers lose 64-bit integers in most readers.
  out.Set("seed", std::to_string(seed));
  out.Set("rows", std::move(rows)).Set("indices", std::move(indices));
  return out.Dump(0);
}

}  // namespace spex
