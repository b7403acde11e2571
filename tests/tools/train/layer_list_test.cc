// --layers: the words a user writes become the chain InitializeModel lays
// out, and every mistake is named with its layer.
#include "tools/train/layer_list.h"

#include "common/model/model_init.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace spex {
namespace {

using ::testing::HasSubstr;

TEST(LayerListTest, ReadsEveryKindWithItsOptions) {
  auto chain = ParseLayerList(
      "conv3x3 32, maxpool2, conv5x5 64 fo 16 stride 2 pad 1, avgpool3 stride "
      "2, conv1x1 4, gap, fc 10 fo 5",
      1, "--layers");
  ASSERT_TRUE(chain.ok()) << chain.status();
  EXPECT_EQ(chain->widths, (std::vector<int>{1, 32, 32, 64, 64, 4, 4, 10}));
  EXPECT_EQ(chain->fan_out, (std::vector<int>{32, 32, 16, 64, 4, 4, 5}));
  ASSERT_EQ(chain->geometry.size(), 7u);
  const LayerGeometry& conv = chain->geometry[2];
  EXPECT_EQ(conv.kind, v1::LAYER_KIND_CONV2D);
  EXPECT_EQ(conv.window, 5);
  EXPECT_EQ(conv.stride, 2);
  EXPECT_EQ(conv.padding, 1);
  EXPECT_EQ(chain->geometry[0].padding, 1);  // "same" by default
  EXPECT_EQ(chain->geometry[1].kind, v1::LAYER_KIND_MAX_POOL);
  EXPECT_EQ(chain->geometry[1].stride, 2);
  EXPECT_EQ(chain->geometry[3].kind, v1::LAYER_KIND_AVERAGE_POOL);
  EXPECT_EQ(chain->geometry[3].stride, 2);
  EXPECT_EQ(chain->geometry[5].kind, v1::LAYER_KIND_GLOBAL_AVERAGE_POOL);
  EXPECT_EQ(chain->geometry[6].kind, v1::LAYER_KIND_UNSPECIFIED);
  EXPECT_EQ(ChainTopologyString(*chain),
            "1 > conv3x3 32 fo 32 > maxpool2 > conv5x5 64 fo 16 stride 2 pad 1 "
            "> avgpool3 stride 2 > conv1x1 4 fo 4 > gap > fc 10 fo 5");
}

TEST(LayerListTest, MistakesAreNamedWithTheirLayer) {
  const struct {
    const char* text;
    const char* message;
  } cases[] = {
      {"conv3x3 32, fc",
       "--layers: layer 2 (\"fc\"): a positive width must follow"},
      {"conv3x4 8, fc 10", "layer 1 (\"conv3x4 8\"): a convolution is written"},
      {"dense 10", "unknown layer; one of convKxK"},
      {"conv3x3 8 fo, fc 10", "option fo needs a number"},
      {"maxpool2 pad 1, fc 10", "option pad does not apply here"},
      {"conv3x3 8, , fc 10", "layer 2 (\"\"): empty"},
      {"conv3x3 8", "--layers: the last layer is the classifier, an fc layer"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    auto chain = ParseLayerList(c.text, 1, "--layers");
    ASSERT_FALSE(chain.ok());
    EXPECT_THAT(std::string(chain.status().message()), HasSubstr(c.message));
  }
}

// The chain becomes a model the runtime accepts; a shape that does not fit
// is named by InitializeModel before any training.
TEST(LayerListTest, ChainsInitialiseOrSayWhyNot) {
  ModelTopology t;
  t.input_shape = {12, 12};
  t.input_scale = 1.0f / 255;
  t.backbone = *ParseLayerList(
      "conv3x3 8, maxpool2, conv3x3 16 fo 4, conv1x1 2, gap, fc 3", 1,
      "--layers");
  t.split_after = 4;
  t.exits = {{4, {3}, {3}, 1.0f}};
  auto model = InitializeModel(t, 1);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->format_version(), 4u);
  EXPECT_EQ(model->layers(2).d_in(), 2);  // 8 x 4 / 16
  EXPECT_EQ(model->layers(2).weights_size(), 16 * 2 * 9);
  EXPECT_EQ(model->exits(0).layers(0).n_in(), 6u * 6 * 2);  // the whole map
  t.backbone = *ParseLayerList("conv3x3 8, maxpool13, fc 3", 1, "--layers");
  t.split_after = 1;
  t.exits.clear();
  EXPECT_THAT(
      std::string(InitializeModel(t, 1).status().message()),
      HasSubstr("layer 2: a 13x13 pooling window does not fit the 12x12 "
                "map"));
  t.backbone = *ParseLayerList("conv3x3 8 fo 3, fc 3", 1, "--layers");
  EXPECT_THAT(std::string(InitializeModel(t, 1).status().message()),
              HasSubstr("backbone: "));
}

// An exit after a map pools or convolves before its classifier: its layers
// read the backbone layer's channels and map, and a mistake in them is named
// with the exit's flag.
TEST(LayerListTest, ExitsAfterAMapTakeTheirOwnLayers) {
  ModelTopology t;
  t.input_shape = {12, 12};
  t.input_scale = 1.0f / 255;
  t.backbone = *ParseLayerList("conv3x3 8, maxpool2, conv3x3 16 fo 4, fc 3", 1,
                               "--layers");
  t.split_after = 2;
  auto exit_chain =
      ParseLayerList("conv1x1 4, maxpool2, fc 3", 8, "--exit-layers (exit 1)");
  ASSERT_TRUE(exit_chain.ok()) << exit_chain.status();
  ExitTopology exit;
  exit.after_layer = 2;  // after the pooling: 6x6x8
  exit.widths.assign(exit_chain->widths.begin() + 1, exit_chain->widths.end());
  exit.fan_out = exit_chain->fan_out;
  exit.geometry = exit_chain->geometry;
  t.exits = {exit};
  auto model = InitializeModel(t, 1);
  ASSERT_TRUE(model.ok()) << model.status();
  const v1::ExitBranch& branch = model->exits(0);
  ASSERT_EQ(branch.layers_size(), 3);
  EXPECT_EQ(branch.layers(0).kind(), v1::LAYER_KIND_CONV2D);
  EXPECT_EQ(branch.layers(1).kind(), v1::LAYER_KIND_MAX_POOL);
  EXPECT_EQ(branch.layers(2).n_in(), 3u * 3 * 4);  // the pooled 3x3x4 map
  EXPECT_EQ(branch.layers(2).n_out(), 3u);

  auto wrong = ParseLayerList("maxpool2, fc", 8, "--exit-layers (exit 2)");
  ASSERT_FALSE(wrong.ok());
  EXPECT_THAT(std::string(wrong.status().message()),
              HasSubstr("--exit-layers (exit 2): layer 2 (\"fc\")"));
}

}  // namespace
}  // namespace spex
