#include "common/model/layer_builder.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/model/layer_pattern.h"
#include "common/sparsity/junction.h"
#include "common/sparsity/pattern.h"
#include "common/status/status_macros.h"

namespace spex {

absl::Status LayerFieldError(absl::string_view where, absl::string_view field,
                             absl::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat(where, ": ", field, ": ", problem));
}

namespace {

absl::StatusOr<Activation> ActivationOf(const v1::Layer& layer,
                                        absl::string_view where, bool last) {
  switch (layer.activation()) {
    case v1::ACTIVATION_IDENTITY:
    case v1::ACTIVATION_RELU:
      if (last) {
        return LayerFieldError(
            where, "activation",
            "the last layer of a classifier must be softmax");
      }
      return layer.activation() == v1::ACTIVATION_RELU ? Activation::kRelu
                                                       : Activation::kIdentity;
    case v1::ACTIVATION_SOFTMAX:
      if (!last) {
        return LayerFieldError(
            where, "activation",
            "softmax is allowed only on a classifier's last layer");
      }
      return Activation::kSoftmax;
    default:
      return LayerFieldError(
          where, "activation",
          absl::StrFormat("unknown or missing value %d", layer.activation()));
  }
}

// The channel graph's (or a fully connected layer's) degrees and pattern,
// checked against the layer's widths.
absl::StatusOr<Pattern> BuildPattern(const v1::Layer& layer,
                                     absl::string_view where) {
  const auto width_ok = [](uint32_t n) {
    return n >= 1 && n <= static_cast<uint32_t>(kMaxJunctionWidth);
  };
  if (!width_ok(layer.n_out())) {
    return LayerFieldError(where, "n_out",
                           absl::StrFormat("%d is outside [1, %d]",
                                           layer.n_out(), kMaxJunctionWidth));
  }
  if (layer.d_in() < 1 || layer.d_in() > layer.n_in()) {
    return LayerFieldError(where, "d_in",
                           absl::StrFormat("%d is outside [1, n_in = %d]",
                                           layer.d_in(), layer.n_in()));
  }
  if (layer.d_out() < 1 || layer.d_out() > layer.n_out()) {
    return LayerFieldError(where, "d_out",
                           absl::StrFormat("%d is outside [1, n_out = %d]",
                                           layer.d_out(), layer.n_out()));
  }
  JunctionSpec spec;
  spec.n_in = static_cast<int>(layer.n_in());
  spec.n_out = static_cast<int>(layer.n_out());
  spec.d_in = static_cast<int>(layer.d_in());
  spec.d_out = static_cast<int>(layer.d_out());
  if (int64_t{spec.n_in} * spec.d_out != int64_t{spec.n_out} * spec.d_in) {
    return LayerFieldError(
        where, "d_out",
        absl::StrFormat("n_in x d_out = %d x %d != n_out x d_in = %d x %d",
                        spec.n_in, spec.d_out, spec.n_out, spec.d_in));
  }
  absl::StatusOr<Pattern> pattern = LayerPattern(layer, spec);
  if (!pattern.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": ", pattern.status().message()));
  }
  return pattern;
}

absl::Status CountsMatch(const v1::Layer& layer, absl::string_view where,
                         int64_t weights, int64_t bias,
                         absl::string_view weights_needed) {
  if (layer.weights_size() != weights) {
    return LayerFieldError(
        where, "weights",
        absl::StrFormat("%d entries, %s = %d needed", layer.weights_size(),
                        weights_needed, weights));
  }
  if (layer.bias_size() != bias) {
    return LayerFieldError(where, "bias",
                           absl::StrFormat("%d entries, n_out = %d needed",
                                           layer.bias_size(), bias));
  }
  return absl::OkStatus();
}

// The error of a sparse layer or convolution built from checked parts,
// named by the layer.
absl::Status Named(absl::string_view where, const absl::Status& status) {
  return absl::Status(status.code(),
                      absl::StrCat(where, ": ", status.message()));
}

// A convolution or pooling reads a map of the size it declares.
absl::Status CheckMapInput(const v1::Layer& layer, absl::string_view where,
                           const ActivationShape& in) {
  if (layer.n_in() != static_cast<uint32_t>(in.channels) ||
      layer.in_height() != static_cast<uint32_t>(in.height) ||
      layer.in_width() != static_cast<uint32_t>(in.width)) {
    return LayerFieldError(
        where, "n_in",
        absl::StrFormat("%dx%dx%d (in_height x in_width x n_in), but its "
                        "input is %dx%dx%d",
                        layer.in_height(), layer.in_width(), layer.n_in(),
                        in.height, in.width, in.channels));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const Layer>> BuildFullyConnected(
    const v1::Layer& layer, absl::string_view where, const ActivationShape& in,
    bool last, std::optional<Isa> isa) {
  if (layer.n_in() != static_cast<uint32_t>(in.values())) {
    return LayerFieldError(
        where, "n_in",
        absl::StrFormat(
            "%d, but its input has width %d%s", layer.n_in(), in.values(),
            in.is_map() ? absl::StrCat(" (", in.DebugString(), ")") : ""));
  }
  if (in.values() > kMaxJunctionWidth) {
    return LayerFieldError(
        where, "n_in",
        absl::StrFormat("%d (%s) exceeds %d; pool the map first", in.values(),
                        in.DebugString(), kMaxJunctionWidth));
  }
  if (layer.in_height() != 0 || layer.in_width() != 0 || layer.window() != 0 ||
      layer.stride() != 0 || layer.padding() != 0) {
    return LayerFieldError(where, "in_height",
                           "a map size, window, stride or padding is set, but "
                           "only a convolution or a pooling has one");
  }
  SPEX_ASSIGN_OR_RETURN(const Pattern pattern, BuildPattern(layer, where));
  const JunctionSpec& spec = pattern.spec();
  SPEX_RETURN_IF_ERROR(CountsMatch(layer, where, spec.connections(), spec.n_out,
                                   "n_out x d_in"));
  SPEX_ASSIGN_OR_RETURN(const Activation activation,
                        ActivationOf(layer, where, last));
  LayerOptions layer_options;
  layer_options.isa = isa;
  absl::StatusOr<std::unique_ptr<SparseLayer>> built = SparseLayer::Create(
      pattern, layer.weights(), layer.bias(), activation, layer_options);
  if (!built.ok()) return Named(where, built.status());
  return std::shared_ptr<const Layer>(
      MakeFullyConnected(in, *std::move(built)));
}

absl::StatusOr<std::shared_ptr<const Layer>> BuildConvolution(
    const v1::Layer& layer, absl::string_view where, const ActivationShape& in,
    bool last, std::optional<Isa> isa) {
  SPEX_RETURN_IF_ERROR(CheckMapInput(layer, where, in));
  Conv2dShape shape;
  shape.in_h = in.height;
  shape.in_w = in.width;
  shape.c_in = in.channels;
  shape.c_out = static_cast<int>(std::min<uint32_t>(layer.n_out(), 1u << 20));
  shape.kernel = static_cast<int>(std::min<uint32_t>(layer.window(), 1u << 20));
  shape.stride = static_cast<int>(std::min<uint32_t>(layer.stride(), 1u << 20));
  shape.pad = static_cast<int>(std::min<uint32_t>(layer.padding(), 1u << 20));
  if (absl::Status status = CheckConv2dShape(shape); !status.ok()) {
    return Named(where, status);
  }
  SPEX_ASSIGN_OR_RETURN(const Pattern channels, BuildPattern(layer, where));
  SPEX_RETURN_IF_ERROR(CountsMatch(layer, where,
                                   channels.spec().connections() * shape.taps(),
                                   shape.c_out, "n_out x window^2 x d_in"));
  SPEX_ASSIGN_OR_RETURN(const Activation activation,
                        ActivationOf(layer, where, last));
  LayerOptions layer_options;
  layer_options.isa = isa;
  absl::StatusOr<std::unique_ptr<Conv2dLayer>> conv =
      Conv2dLayer::Create(shape, channels, layer.weights(), layer.bias(),
                          activation, layer_options);
  if (!conv.ok()) return Named(where, conv.status());
  return std::shared_ptr<const Layer>(MakeConvolution(*std::move(conv)));
}

absl::StatusOr<std::shared_ptr<const Layer>> BuildPooling(
    const v1::Layer& layer, absl::string_view where, const ActivationShape& in,
    bool last) {
  SPEX_RETURN_IF_ERROR(CheckMapInput(layer, where, in));
  if (last) {
    return LayerFieldError(
        where, "kind", "a classifier ends with a softmax layer, not a pooling");
  }
  if (layer.n_out() != layer.n_in()) {
    return LayerFieldError(
        where, "n_out",
        absl::StrFormat("%d, but a pooling keeps its %d channels",
                        layer.n_out(), layer.n_in()));
  }
  if (layer.d_in() != 1 || layer.d_out() != 1 ||
      layer.pattern() != v1::PATTERN_KIND_UNSPECIFIED ||
      !layer.indices().empty() || !layer.weights().empty() ||
      !layer.bias().empty() || layer.group_size() != 0) {
    return LayerFieldError(where, "pattern",
                           "a pooling has degrees 1 and no pattern, indices, "
                           "weights or bias");
  }
  if (layer.activation() != v1::ACTIVATION_IDENTITY) {
    return LayerFieldError(where, "activation", "a pooling's is identity");
  }
  Pool2dShape shape;
  shape.in_h = in.height;
  shape.in_w = in.width;
  shape.channels = in.channels;
  PoolKind kind = PoolKind::kAverage;
  if (layer.kind() == v1::LAYER_KIND_GLOBAL_AVERAGE_POOL) {
    if (layer.window() != 0 || layer.stride() != 0 || layer.padding() != 0) {
      return LayerFieldError(
          where, "window", "a global pooling has no window, stride or padding");
    }
    shape.global = true;
  } else {
    if (layer.padding() != 0) {
      return LayerFieldError(where, "padding", "a pooling has none");
    }
    shape.window =
        static_cast<int>(std::min<uint32_t>(layer.window(), 1u << 20));
    shape.stride =
        static_cast<int>(std::min<uint32_t>(layer.stride(), 1u << 20));
    if (layer.kind() == v1::LAYER_KIND_MAX_POOL) kind = PoolKind::kMax;
  }
  if (absl::Status status = CheckPool2dShape(shape); !status.ok()) {
    return Named(where, status);
  }
  return std::shared_ptr<const Layer>(MakePooling(shape, kind));
}

}  // namespace

absl::StatusOr<std::shared_ptr<const Layer>> BuildLayer(
    const v1::Layer& layer, absl::string_view where, const ActivationShape& in,
    bool last, std::optional<Isa> isa) {
  switch (layer.kind()) {
    case v1::LAYER_KIND_UNSPECIFIED:
      return BuildFullyConnected(layer, where, in, last, isa);
    case v1::LAYER_KIND_CONV2D:
      return BuildConvolution(layer, where, in, last, isa);
    case v1::LAYER_KIND_MAX_POOL:
    case v1::LAYER_KIND_AVERAGE_POOL:
    case v1::LAYER_KIND_GLOBAL_AVERAGE_POOL:
      return BuildPooling(layer, where, in, last);
    default:
      return LayerFieldError(where, "kind",
                             absl::StrFormat("unknown value %d", layer.kind()));
  }
}

}  // namespace spex
