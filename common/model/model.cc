#include "common/model/model.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/model/layer_builder.h"
#include "common/model/model_file.h"
#include "common/model/overflow_bound.h"
#include "common/sparsity/junction.h"
#include "common/sparsity/pattern.h"
#include "common/status/status_macros.h"

namespace spex {

using LayerList = std::vector<std::shared_ptr<const Layer>>;

absl::StatusOr<InputTransform> InputTransform::FromSpec(
    const v1::InputSpec& input) {
  InputTransform transform;
  if (input.shape().empty()) {
    return absl::InvalidArgumentError("input: shape: missing");
  }
  int64_t raw_width = 1;
  for (int i = 0; i < input.shape_size(); ++i) {
    raw_width *= input.shape(i);
    if (input.shape(i) == 0 || raw_width > kMaxJunctionWidth) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "input: shape: dimension %d is %d; the product of the shape must "
          "be in [1, %d]",
          i, input.shape(i), kMaxJunctionWidth));
    }
    transform.shape.push_back(static_cast<int>(input.shape(i)));
  }
  transform.raw_width = static_cast<int>(raw_width);
  transform.width = transform.raw_width;
  if (input.padded_width() != 0) {
    if (input.padded_width() < raw_width ||
        input.padded_width() > static_cast<uint32_t>(kMaxJunctionWidth)) {
      return absl::InvalidArgumentError(
          absl::StrFormat("input: padded_width: %d is outside [%d, %d]",
                          input.padded_width(), raw_width, kMaxJunctionWidth));
    }
    transform.width = static_cast<int>(input.padded_width());
  }
  if (!std::isfinite(input.scale()) || input.scale() == 0.0f) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "input: scale: %f (must be finite and non-zero)", input.scale()));
  }
  if (!std::isfinite(input.offset())) {
    return absl::InvalidArgumentError(
        absl::StrFormat("input: offset: %f is not finite", input.offset()));
  }
  transform.scale = input.scale();
  transform.offset = input.offset();
  if (input.feature_scale_size() != 0 || input.feature_offset_size() != 0) {
    if (input.feature_scale_size() != raw_width ||
        input.feature_offset_size() != raw_width) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "input: feature_scale and feature_offset: %d and %d factors; both "
          "need one per raw value (%d)",
          input.feature_scale_size(), input.feature_offset_size(), raw_width));
    }
    for (int i = 0; i < raw_width; ++i) {
      if (!std::isfinite(input.feature_scale(i)) ||
          input.feature_scale(i) == 0.0f ||
          !std::isfinite(input.feature_offset(i))) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "input: feature %d: scale %g and offset %g (must be finite, the "
            "scale non-zero)",
            i, input.feature_scale(i), input.feature_offset(i)));
      }
    }
    transform.feature_scale.assign(input.feature_scale().begin(),
                                   input.feature_scale().end());
    transform.feature_offset.assign(input.feature_offset().begin(),
                                    input.feature_offset().end());
  }
  if (input.has_range()) {
    const float lo = input.range().min(), hi = input.range().max();
    if (!(std::fabs(lo) <= kMaxValueMagnitude) ||
        !(std::fabs(hi) <= kMaxValueMagnitude) || !(lo <= hi)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "input: range: [%g, %g] is not an interval within [-%g, %g]", lo, hi,
          kMaxValueMagnitude, kMaxValueMagnitude));
    }
    transform.raw_min = lo;
    transform.raw_max = hi;
  }
  return transform;
}

namespace {

// The first layer's input: a vector of the (padded) input width, or for a
// model that starts with a convolution or a pooling, the input's map
// (shape height x width, or height x width x 1).
absl::StatusOr<ActivationShape> InputShapeFor(const v1::Model& proto,
                                              const InputTransform& input) {
  const bool spatial = proto.layers_size() > 0 &&
                       proto.layers(0).kind() != v1::LAYER_KIND_UNSPECIFIED;
  if (!spatial) return ActivationShape{input.width};
  const auto& dims = input.shape;
  if ((dims.size() != 2 && !(dims.size() == 3 && dims[2] == 1)) ||
      input.width != input.raw_width) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "input: shape: %s with padded_width %d; a model that starts with a "
        "convolution or a pooling takes a height x width (x 1) map without "
        "padding",
        absl::StrJoin(dims, "x"), proto.input().padded_width()));
  }
  return ActivationShape{1, dims[0], dims[1]};
}

absl::StatusOr<ExitBranchRuntime> BuildExit(const v1::ExitBranch& exit,
                                            int index, int previous_after,
                                            const LayerList& backbone,
                                            const ModelOptions& options) {
  const std::string where = absl::StrCat("exit ", index + 1);
  const int n_layers = static_cast<int>(backbone.size());
  if (exit.after_layer() < 1 ||
      exit.after_layer() >= static_cast<uint32_t>(n_layers)) {
    return LayerFieldError(
        where, "after_layer",
        absl::StrFormat("%d is outside [1, %d]: an exit comes "
                        "after a layer before the last",
                        exit.after_layer(), n_layers - 1));
  }
  if (static_cast<int>(exit.after_layer()) < previous_after) {
    return LayerFieldError(
        where, "after_layer",
        absl::StrFormat("%d comes before the previous exit's %d; "
                        "exits are listed in backbone order",
                        exit.after_layer(), previous_after));
  }
  if (exit.layers().empty() || exit.layers_size() > kMaxExitLayers) {
    return LayerFieldError(where, "layers",
                           absl::StrFormat("%d layers; an exit has 1 to %d",
                                           exit.layers_size(), kMaxExitLayers));
  }
  if (!std::isfinite(exit.loss_weight()) || exit.loss_weight() < 0) {
    return LayerFieldError(
        where, "loss_weight",
        absl::StrFormat("%f (must be finite and >= 0)", exit.loss_weight()));
  }
  if (!v1::ConfidenceMeasure_IsValid(exit.confidence())) {
    return LayerFieldError(
        where, "confidence",
        absl::StrFormat("unknown value %d", exit.confidence()));
  }
  if (!(exit.threshold() >= 0.0f && exit.threshold() <= 1.0f)) {
    return LayerFieldError(
        where, "threshold",
        absl::StrFormat("%f is outside [0, 1]", exit.threshold()));
  }
  if (exit.confidence() == v1::CONFIDENCE_MEASURE_UNSPECIFIED &&
      exit.threshold() != 0.0f) {
    return LayerFieldError(
        where, "threshold",
        absl::StrFormat("%f is set, but no confidence measure "
                        "says what it applies to",
                        exit.threshold()));
  }
  ExitBranchRuntime runtime;
  runtime.after_layer = static_cast<int>(exit.after_layer());
  runtime.index = index;
  runtime.confidence = exit.confidence();
  runtime.threshold = exit.threshold();
  ActivationShape shape = backbone[exit.after_layer() - 1]->out_shape();
  for (int l = 0; l < exit.layers_size(); ++l) {
    SPEX_ASSIGN_OR_RETURN(
        auto layer,
        BuildLayer(exit.layers(l), absl::StrCat(where, " layer ", l + 1), shape,
                   l + 1 == exit.layers_size(), options.isa));
    shape = layer->out_shape();
    runtime.layers.push_back(std::move(layer));
  }
  const int width = shape.values();
  const int classes = backbone.back()->n_out();
  if (width != classes) {
    return LayerFieldError(where, "layers",
                           absl::StrFormat("ends with %d outputs, the final "
                                           "classifier has %d classes",
                                           width, classes));
  }
  return runtime;
}

// The file's content minus the numbers: what inspection and reports need.
v1::Model DescriptionOf(const v1::Model& proto) {
  v1::Model description = proto;
  const auto strip = [](v1::Layer& layer) {
    layer.clear_indices();
    layer.clear_weights();
    layer.clear_bias();
  };
  for (v1::Layer& layer : *description.mutable_layers()) strip(layer);
  for (v1::ExitBranch& exit : *description.mutable_exits()) {
    for (v1::Layer& layer : *exit.mutable_layers()) strip(layer);
  }
  return description;
}

}  // namespace

absl::Status InputTransform::CheckRaw(absl::Span<const float> raw) const {
  if (raw.size() != static_cast<size_t>(raw_width)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "input has %d values, the model expects %d", raw.size(), raw_width));
  }
  for (size_t i = 0; i < raw.size(); ++i) {
    // Written so that NaN fails too.
    if (!(raw[i] >= raw_min && raw[i] <= raw_max)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "input value %d is %g, outside the model's input range [%g, %g]", i,
          raw[i], raw_min, raw_max));
    }
  }
  return absl::OkStatus();
}

absl::Status InputTransform::CheckRaw(absl::Span<const uint8_t> pixels) const {
  if (pixels.size() != static_cast<size_t>(raw_width)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "input has %d values, the model expects %d", pixels.size(), raw_width));
  }
  if (raw_min <= 0.0f && raw_max >= 255.0f) return absl::OkStatus();
  for (size_t i = 0; i < pixels.size(); ++i) {
    if (pixels[i] < raw_min || pixels[i] > raw_max) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "input value %d is %d, outside the model's input range [%g, %g]", i,
          pixels[i], raw_min, raw_max));
    }
  }
  return absl::OkStatus();
}

double InputTransform::MaxMagnitude() const {
  const auto at = [&](double raw, int i) {
    if (!feature_scale.empty()) {
      raw = raw * feature_scale[i] + feature_offset[i];
    }
    return std::fabs(raw * scale + offset);
  };
  double most = 0;
  for (int i = 0; i < (feature_scale.empty() ? 1 : raw_width); ++i) {
    most = std::max({most, at(raw_min, i), at(raw_max, i)});
  }
  return most;
}

absl::Status InputTransform::Apply(absl::Span<const float> raw,
                                   float* x) const {
  SPEX_RETURN_IF_ERROR(CheckRaw(raw));
  Transform(raw, x);
  return absl::OkStatus();
}

// Raw, unaliased pointers and the factors in locals: Debian's Abseil checks
// every Span index, and a byte pointer may alias anything, which kept these
// loops from vectorizing (measured under callgrind: the pixel loop cost 11
// instructions a pixel, more than the first layer's kernel).
void InputTransform::Transform(absl::Span<const float> raw, float* x) const {
  const float* __restrict in = raw.data();
  float* __restrict out = x;
  const float a = scale, b = offset;
  if (feature_scale.empty()) {
    for (int i = 0; i < raw_width; ++i) out[i] = in[i] * a + b;
  } else {
    const float* __restrict fa = feature_scale.data();
    const float* __restrict fb = feature_offset.data();
    for (int i = 0; i < raw_width; ++i)
      out[i] = (in[i] * fa[i] + fb[i]) * a + b;
  }
  std::fill(x + raw_width, x + width, 0.0f);
}

void InputTransform::Transform(absl::Span<const uint8_t> pixels,
                               float* x) const {
  const uint8_t* __restrict in = pixels.data();
  float* __restrict out = x;
  const float a = scale, b = offset;
  if (feature_scale.empty()) {
    for (int i = 0; i < raw_width; ++i)
      out[i] = static_cast<float>(in[i]) * a + b;
  } else {
    const float* __restrict fa = feature_scale.data();
    const float* __restrict fb = feature_offset.data();
    for (int i = 0; i < raw_width; ++i)
      out[i] = (static_cast<float>(in[i]) * fa[i] + fb[i]) * a + b;
  }
  std::fill(x + raw_width, x + width, 0.0f);
}

Model::Model(v1::Model description, InputTransform input,
             std::vector<int> boundaries,
             std::vector<std::unique_ptr<const ModelPart>> segments)
    : description_(std::move(description)),
      input_(std::move(input)),
      boundaries_(std::move(boundaries)),
      segments_(std::move(segments)) {}

bool Model::IsBoundary(int layer) const {
  return std::binary_search(boundaries_.begin(), boundaries_.end(), layer);
}

int Model::WidthAfter(int layer) const {
  const ModelPart& all = full();
  return layer == 0 ? all.input_width() : all.layers()[layer - 1]->n_out();
}

const ModelPart* Model::Segment(int from_layer, int to_layer) const {
  const auto position = [this](int layer) -> int {
    const auto it =
        std::lower_bound(boundaries_.begin(), boundaries_.end(), layer);
    if (it == boundaries_.end() || *it != layer) return -1;
    return static_cast<int>(it - boundaries_.begin());
  };
  const int i = position(from_layer);
  const int j = position(to_layer);
  if (i < 0 || j < 0 || i >= j) return nullptr;
  return segments_[static_cast<size_t>(i) * boundaries_.size() + j].get();
}

absl::StatusOr<std::shared_ptr<const Model>> Model::Load(
    const std::string& path, const ModelOptions& options) {
  SPEX_ASSIGN_OR_RETURN(const v1::Model proto, ReadModelFile(path));
  absl::StatusOr<std::shared_ptr<const Model>> model =
      FromProto(proto, options);
  if (!model.ok()) {
    return absl::Status(model.status().code(),
                        absl::StrCat(path, ": ", model.status().message()));
  }
  return model;
}

absl::StatusOr<std::shared_ptr<const Model>> Model::FromProto(
    const v1::Model& proto, const ModelOptions& options) {
  SPEX_RETURN_IF_ERROR(CheckFormatVersion(proto));
  if (proto.model_id().empty()) {
    return absl::InvalidArgumentError(
        "model_id: missing (a model is saved with its id)");
  }
  const std::string id = ComputeModelId(proto);
  if (proto.model_id() != id) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "model_id: stored %s does not match the content's %s (the file was "
        "changed after it was written)",
        proto.model_id(), id));
  }
  SPEX_ASSIGN_OR_RETURN(InputTransform input,
                        InputTransform::FromSpec(proto.input()));

  const int n_layers = proto.layers_size();
  if (n_layers < 2 || n_layers > kMaxBackboneLayers) {
    return absl::InvalidArgumentError(
        absl::StrFormat("layers: %d backbone layers; a split model has 2 to %d",
                        n_layers, kMaxBackboneLayers));
  }
  LayerList backbone;
  SPEX_ASSIGN_OR_RETURN(ActivationShape shape, InputShapeFor(proto, input));
  for (int l = 0; l < n_layers; ++l) {
    SPEX_ASSIGN_OR_RETURN(
        auto layer, BuildLayer(proto.layers(l), absl::StrCat("layer ", l + 1),
                               shape, l + 1 == n_layers, options.isa));
    shape = layer->out_shape();
    backbone.push_back(std::move(layer));
  }
  // Compared unsigned: a huge value must not wrap to a negative int.
  if (proto.split_after() < 1 ||
      proto.split_after() >= static_cast<uint32_t>(n_layers)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "split_after: %d is outside [1, %d]: head and tail each need a layer",
        proto.split_after(), n_layers - 1));
  }
  const int split_after = static_cast<int>(proto.split_after());
  if (proto.later_cuts_size() + 1 > kMaxCuts) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "later_cuts: %d cuts after split_after; a chain has at most %d cuts",
        proto.later_cuts_size(), kMaxCuts));
  }
  std::vector<int> boundaries = {0, split_after};
  for (int c = 0; c < proto.later_cuts_size(); ++c) {
    const uint32_t cut = proto.later_cuts(c);
    if (cut <= static_cast<uint32_t>(boundaries.back()) ||
        cut >= static_cast<uint32_t>(n_layers)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "later_cuts: entry %d is %d; cuts ascend after split_after = %d and "
          "stay below the last layer, %d",
          c, cut, split_after, n_layers));
    }
    boundaries.push_back(static_cast<int>(cut));
  }
  boundaries.push_back(n_layers);
  if (proto.exits_size() > kMaxExits) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "exits: %d exits, at most %d", proto.exits_size(), kMaxExits));
  }
  std::vector<ExitBranchRuntime> exits;
  int previous_after = 1;
  for (int e = 0; e < proto.exits_size(); ++e) {
    SPEX_ASSIGN_OR_RETURN(
        ExitBranchRuntime exit,
        BuildExit(proto.exits(e), e, previous_after, backbone, options));
    previous_after = exit.after_layer;
    exits.push_back(std::move(exit));
  }
  SPEX_RETURN_IF_ERROR(CheckNoOverflow(
      proto, input.MaxMagnitude(),
      absl::MakeConstSpan(boundaries).subspan(1, boundaries.size() - 2)));
  const int classes = backbone.back()->n_out();
  if (!proto.class_names().empty() && proto.class_names_size() != classes) {
    return absl::InvalidArgumentError(
        absl::StrFormat("class_names: %d names for %d classes",
                        proto.class_names_size(), classes));
  }

  // Every segment between two boundaries: a handful of parts sharing the
  // packed layers, so any stage can continue from any cut.
  const size_t n = boundaries.size();
  std::vector<std::unique_ptr<const ModelPart>> segments(n * n);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = i + 1; j < n; ++j) {
      const int from = boundaries[i];
      const int to = boundaries[j];
      LayerList layers(backbone.begin() + from, backbone.begin() + to);
      std::vector<ExitBranchRuntime> inside;
      for (const ExitBranchRuntime& exit : exits) {
        if (exit.after_layer > from && exit.after_layer <= to) {
          inside.push_back(exit);
          inside.back().after_layer -= from;
        }
      }
      std::string name = from == 0 && to == n_layers      ? "full"
                         : from == 0 && to == split_after ? "head"
                         : from == split_after && to == n_layers
                             ? "tail"
                             : absl::StrFormat("layers %d-%d", from + 1, to);
      segments[i * n + j] = std::make_unique<const ModelPart>(
          std::move(name), std::move(layers), std::move(inside));
    }
  }
  return std::shared_ptr<const Model>(
      new Model(DescriptionOf(proto), std::move(input), std::move(boundaries),
                std::move(segments)));
}

}  // namespace spex
