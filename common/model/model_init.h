// A new, untrained model: topology in, a model message with fresh patterns
// and initial weights out. The trainer starts here; tests build models of
// any shape with it.
#ifndef SPEX_COMMON_MODEL_MODEL_INIT_H_
#define SPEX_COMMON_MODEL_MODEL_INIT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/sparsity/pattern.h"
#include "spex/v1/model.pb.h"

namespace spex {

// What makes a layer of a chain spatial: a convolution (window x window
// taps moved by stride over a map padded with `padding` zeros) or a pooling
// (max or average over window x window moved by stride; global: the whole
// map). Fully connected when the kind is unspecified.
struct LayerGeometry {
  v1::LayerKind kind = v1::LAYER_KIND_UNSPECIFIED;
  int window = 0;
  int stride = 1;
  int padding = 0;
};

// A chain of layers: widths[0] is the input width (its channels when the
// chain starts on a map), widths[k] the output of layer k (its channels for
// a convolution or a pooling, which keeps its input's); fan_out[k-1] its
// out-degree (the reference's --fo; for a convolution, output channels per
// input channel; ignored for a pooling). A layer whose fan-out equals its
// output width is dense. `geometry` is empty (every layer fully connected)
// or one entry per layer. A fully connected layer after a map reads the
// whole map (channels x height x width values).
struct ChainTopology {
  ChainTopology() = default;
  ChainTopology(std::vector<int> widths_in, std::vector<int> fan_out_in,
                std::vector<LayerGeometry> geometry_in = {})
      : widths(std::move(widths_in)),
        fan_out(std::move(fan_out_in)),
        geometry(std::move(geometry_in)) {}

  std::vector<int> widths;
  std::vector<int> fan_out;
  std::vector<LayerGeometry> geometry;
};

struct ExitTopology {
  int after_layer = 0;
  // Widths after the attachment point, ending with the class count, and
  // one fan-out per junction; `geometry` as in ChainTopology (empty: every
  // layer fully connected), so an exit after a map can pool or convolve
  // before its classifier.
  std::vector<int> widths;
  std::vector<int> fan_out;
  float loss_weight = 1.0f;
  std::vector<LayerGeometry> geometry = {};
};

struct ModelTopology {
  std::vector<int> input_shape;  // e.g. {28, 28}
  int padded_width = 0;          // 0: no padding
  float input_scale = 1.0f;
  float input_offset = 0.0f;
  // The raw values a sample may hold (InputSpec.range); unset: any.
  std::optional<std::pair<float, float>> input_range;
  // InputSpec.feature_scale and feature_offset: empty or one per raw value.
  std::vector<float> feature_scale;
  std::vector<float> feature_offset;
  ChainTopology backbone;  // backbone.widths[0] = the padded input
  int split_after = 1;
  std::vector<int> later_cuts;  // the chain's further cuts (model.proto)
  std::vector<ExitTopology> exits;
  std::vector<std::string> class_names;
  // Sparse junctions use this kind where it fits (block: both widths
  // multiples of 8; tile4/tile8: n_out and d_out multiples of the group
  // size) and `random` elsewhere.
  PatternKind pattern = PatternKind::kRandom;
};

// `kind` where the junction can take it (block: both widths multiples of
// 8; tile4/tile8: n_out and d_out multiples of the group size), `random`
// elsewhere: the kind InitializeModel gives a junction.
PatternKind FittingPatternKind(const JunctionSpec& spec, PatternKind kind);

// The pattern seed InitializeModel gives a junction of a model trained with
// `model_seed`: `salt` is the backbone layer's 0-based index j, or
// 1000 (e + 1) + j for layer j of exit e (0-based). A dense junction has
// none. Stored in the file as the layer's pattern_seed.
uint64_t LayerPatternSeed(uint64_t model_seed, uint64_t salt);

// Stores `pattern` in `layer` (pattern kind, indices, group size) as the
// model file lays it out; a dense pattern stores no indices.
void WritePattern(const Pattern& pattern, v1::Layer* layer);

// Hidden layers ReLU, classifiers softmax, poolings identity; He-normal
// weights (stddev sqrt(2 / fan-in), the fan-in a neuron actually has:
// d_in, times the taps for a convolution), biases 0.1,
// as the reference initialises. Deterministic for a seed. InvalidArgument
// naming the junction when a fan-out does not give a whole in-degree (with
// the valid ones) or the widths do not chain. model_id is left empty.
absl::StatusOr<v1::Model> InitializeModel(const ModelTopology& topology,
                                          uint64_t seed);

// "784-64-10 fo 8 10": widths joined by '-', then the fan-outs; a chain with
// spatial layers names each layer: "1 > conv3x3 32 fo 32 > maxpool2 > ...".
std::string ChainTopologyString(const ChainTopology& chain);

}  // namespace spex

#endif  // SPEX_COMMON_MODEL_MODEL_INIT_H_
