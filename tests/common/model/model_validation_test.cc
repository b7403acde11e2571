// Model validation: each way a model message can be wrong gets an error
// that names it; the id covers the whole file; initialization is seeded.
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "common/model/model.h"
#include "common/model/model_file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/model/test_models.h"

namespace spex {
namespace {

using ::testing::HasSubstr;

// Each way a model message can be wrong, and the words the error must use.
struct BadModelCase {
  std::string name;
  std::function<void(v1::Model*)> mutate;
  std::string expected;
};

std::vector<BadModelCase> BadModelCases() {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  return {
      {"version", [](v1::Model* m) { m->set_format_version(6); },
       "format_version: 6 is not supported"},
      {"feature factors before version 5",
       [](v1::Model* m) {
         for (int i = 0; i < 784; ++i) {
           m->mutable_input()->add_feature_scale(1.0f);
           m->mutable_input()->add_feature_offset(0.0f);
         }
       },
       "but the model has per-feature input factors, which version 5 added"},
      {"feature factors short",
       [](v1::Model* m) {
         m->set_format_version(5);
         m->mutable_input()->add_feature_scale(1.0f);
         m->mutable_input()->add_feature_offset(0.0f);
       },
       "input: feature_scale and feature_offset: 1 and 1 factors; both need "
       "one per raw value (784)"},
      {"input shape", [](v1::Model* m) { m->mutable_input()->clear_shape(); },
       "input: shape: missing"},
      {"input zero dim",
       [](v1::Model* m) { m->mutable_input()->set_shape(1, 0); },
       "input: shape: dimension 1 is 0"},
      {"padding",
       [](v1::Model* m) { m->mutable_input()->set_padded_width(700); },
       "input: padded_width: 700"},
      {"scale", [nan](v1::Model* m) { m->mutable_input()->set_scale(nan); },
       "input: scale"},
      {"input range",
       [](v1::Model* m) {
         m->mutable_input()->mutable_range()->set_min(5);
         m->mutable_input()->mutable_range()->set_max(1);
       },
       "input: range: [5, 1] is not an interval within [-65504, 65504]"},
      {"input range beyond the value bound",
       [](v1::Model* m) { m->mutable_input()->mutable_range()->set_max(1e6); },
       "input: range: [0, 1e+06] is not an interval"},
      // Finite weights whose products overflow float32 for inputs the model
      // accepts (layer 2 reads the split activation, whose decoded values
      // reach 2 x 65504).
      {"overflow",
       [](v1::Model* m) { m->mutable_layers(1)->set_weights(0, 1e36f); },
       "layer 2: inputs the model accepts (up to 131008 in magnitude) can "
       "drive its outputs to"},
      {"chain", [](v1::Model* m) { m->mutable_layers(1)->set_n_in(41); },
       "layer 2: n_in: 41, but its input has width 40"},
      {"n_out", [](v1::Model* m) { m->mutable_layers(0)->set_n_out(0); },
       "layer 1: n_out: 0 is outside"},
      {"huge n_out",
       [](v1::Model* m) { m->mutable_layers(0)->set_n_out(1u << 30); },
       "layer 1: n_out: 1073741824 is outside"},
      {"d_in", [](v1::Model* m) { m->mutable_layers(0)->set_d_in(801); },
       "layer 1: d_in: 801 is outside"},
      {"degrees", [](v1::Model* m) { m->mutable_layers(0)->set_d_out(3); },
       "layer 1: d_out: n_in x d_out = 800 x 3 != n_out x d_in = 40 x 40"},
      {"weights count",
       [](v1::Model* m) {
         m->mutable_layers(1)->mutable_weights()->RemoveLast();
       },
       "layer 2: weights: 359 entries, n_out x d_in = 360 needed"},
      {"bias count", [](v1::Model* m) { m->mutable_layers(2)->add_bias(0); },
       "layer 3: bias: 11 entries"},
      {"nan weight",
       [nan](v1::Model* m) { m->mutable_layers(1)->set_weights(5, nan); },
       "layer 2: layer 40->40 d_in=9 d_out=9 density=0.225: weight 5 is nan"},
      {"inf bias",
       [](v1::Model* m) { m->mutable_layers(0)->set_bias(3, INFINITY); },
       "layer 1: layer 800->40 d_in=40 d_out=2 density=0.05: bias 3 is inf"},
      {"index range",
       [](v1::Model* m) {
         m->mutable_layers(1)->set_pattern(v1::PATTERN_KIND_RANDOM);
         m->mutable_layers(1)->clear_indices();
         for (int i = 0; i < 360; ++i)
           m->mutable_layers(1)->add_indices(i % 9 + (i == 0 ? 99 : 0));
       },
       "layer 2: indices: row 0 slot 0: input 99 out of range [0, 40)"},
      {"index order",
       [](v1::Model* m) {
         m->mutable_layers(1)->set_pattern(v1::PATTERN_KIND_RANDOM);
         m->mutable_layers(1)->clear_indices();
         for (int i = 0; i < 360; ++i)
           m->mutable_layers(1)->add_indices(8 - i % 9);
       },
       "layer 2: indices: row 0 slot 1: inputs not strictly ascending"},
      {"index degree",
       [](v1::Model* m) {
         m->mutable_layers(1)->set_pattern(v1::PATTERN_KIND_RANDOM);
         m->mutable_layers(1)->clear_indices();
         for (int i = 0; i < 360; ++i) m->mutable_layers(1)->add_indices(i % 9);
       },
       "layer 2: indices: input 0 feeds 40 outputs, junction declares "
       "out-degree 9"},
      {"index count",
       [](v1::Model* m) {
         m->mutable_layers(0)->mutable_indices()->RemoveLast();
       },
       "layer 1: indices:"},
      {"block code",
       [](v1::Model* m) {
         m->mutable_layers(0)->set_pattern(v1::PATTERN_KIND_BLOCK);
         m->mutable_layers(0)->clear_indices();
         for (int i = 0; i < 5 * 40; ++i)
           m->mutable_layers(0)->add_indices(70000);
       },
       "layer 1: indices: entry 0: block code 70000 exceeds 16 bits"},
      {"tile group size",
       [](v1::Model* m) {
         m->set_format_version(2);
         m->mutable_layers(0)->set_pattern(v1::PATTERN_KIND_TILE);
         m->mutable_layers(0)->set_group_size(3);
       },
       "layer 1: group_size: tile group size 3 unsupported (4 or 8)"},
      {"group size elsewhere",
       [](v1::Model* m) { m->mutable_layers(0)->set_group_size(4); },
       "layer 1: group_size: 4, but only a tile pattern has one"},
      {"tile count",
       [](v1::Model* m) {
         m->set_format_version(2);
         m->mutable_layers(0)->set_pattern(v1::PATTERN_KIND_TILE);
         m->mutable_layers(0)->set_group_size(4);
       },
       "layer 1: indices: 1600 entries, a tile pattern of 40 outputs x 40 "
       "inputs needs 40/4 tiles"},
      {"tile misfit",
       [](v1::Model* m) {
         m->set_format_version(2);
         m->mutable_layers(0)->set_pattern(v1::PATTERN_KIND_TILE);
         m->mutable_layers(0)->set_group_size(4);
         m->mutable_layers(0)->mutable_indices()->Truncate(400);
       },
       "layer 1: indices: junction 800->40 d_in=40 d_out=2 density=0.05: a "
       "tile pattern of group size 4 "
       "needs n_out and d_out to be multiples of 4; no tile group size fits"},
      {"dense with indices",
       [](v1::Model* m) { m->mutable_layers(2)->add_indices(1); },
       "layer 3: indices: must be empty for a dense layer"},
      {"dense but sparse",
       [](v1::Model* m) {
         m->mutable_layers(0)->set_pattern(v1::PATTERN_KIND_DENSE);
       },
       "layer 1: pattern: dense, but d_in 40 != n_in 800"},
      {"pattern enum",
       [](v1::Model* m) {
         m->mutable_layers(0)->set_pattern(static_cast<v1::PatternKind>(9));
       },
       "layer 1: pattern: unknown or missing value 9"},
      {"activation enum",
       [](v1::Model* m) {
         m->mutable_layers(0)->set_activation(v1::ACTIVATION_UNSPECIFIED);
       },
       "layer 1: activation: unknown or missing value 0"},
      {"hidden softmax",
       [](v1::Model* m) {
         m->mutable_layers(0)->set_activation(v1::ACTIVATION_SOFTMAX);
       },
       "layer 1: activation: softmax is allowed only"},
      {"last relu",
       [](v1::Model* m) {
         m->mutable_layers(2)->set_activation(v1::ACTIVATION_RELU);
       },
       "layer 3: activation: the last layer of a classifier must be softmax"},
      {"one layer",
       [](v1::Model* m) { m->mutable_layers()->DeleteSubrange(1, 2); },
       "layers: 1 backbone layers; a split model has 2 to 64"},
      {"split zero",
       [](v1::Model* m) {
         m->set_format_version(3);
         m->set_split_after(0);
       },
       "split_after: 0 is outside [1, 2]"},
      {"split end", [](v1::Model* m) { m->set_split_after(3); },
       "split_after: 3 is outside [1, 2]"},
      {"split huge", [](v1::Model* m) { m->set_split_after(0x80000001u); },
       "split_after: 2147483649 is outside [1, 2]"},
      {"exit huge",
       [](v1::Model* m) {
         m->set_format_version(3);
         m->mutable_exits(0)->set_after_layer(0xffffffffu);
       },
       "exit 1: after_layer: 4294967295 is outside"},
      {"exit on the classifier",
       [](v1::Model* m) {
         m->set_format_version(3);
         m->mutable_exits(0)->set_after_layer(3);
       },
       "exit 1: after_layer: 3 is outside [1, 2]: an exit comes after a layer "
       "before the last"},
      {"cut before the split", [](v1::Model* m) { m->add_later_cuts(1); },
       "later_cuts: entry 0 is 1; cuts ascend after split_after = 1 and stay "
       "below the last layer, 3"},
      {"cut on the last layer", [](v1::Model* m) { m->add_later_cuts(3); },
       "later_cuts: entry 0 is 3"},
      {"cuts descending",
       [](v1::Model* m) {
         m->add_later_cuts(2);
         m->add_later_cuts(2);
       },
       "later_cuts: entry 1 is 2"},
      {"too many cuts",
       [](v1::Model* m) {
         for (int c = 0; c < 8; ++c) m->add_later_cuts(2);
       },
       "later_cuts: 8 cuts after split_after; a chain has at most 8 cuts"},
      {"exit chain",
       [](v1::Model* m) {
         m->mutable_exits(0)->mutable_layers(0)->set_n_in(800);
       },
       "exit 1 layer 1: n_in: 800, but its input has width 40"},
      {"exit classes",
       [](v1::Model* m) {
         v1::Layer* l = m->mutable_exits(0)->mutable_layers(0);
         l->set_n_out(9);
         l->set_d_out(9);
         l->mutable_bias()->RemoveLast();
         l->mutable_weights()->Truncate(9 * 40);
       },
       "exit 1: layers: ends with 9 outputs, the final classifier has 10 "
       "classes"},
      {"exit empty", [](v1::Model* m) { m->mutable_exits(0)->clear_layers(); },
       "exit 1: layers: 0 layers"},
      {"threshold without measure",
       [](v1::Model* m) { m->mutable_exits(0)->set_threshold(0.5f); },
       "exit 1: threshold: 0.500000 is set, but no confidence measure"},
      {"threshold",
       [](v1::Model* m) { m->mutable_exits(0)->set_threshold(1.5f); },
       "exit 1: threshold: 1.500000 is outside [0, 1]"},
      {"nan threshold",
       [nan](v1::Model* m) { m->mutable_exits(0)->set_threshold(nan); },
       "exit 1: threshold: nan"},
      {"confidence enum",
       [](v1::Model* m) {
         m->mutable_exits(0)->set_confidence(
             static_cast<v1::ConfidenceMeasure>(5));
       },
       "exit 1: confidence: unknown value 5"},
      {"loss weight",
       [](v1::Model* m) { m->mutable_exits(0)->set_loss_weight(-1); },
       "exit 1: loss_weight"},
      {"class names", [](v1::Model* m) { m->add_class_names("only one"); },
       "class_names: 1 names for 10 classes"},
  };
}

TEST(ModelValidationTest, EachProblemIsNamed) {
  const v1::Model valid =
      MakeTestModel(TestTopologies(PatternKind::kRandom)[0].topology, 5);
  ASSERT_TRUE(Model::FromProto(valid).ok());
  for (const BadModelCase& c : BadModelCases()) {
    SCOPED_TRACE(c.name);
    v1::Model bad = valid;
    c.mutate(&bad);
    SerializeModel(&bad);  // a consistent id: the content itself is wrong
    const auto model = Model::FromProto(bad);
    ASSERT_FALSE(model.ok());
    EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(model.status().message()), HasSubstr(c.expected));
  }
}

TEST(ModelValidationTest, IdMustMatchTheContent) {
  v1::Model model =
      MakeTestModel(TestTopologies(PatternKind::kRandom)[1].topology, 5);
  const std::string id = model.model_id();
  ASSERT_EQ(id.size(), 64u);
  EXPECT_EQ(ComputeModelId(model), id);
  model.mutable_layers(0)->set_weights(0, model.layers(0).weights(0) + 1e-6f);
  EXPECT_NE(ComputeModelId(model), id);
  EXPECT_THAT(std::string(Model::FromProto(model).status().message()),
              HasSubstr("model_id: stored " + id + " does not match"));
  model.clear_model_id();
  EXPECT_THAT(std::string(Model::FromProto(model).status().message()),
              HasSubstr("model_id: missing"));
  // Metadata counts too: a model is its whole file.
  v1::Model renamed =
      MakeTestModel(TestTopologies(PatternKind::kRandom)[1].topology, 5);
  EXPECT_EQ(renamed.model_id(), id);
  renamed.set_class_names(0, "z");
  EXPECT_NE(ComputeModelId(renamed), id);
}

TEST(ModelInitTest, SameSeedSameModelAndClearErrors) {
  const ModelTopology topology =
      TestTopologies(PatternKind::kBlock)[1].topology;
  EXPECT_EQ(MakeTestModel(topology, 9).model_id(),
            MakeTestModel(topology, 9).model_id());
  EXPECT_NE(MakeTestModel(topology, 9).model_id(),
            MakeTestModel(topology, 10).model_id());
  ModelTopology bad = topology;
  bad.backbone.fan_out[0] = 5;  // 96 * 5 / 64 is not whole
  EXPECT_THAT(std::string(InitializeModel(bad, 1).status().message()),
              HasSubstr("backbone: "));
  bad = topology;
  bad.backbone.fan_out.pop_back();
  EXPECT_THAT(std::string(InitializeModel(bad, 1).status().message()),
              HasSubstr("6 widths, 4 fan-outs and 0 geometries"));
  EXPECT_EQ(ChainTopologyString(topology.backbone),
            "96-64-32-64-24-7 fo 16 4 16 6 7");
}

}  // namespace
}  // namespace spex
