#include "common/model/model_init.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/model/model_file.h"
#include "common/sparsity/junction.h"
#include "common/sparsity/seeded_random.h"
#include "common/status/status_macros.h"

namespace spex {
namespace {

constexpr float kInitialBias = 0.1f;

// Distinct, well-mixed seeds for each junction's pattern and weights.
uint64_t MixSeed(uint64_t seed, uint64_t salt) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ull * (salt + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// The topology's kind where the junction can take it, `random` elsewhere.
PatternKind JunctionKind(const JunctionSpec& spec, PatternKind kind) {
  switch (kind) {
    case PatternKind::kBlock:
      return spec.n_in % kBlockWidth == 0 && spec.n_out % kBlockWidth == 0
                 ? kind
                 : PatternKind::kRandom;
    case PatternKind::kTile4:
    case PatternKind::kTile8:
      return CheckTileFits(spec, TileGroupSize(kind)).ok()
                 ? kind
                 : PatternKind::kRandom;
    case PatternKind::kRandom:
      break;
  }
  return PatternKind::kRandom;
}

absl::Status AddChain(const ChainTopology& chain, PatternKind kind,
                      uint64_t seed, uint64_t salt, const std::string& where,
                      google::protobuf::RepeatedPtrField<v1::Layer>* layers) {
  if (chain.widths.size() < 2 ||
      chain.fan_out.size() + 1 != chain.widths.size()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: %d widths and %d fan-outs; a chain of n junctions has n + 1 "
        "widths and n fan-outs",
        where, chain.widths.size(), chain.fan_out.size()));
  }
  for (size_t j = 0; j + 1 < chain.widths.size(); ++j) {
    const int n_in = chain.widths[j], n_out = chain.widths[j + 1];
    absl::StatusOr<JunctionSpec> spec = JunctionFromFanOut(
        static_cast<int>(j) + 1, n_in, n_out, chain.fan_out[j]);
    if (!spec.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": ", spec.status().message()));
    }
    v1::Layer* layer = layers->Add();
    layer->set_n_in(n_in);
    layer->set_n_out(n_out);
    layer->set_d_in(spec->d_in);
    layer->set_d_out(spec->d_out);
    const uint64_t pattern_seed = MixSeed(seed, 2 * (salt + j));
    if (spec->dense()) {
      layer->set_pattern(v1::PATTERN_KIND_DENSE);
    } else {
      const PatternKind junction_kind = JunctionKind(*spec, kind);
      SPEX_ASSIGN_OR_RETURN(
          const Pattern pattern,
          GeneratePattern(*spec, junction_kind, pattern_seed));
      layer->set_pattern_seed(pattern_seed);
      WritePattern(pattern, layer);
    }
    SeededRandom random(MixSeed(seed, 2 * (salt + j) + 1));
    const double stddev = std::sqrt(2.0 / spec->d_in);
    for (int64_t c = 0; c < spec->connections(); ++c) {
      layer->add_weights(static_cast<float>(stddev * random.Normal()));
    }
    for (int o = 0; o < n_out; ++o) layer->add_bias(kInitialBias);
    const bool last = j + 2 == chain.widths.size();
    layer->set_activation(last ? v1::ACTIVATION_SOFTMAX : v1::ACTIVATION_RELU);
  }
  return absl::OkStatus();
}

}  // namespace

void WritePattern(const Pattern& pattern, v1::Layer* layer) {
  layer->clear_indices();
  layer->set_group_size(0);
  if (pattern.spec().dense()) {
    layer->set_pattern(v1::PATTERN_KIND_DENSE);
    return;
  }
  switch (pattern.kind()) {
    case PatternKind::kBlock:
      layer->set_pattern(v1::PATTERN_KIND_BLOCK);
      for (uint16_t code : pattern.block_codes()) layer->add_indices(code);
      break;
    case PatternKind::kTile4:
    case PatternKind::kTile8:
      layer->set_pattern(v1::PATTERN_KIND_TILE);
      layer->set_group_size(static_cast<uint32_t>(pattern.group_size()));
      for (int q = 0; q < pattern.spec().n_out / pattern.group_size(); ++q) {
        for (uint32_t input : pattern.tile_inputs(q)) layer->add_indices(input);
      }
      break;
    case PatternKind::kRandom:
      layer->set_pattern(v1::PATTERN_KIND_RANDOM);
      for (uint32_t input : pattern.row_indices()) layer->add_indices(input);
      break;
  }
}

absl::StatusOr<v1::Model> InitializeModel(const ModelTopology& topology,
                                          uint64_t seed) {
  v1::Model model;
  model.set_format_version(kOldestModelFormatVersion);  // raised at the end
  v1::InputSpec* input = model.mutable_input();
  for (int d : topology.input_shape) input->add_shape(static_cast<uint32_t>(d));
  input->set_scale(topology.input_scale);
  input->set_offset(topology.input_offset);
  input->set_padded_width(static_cast<uint32_t>(topology.padded_width));
  if (topology.input_range.has_value()) {
    input->mutable_range()->set_min(topology.input_range->first);
    input->mutable_range()->set_max(topology.input_range->second);
  }
  SPEX_RETURN_IF_ERROR(AddChain(topology.backbone, topology.pattern, seed, 0,
                                "backbone", model.mutable_layers()));
  model.set_split_after(static_cast<uint32_t>(topology.split_after));
  for (int cut : topology.later_cuts) {
    model.add_later_cuts(static_cast<uint32_t>(cut));
  }
  for (size_t e = 0; e < topology.exits.size(); ++e) {
    const ExitTopology& exit = topology.exits[e];
    if (exit.after_layer < 1 ||
        exit.after_layer >= static_cast<int>(topology.backbone.widths.size())) {
      return absl::InvalidArgumentError(
          absl::StrFormat("exit %d: after_layer %d is not a backbone layer",
                          e + 1, exit.after_layer));
    }
    v1::ExitBranch* branch = model.add_exits();
    branch->set_after_layer(static_cast<uint32_t>(exit.after_layer));
    branch->set_loss_weight(exit.loss_weight);
    ChainTopology chain;
    chain.widths.push_back(topology.backbone.widths[exit.after_layer]);
    chain.widths.insert(chain.widths.end(), exit.widths.begin(),
                        exit.widths.end());
    chain.fan_out = exit.fan_out;
    SPEX_RETURN_IF_ERROR(AddChain(chain, topology.pattern, seed, 1000 * (e + 1),
                                  absl::StrCat("exit ", e + 1),
                                  branch->mutable_layers()));
  }
  for (const std::string& name : topology.class_names) {
    model.add_class_names(name);
  }
  model.set_format_version(MinimumFormatVersion(model));
  return model;
}

std::string ChainTopologyString(const ChainTopology& chain) {
  return absl::StrCat(absl::StrJoin(chain.widths, "-"), " fo ",
                      absl::StrJoin(chain.fan_out, " "));
}

}  // namespace spex
