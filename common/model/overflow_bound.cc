#include "common/model/overflow_bound.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <string>

#include "absl/strings/str_format.h"
#include "common/codec/activation_codec.h"

namespace spex {
namespace {

// Half of float32's largest value: a margin for rounding in the sums.
constexpr double kOverflowLimit = FLT_MAX / 2.0;

double MaxAbs(const google::protobuf::RepeatedField<float>& values) {
  double largest = 0.0;
  for (float v : values) largest = std::max(largest, double{std::fabs(v)});
  return largest;
}

// Inputs per output: d_in, times the taps for a convolution.
double FanIn(const v1::Layer& layer) {
  const double taps = layer.kind() == v1::LAYER_KIND_CONV2D
                          ? static_cast<double>(layer.window()) * layer.window()
                          : 1.0;
  return layer.d_in() * taps;
}

absl::Status Refuse(const std::string& where, const v1::Layer& layer,
                    double input_bound, double output_bound) {
  return absl::InvalidArgumentError(absl::StrFormat(
      "%s: inputs the model accepts (up to %g in magnitude) can drive its "
      "outputs to %g (%g inputs, weights up to %g), beyond float32's range: "
      "some answers would be NaN",
      where, input_bound, output_bound, FanIn(layer), MaxAbs(layer.weights())));
}

}  // namespace

double LayerOutputBound(const v1::Layer& layer, double input_bound) {
  switch (layer.kind()) {
    case v1::LAYER_KIND_MAX_POOL:
    case v1::LAYER_KIND_AVERAGE_POOL:
    case v1::LAYER_KIND_GLOBAL_AVERAGE_POOL:
      return input_bound;  // a maximum or a mean of its inputs
    default:
      return input_bound * FanIn(layer) * MaxAbs(layer.weights()) +
             MaxAbs(layer.bias());
  }
}

absl::Status CheckNoOverflow(const v1::Model& model, double input_bound,
                             absl::Span<const int> cuts) {
  // bounds[k]: the bound on backbone layer k's outputs (0: the input).
  std::vector<double> bounds = {input_bound};
  for (int l = 0; l < model.layers_size(); ++l) {
    double in = bounds.back();
    if (std::find(cuts.begin(), cuts.end(), l) != cuts.end()) {
      in = std::max(in, kMaxDecodedMagnitude);
    }
    const double out = LayerOutputBound(model.layers(l), in);
    if (!(out < kOverflowLimit)) {
      return Refuse(absl::StrFormat("layer %d", l + 1), model.layers(l), in,
                    out);
    }
    bounds.push_back(out);
  }
  for (int e = 0; e < model.exits_size(); ++e) {
    const v1::ExitBranch& exit = model.exits(e);
    double in = bounds[exit.after_layer()];
    for (int l = 0; l < exit.layers_size(); ++l) {
      const double out = LayerOutputBound(exit.layers(l), in);
      if (!(out < kOverflowLimit)) {
        return Refuse(absl::StrFormat("exit %d layer %d", e + 1, l + 1),
                      exit.layers(l), in, out);
      }
      in = out;
    }
  }
  return absl::OkStatus();
}

}  // namespace spex
