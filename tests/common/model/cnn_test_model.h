// A small convolutional model with random weights for the tests: every
// layer kind, a feature map at the cut and an exit on it.
#ifndef SPEX_TESTS_COMMON_MODEL_CNN_TEST_MODEL_H_
#define SPEX_TESTS_COMMON_MODEL_CNN_TEST_MODEL_H_

#include <cmath>
#include <cstdint>
#include <random>

#include "common/model/model_file.h"
#include "common/model/model_init.h"
#include "common/sparsity/junction.h"
#include "common/sparsity/pattern.h"
#include "spex/v1/model.pb.h"

namespace spex {

inline v1::Layer* AddConv(v1::Model* model, int side, int c_in, int c_out,
                          int d_out, PatternKind kind, int window, int stride,
                          int padding, std::mt19937_64& rng) {
  const JunctionSpec spec = *JunctionFromFanOut(0, c_in, c_out, d_out);
  const Pattern pattern = *GeneratePattern(spec, kind, rng());
  v1::Layer* layer = model->add_layers();
  layer->set_kind(v1::LAYER_KIND_CONV2D);
  layer->set_n_in(c_in);
  layer->set_n_out(c_out);
  layer->set_d_in(spec.d_in);
  layer->set_d_out(spec.d_out);
  WritePattern(pattern, layer);
  layer->set_in_height(side);
  layer->set_in_width(side);
  layer->set_window(window);
  layer->set_stride(stride);
  layer->set_padding(padding);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const double scale = std::sqrt(2.0 / (spec.d_in * window * window));
  for (int64_t i = 0; i < spec.connections() * window * window; ++i) {
    layer->add_weights(static_cast<float>(scale * normal(rng)));
  }
  for (int o = 0; o < c_out; ++o) layer->add_bias(0.1f * normal(rng));
  layer->set_activation(v1::ACTIVATION_RELU);
  return layer;
}

inline v1::Layer* AddPool(google::protobuf::RepeatedPtrField<v1::Layer>* layers,
                          v1::LayerKind kind, int side, int channels,
                          int window) {
  v1::Layer* layer = layers->Add();
  layer->set_kind(kind);
  layer->set_n_in(channels);
  layer->set_n_out(channels);
  layer->set_d_in(1);
  layer->set_d_out(1);
  layer->set_in_height(side);
  layer->set_in_width(side);
  if (kind != v1::LAYER_KIND_GLOBAL_AVERAGE_POOL) {
    layer->set_window(window);
    layer->set_stride(window);
  }
  layer->set_activation(v1::ACTIVATION_IDENTITY);
  return layer;
}

inline v1::Layer* AddDense(
    google::protobuf::RepeatedPtrField<v1::Layer>* layers, int n_in, int n_out,
    bool softmax, std::mt19937_64& rng) {
  v1::Layer* layer = layers->Add();
  layer->set_n_in(n_in);
  layer->set_n_out(n_out);
  layer->set_d_in(n_in);
  layer->set_d_out(n_out);
  layer->set_pattern(v1::PATTERN_KIND_DENSE);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const double scale = std::sqrt(2.0 / n_in);
  for (int i = 0; i < n_in * n_out; ++i) {
    layer->add_weights(static_cast<float>(scale * normal(rng)));
  }
  for (int o = 0; o < n_out; ++o) layer->add_bias(0.1f * normal(rng));
  layer->set_activation(softmax ? v1::ACTIVATION_SOFTMAX : v1::ACTIVATION_RELU);
  return layer;
}

// A side x side image (side even, 12 or 28) -> conv 3x3 1->8 (dense) ->
// max pool 2 -> conv 3x3 8->16 (tile4, density 1/2) -> conv 1x1 16->4
// (random, 1/4: the cut, a (side/2)^2 x 4 map) -> conv 3x3 stride 2 4->16
// (random, 1/2) -> global average -> 16 -> dense 16->10. An exit after the
// cut: average pool 2 -> dense (side/4)^2 x 4 -> 10. Random weights, a
// valid file (format version 4, id set).
inline v1::Model MakeTestCnn(int side, uint64_t seed) {
  std::mt19937_64 rng(seed);
  v1::Model model;
  model.set_format_version(4);
  v1::InputSpec* input = model.mutable_input();
  input->add_shape(side);
  input->add_shape(side);
  input->set_scale(1.0f / 255);
  input->mutable_range()->set_max(255);
  const int half = side / 2, quarter = (half + 1) / 2;
  AddConv(&model, side, 1, 8, 8, PatternKind::kRandom, 3, 1, 1, rng);
  AddPool(model.mutable_layers(), v1::LAYER_KIND_MAX_POOL, side, 8, 2);
  AddConv(&model, half, 8, 16, 8, PatternKind::kTile4, 3, 1, 1, rng);
  AddConv(&model, half, 16, 4, 1, PatternKind::kRandom, 1, 1, 0, rng);
  AddConv(&model, half, 4, 16, 8, PatternKind::kRandom, 3, 2, 1, rng);
  AddPool(model.mutable_layers(), v1::LAYER_KIND_GLOBAL_AVERAGE_POOL, quarter,
          16, 0);
  AddDense(model.mutable_layers(), 16, 10, true, rng);
  model.set_split_after(4);
  v1::ExitBranch* exit = model.add_exits();
  exit->set_after_layer(4);
  exit->set_loss_weight(1.0f);
  AddPool(exit->mutable_layers(), v1::LAYER_KIND_AVERAGE_POOL, half, 4, 2);
  AddDense(exit->mutable_layers(), (half / 2) * (half / 2) * 4, 10, true, rng);
  SerializeModel(&model);
  return model;
}

}  // namespace spex

#endif  // SPEX_TESTS_COMMON_MODEL_CNN_TEST_MODEL_H_
