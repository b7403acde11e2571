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

}  // namespace

PatternKind FittingPatternKind(const JunctionSpec& spec, PatternKind kind) {
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

uint64_t LayerPatternSeed(uint64_t model_seed, uint64_t salt) {
  return MixSeed(model_seed, 2 * salt);
}

namespace {

// The shape of an activation while a chain is laid out.
struct MapSize {
  int channels = 0;
  int height = 1;
  int width = 1;
  int values() const { return channels * height * width; }
};

absl::StatusOr<JunctionSpec> ChainJunction(const std::string& where, int index,
                                           int n_in, int n_out, int fan_out) {
  absl::StatusOr<JunctionSpec> spec =
      JunctionFromFanOut(index, n_in, n_out, fan_out);
  if (!spec.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": ", spec.status().message()));
  }
  return spec;
}

// The pattern of `spec` (stored in `layer`) and its He-normal weights over
// `fan_in_scale` x d_in inputs per output, `repeats` weights per connection.
absl::Status AddConnections(const JunctionSpec& spec, PatternKind kind,
                            uint64_t seed, uint64_t salt, int repeats,
                            v1::Layer* layer) {
  layer->set_d_in(spec.d_in);
  layer->set_d_out(spec.d_out);
  const uint64_t pattern_seed = LayerPatternSeed(seed, salt);
  if (spec.dense()) {
    layer->set_pattern(v1::PATTERN_KIND_DENSE);
  } else {
    SPEX_ASSIGN_OR_RETURN(
        const Pattern pattern,
        GeneratePattern(spec, FittingPatternKind(spec, kind), pattern_seed));
    layer->set_pattern_seed(pattern_seed);
    WritePattern(pattern, layer);
  }
  SeededRandom random(MixSeed(seed, 2 * salt + 1));
  const double stddev = std::sqrt(2.0 / (spec.d_in * repeats));
  for (int64_t c = 0; c < spec.connections() * repeats; ++c) {
    layer->add_weights(static_cast<float>(stddev * random.Normal()));
  }
  for (int o = 0; o < spec.n_out; ++o) layer->add_bias(kInitialBias);
  return absl::OkStatus();
}

// Appends the chain's layers to `layers`, starting from an activation of
// shape `in`; `shapes` receives each layer's output shape.
absl::Status AddChain(const ChainTopology& chain, PatternKind kind,
                      uint64_t seed, uint64_t salt, const std::string& where,
                      MapSize in, std::vector<MapSize>* shapes,
                      google::protobuf::RepeatedPtrField<v1::Layer>* layers) {
  const size_t n = chain.fan_out.size();
  if (chain.widths.size() < 2 || n + 1 != chain.widths.size() ||
      (!chain.geometry.empty() && chain.geometry.size() != n)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: %d widths, %d fan-outs and %d geometries; a chain of n layers "
        "has n + 1 widths, n fan-outs and no or n geometries",
        where, chain.widths.size(), n, chain.geometry.size()));
  }
  for (size_t j = 0; j < n; ++j) {
    const LayerGeometry geometry =
        chain.geometry.empty() ? LayerGeometry() : chain.geometry[j];
    const int index = static_cast<int>(j) + 1;
    const bool last = j + 1 == n;
    const int n_out = chain.widths[j + 1];
    v1::Layer* layer = layers->Add();
    layer->set_kind(geometry.kind);
    if (geometry.kind == v1::LAYER_KIND_UNSPECIFIED) {
      SPEX_ASSIGN_OR_RETURN(
          const JunctionSpec spec,
          ChainJunction(where, index, in.values(), n_out, chain.fan_out[j]));
      layer->set_n_in(spec.n_in);
      layer->set_n_out(spec.n_out);
      SPEX_RETURN_IF_ERROR(
          AddConnections(spec, kind, seed, salt + j, 1, layer));
      layer->set_activation(last ? v1::ACTIVATION_SOFTMAX
                                 : v1::ACTIVATION_RELU);
      in = MapSize{n_out};
      shapes->push_back(in);
      continue;
    }
    if (last) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: layer %d: a classifier's last layer is fully connected, not a "
          "convolution or a pooling",
          where, index));
    }
    layer->set_n_in(static_cast<uint32_t>(in.channels));
    layer->set_in_height(static_cast<uint32_t>(in.height));
    layer->set_in_width(static_cast<uint32_t>(in.width));
    if (geometry.kind == v1::LAYER_KIND_CONV2D) {
      SPEX_ASSIGN_OR_RETURN(
          const JunctionSpec spec,
          ChainJunction(where, index, in.channels, n_out, chain.fan_out[j]));
      layer->set_n_out(static_cast<uint32_t>(n_out));
      layer->set_window(static_cast<uint32_t>(geometry.window));
      layer->set_stride(static_cast<uint32_t>(geometry.stride));
      layer->set_padding(static_cast<uint32_t>(geometry.padding));
      SPEX_RETURN_IF_ERROR(AddConnections(spec, kind, seed, salt + j,
                                          geometry.window * geometry.window,
                                          layer));
      layer->set_activation(v1::ACTIVATION_RELU);
      const int span_h = in.height + 2 * geometry.padding - geometry.window;
      const int span_w = in.width + 2 * geometry.padding - geometry.window;
      if (geometry.window < 1 || geometry.stride < 1 || span_h < 0 ||
          span_w < 0) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "%s: layer %d: a %dx%d window (stride %d, padding %d) does not "
            "fit the %dx%d map",
            where, index, geometry.window, geometry.window, geometry.stride,
            geometry.padding, in.height, in.width));
      }
      in = MapSize{n_out, span_h / geometry.stride + 1,
                   span_w / geometry.stride + 1};
    } else {
      if (n_out != in.channels) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "%s: layer %d: a pooling keeps its %d channels, not %d", where,
            index, in.channels, n_out));
      }
      layer->set_n_out(static_cast<uint32_t>(n_out));
      layer->set_d_in(1);
      layer->set_d_out(1);
      layer->set_activation(v1::ACTIVATION_IDENTITY);
      if (geometry.kind == v1::LAYER_KIND_GLOBAL_AVERAGE_POOL) {
        in = MapSize{n_out};
      } else {
        layer->set_window(static_cast<uint32_t>(geometry.window));
        layer->set_stride(static_cast<uint32_t>(geometry.stride));
        if (geometry.window < 1 || geometry.stride < 1 ||
            geometry.window > in.height || geometry.window > in.width) {
          return absl::InvalidArgumentError(absl::StrFormat(
              "%s: layer %d: a %dx%d pooling window does not fit the %dx%d "
              "map",
              where, index, geometry.window, geometry.window, in.height,
              in.width));
        }
        in = MapSize{n_out, (in.height - geometry.window) / geometry.stride + 1,
                     (in.width - geometry.window) / geometry.stride + 1};
      }
    }
    shapes->push_back(in);
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
  input->mutable_feature_scale()->Add(topology.feature_scale.begin(),
                                      topology.feature_scale.end());
  input->mutable_feature_offset()->Add(topology.feature_offset.begin(),
                                       topology.feature_offset.end());
  if (topology.input_range.has_value()) {
    input->mutable_range()->set_min(topology.input_range->first);
    input->mutable_range()->set_max(topology.input_range->second);
  }
  // The first layer reads the input's map when it is spatial, else the
  // (padded) vector.
  MapSize input_size{
      topology.backbone.widths.empty() ? 0 : topology.backbone.widths[0]};
  const bool spatial =
      !topology.backbone.geometry.empty() &&
      topology.backbone.geometry[0].kind != v1::LAYER_KIND_UNSPECIFIED;
  if (spatial && topology.input_shape.size() >= 2) {
    input_size.height = topology.input_shape[0];
    input_size.width = topology.input_shape[1];
  }
  std::vector<MapSize> shapes;
  SPEX_RETURN_IF_ERROR(AddChain(topology.backbone, topology.pattern, seed, 0,
                                "backbone", input_size, &shapes,
                                model.mutable_layers()));
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
    const MapSize at = shapes[exit.after_layer - 1];
    chain.widths.push_back(at.channels);
    chain.widths.insert(chain.widths.end(), exit.widths.begin(),
                        exit.widths.end());
    chain.fan_out = exit.fan_out;
    chain.geometry = exit.geometry;
    std::vector<MapSize> exit_shapes;
    SPEX_RETURN_IF_ERROR(AddChain(chain, topology.pattern, seed, 1000 * (e + 1),
                                  absl::StrCat("exit ", e + 1), at,
                                  &exit_shapes, branch->mutable_layers()));
  }
  for (const std::string& name : topology.class_names) {
    model.add_class_names(name);
  }
  model.set_format_version(MinimumFormatVersion(model));
  return model;
}

std::string ChainTopologyString(const ChainTopology& chain) {
  if (chain.geometry.empty()) {
    return absl::StrCat(absl::StrJoin(chain.widths, "-"), " fo ",
                        absl::StrJoin(chain.fan_out, " "));
  }
  std::string text = chain.widths.empty() ? "" : absl::StrCat(chain.widths[0]);
  for (size_t j = 0; j < chain.geometry.size() && j + 1 < chain.widths.size();
       ++j) {
    const LayerGeometry& g = chain.geometry[j];
    const int width = chain.widths[j + 1];
    const int fo = j < chain.fan_out.size() ? chain.fan_out[j] : width;
    switch (g.kind) {
      case v1::LAYER_KIND_CONV2D:
        absl::StrAppendFormat(&text, " > conv%dx%d %d fo %d", g.window,
                              g.window, width, fo);
        if (g.stride != 1) absl::StrAppendFormat(&text, " stride %d", g.stride);
        if (g.padding != (g.window - 1) / 2) {
          absl::StrAppendFormat(&text, " pad %d", g.padding);
        }
        break;
      case v1::LAYER_KIND_MAX_POOL:
      case v1::LAYER_KIND_AVERAGE_POOL:
        absl::StrAppendFormat(
            &text, " > %s%d",
            g.kind == v1::LAYER_KIND_MAX_POOL ? "maxpool" : "avgpool",
            g.window);
        if (g.stride != g.window) {
          absl::StrAppendFormat(&text, " stride %d", g.stride);
        }
        break;
      case v1::LAYER_KIND_GLOBAL_AVERAGE_POOL:
        text += " > gap";
        break;
      default:
        absl::StrAppendFormat(&text, " > fc %d fo %d", width, fo);
    }
  }
  return text;
}

}  // namespace spex
