#include "common/model/model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <thread>
#include <vector>

#include "common/kernels/kernel.h"
#include "common/model/model_file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/model/test_models.h"

namespace spex {
namespace {

using ::testing::HasSubstr;

// A float64 forward pass of one layer, straight from the message.
std::vector<double> ReferenceLayer(const v1::Layer& layer,
                                   const std::vector<double>& x) {
  const auto rows = RowsOf(layer);
  std::vector<double> y(layer.n_out());
  for (uint32_t o = 0; o < layer.n_out(); ++o) {
    double sum = layer.bias(o);
    for (uint32_t k = 0; k < layer.d_in(); ++k) {
      sum += double{layer.weights(o * layer.d_in() + k)} * x[rows[o][k]];
    }
    y[o] = sum;
  }
  if (layer.activation() == v1::ACTIVATION_RELU) {
    for (double& v : y) v = std::max(v, 0.0);
  } else if (layer.activation() == v1::ACTIVATION_SOFTMAX) {
    const double top = *std::max_element(y.begin(), y.end());
    double total = 0;
    for (double& v : y) total += (v = std::exp(v - top));
    for (double& v : y) v /= total;
  }
  return y;
}

std::vector<double> ReferenceChain(
    const google::protobuf::RepeatedPtrField<v1::Layer>& layers, int begin,
    int end, std::vector<double> x) {
  for (int l = begin; l < end; ++l) x = ReferenceLayer(layers[l], x);
  return x;
}

class PartitionTest : public testing::TestWithParam<PatternKind> {};

// The edge runs the head, the cloud the tail: together they must compute
// exactly what the full network computes, on every kernel variant.
TEST_P(PartitionTest, HeadThenTailEqualsFullBitForBit) {
  std::mt19937 rng(std::random_device{}());
  // The automatic choice, then every ISA this CPU runs.
  std::vector<std::optional<Isa>> isas = {std::nullopt};
  for (Isa isa : {Isa::kReference, Isa::kAvx2, Isa::kAvx512, Isa::kNeon}) {
    if (IsaAvailable(isa)) isas.push_back(isa);
  }
  for (const TestTopology& t : TestTopologies(GetParam())) {
    const v1::Model proto = MakeTestModel(t.topology, rng());
    for (const std::optional<Isa>& isa : isas) {
      SCOPED_TRACE(t.name + " isa " +
                   (isa ? std::string(IsaName(*isa)) : std::string("auto")));
      ModelOptions options;
      options.isa = isa;
      auto model = Model::FromProto(proto, options);
      ASSERT_TRUE(model.ok()) << model.status();
      const Model& m = **model;
      const ModelPart& head = m.head();
      const ModelPart& tail = m.tail();
      const ModelPart& full = m.full();
      ASSERT_EQ(head.output_width(), tail.input_width());
      ASSERT_EQ(head.exits().size(), full.exits().size());
      Workspace head_ws(head), tail_ws(tail), full_ws(full);
      const int classes = m.num_classes();
      const size_t exit_values = head.exits().size() * classes;
      for (int trial = 0; trial < 4; ++trial) {
        const std::vector<float> x = RandomInput(m.input().width, rng);
        std::vector<float> split(head.output_width()), split_exits(exit_values);
        std::vector<float> y(classes), y_full(classes), full_exits(exit_values);
        head.Forward(x.data(), split.data(), split_exits.data(), &head_ws);
        tail.Forward(split.data(), y.data(), nullptr, &tail_ws);
        full.Forward(x.data(), y_full.data(), full_exits.data(), &full_ws);
        ASSERT_TRUE(SameBits(y.data(), y_full.data(), classes));
        ASSERT_TRUE(
            SameBits(split_exits.data(), full_exits.data(), exit_values));

        // And both agree with a float64 pass over the file's own numbers.
        std::vector<double> xd(x.begin(), x.end());
        const auto reference =
            ReferenceChain(proto.layers(), 0, proto.layers_size(), xd);
        for (int c = 0; c < classes; ++c) {
          ASSERT_NEAR(y[c], reference[c], 1e-5) << "class " << c;
        }
        for (int e = 0; e < proto.exits_size(); ++e) {
          const auto at = ReferenceChain(proto.layers(), 0,
                                         proto.exits(e).after_layer(), xd);
          const auto exit_reference = ReferenceChain(
              proto.exits(e).layers(), 0, proto.exits(e).layers_size(), at);
          for (int c = 0; c < classes; ++c) {
            ASSERT_NEAR(split_exits[e * classes + c], exit_reference[c], 1e-5)
                << "exit " << e << " class " << c;
          }
        }
      }

      // Feature-major batches: the cloud's path. Head then tail again equals
      // full exactly, and each column agrees with the one-sample path.
      for (size_t batch : {1u, 5u, 64u}) {
        const size_t stride = batch + 3;  // wider than the batch, as allowed
        Workspace hb(head, batch), tb(tail, batch), fb(full, batch);
        std::vector<float> x(m.input().width * stride);
        for (float& v : x)
          v = std::uniform_real_distribution<float>(-1, 1)(rng);
        std::vector<float> split(head.output_width() * stride);
        std::vector<float> y(classes * stride), y_full(classes * stride);
        std::vector<float> exits(exit_values * stride),
            full_exits(exit_values * stride);
        head.ForwardBatch(batch, x.data(), stride, split.data(), stride,
                          exits.data(), stride, &hb);
        tail.ForwardBatch(batch, split.data(), stride, y.data(), stride,
                          nullptr, 0, &tb);
        full.ForwardBatch(batch, x.data(), stride, y_full.data(), stride,
                          full_exits.data(), stride, &fb);
        for (int c = 0; c < classes; ++c) {
          ASSERT_TRUE(SameBits(&y[c * stride], &y_full[c * stride], batch));
        }
        for (size_t r = 0; r < exit_values; ++r) {
          ASSERT_TRUE(
              SameBits(&exits[r * stride], &full_exits[r * stride], batch));
        }
        std::vector<float> column(m.input().width), single(classes),
            single_exits(exit_values);
        for (size_t j = 0; j < batch; ++j) {
          for (int i = 0; i < m.input().width; ++i)
            column[i] = x[i * stride + j];
          full.Forward(column.data(), single.data(), single_exits.data(),
                       &full_ws);
          for (int c = 0; c < classes; ++c) {
            ASSERT_NEAR(single[c], y_full[c * stride + j], 1e-5);
          }
          for (size_t r = 0; r < exit_values; ++r) {
            ASSERT_NEAR(single_exits[r], full_exits[r * stride + j], 1e-5);
          }
        }
      }
    }
  }
}

TEST_P(PartitionTest, CostsAddUpAndMatchTheFile) {
  for (const TestTopology& t : TestTopologies(GetParam())) {
    SCOPED_TRACE(t.name);
    const v1::Model proto = MakeTestModel(t.topology, 7);
    auto model = Model::FromProto(proto);
    ASSERT_TRUE(model.ok()) << model.status();
    const Model& m = **model;
    int64_t head_macs = 0, tail_macs = 0, exit_macs = 0, params = 0;
    for (int l = 0; l < proto.layers_size(); ++l) {
      const int64_t macs =
          int64_t{proto.layers(l).n_out()} * proto.layers(l).d_in();
      (l < m.split_after() ? head_macs : tail_macs) += macs;
      params += macs + proto.layers(l).n_out();
    }
    for (const auto& exit : proto.exits()) {
      for (const auto& layer : exit.layers()) {
        exit_macs += int64_t{layer.n_out()} * layer.d_in();
        params += int64_t{layer.n_out()} * layer.d_in() + layer.n_out();
      }
    }
    EXPECT_EQ(m.head().backbone_cost().macs, head_macs);
    EXPECT_EQ(m.head().exits_cost().macs, exit_macs);
    EXPECT_EQ(m.head().cost().macs, head_macs + exit_macs);
    EXPECT_EQ(m.tail().cost().macs, tail_macs);
    EXPECT_EQ(m.full().cost().macs, head_macs + tail_macs + exit_macs);
    EXPECT_EQ(m.full().cost().params, params);
    EXPECT_EQ(m.head().cost().params + m.tail().cost().params, params);
    EXPECT_EQ(m.head().cost().bytes + m.tail().cost().bytes,
              m.full().cost().bytes);
    // Packed bytes hold at least the float weights and biases.
    EXPECT_GE(m.full().cost().bytes, 4 * params);
    EXPECT_EQ(m.split_width(), t.topology.backbone.widths[m.split_after()]);
    // The description keeps the structure but not the numbers.
    EXPECT_EQ(m.description().layers_size(), proto.layers_size());
    EXPECT_EQ(m.description().layers(0).weights_size(), 0);
    EXPECT_EQ(m.id(), proto.model_id());
  }
}

INSTANTIATE_TEST_SUITE_P(EveryPatternKind, PartitionTest,
                         testing::Values(PatternKind::kRandom,
                                         PatternKind::kBlock,
                                         PatternKind::kTile4,
                                         PatternKind::kTile8),
                         [](const testing::TestParamInfo<PatternKind>& info) {
                           return std::string(PatternKindName(info.param));
                         });

TEST(ModelTest, SharedByManyThreads) {
  const v1::Model proto =
      MakeTestModel(TestTopologies(PatternKind::kBlock)[0].topology, 3);
  auto model = Model::FromProto(proto);
  ASSERT_TRUE(model.ok());
  std::shared_ptr<const Model> shared = *model;
  std::mt19937 rng(11);
  const std::vector<float> x = RandomInput(shared->input().width, rng);
  std::vector<float> expected(shared->num_classes());
  Workspace ws(shared->full());
  shared->full().Forward(x.data(), expected.data(), nullptr, &ws);
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Workspace own(shared->full());
      std::vector<float> y(shared->num_classes());
      for (int i = 0; i < 500; ++i) {
        shared->full().Forward(x.data(), y.data(), nullptr, &own);
        if (!SameBits(y.data(), expected.data(), y.size())) ++mismatches[t];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

TEST(ModelTest, InputTransformScalesPadsAndRejectsBadSamples) {
  const v1::Model proto =
      MakeTestModel(TestTopologies(PatternKind::kRandom)[0].topology, 1);
  auto model = Model::FromProto(proto);
  ASSERT_TRUE(model.ok());
  const InputTransform& input = (*model)->input();
  EXPECT_EQ(input.raw_width, 784);
  EXPECT_EQ(input.width, 800);
  std::vector<float> raw(784, 255.0f), x(800, -1.0f);
  ASSERT_TRUE(input.Apply(raw, x.data()).ok());
  EXPECT_FLOAT_EQ(x[0], 1.0f);
  EXPECT_FLOAT_EQ(x[783], 1.0f);
  EXPECT_EQ(x[784], 0.0f);
  EXPECT_EQ(x[799], 0.0f);
  EXPECT_THAT(input.Apply(absl::MakeSpan(raw).subspan(1), x.data()).message(),
              HasSubstr("783 values, the model expects 784"));
  raw[17] = std::numeric_limits<float>::infinity();
  EXPECT_THAT(input.Apply(raw, x.data()).message(),
              HasSubstr("value 17 is inf"));
}

// Each way a model message can be wrong, and the words the error must use.
struct BadModelCase {
  std::string name;
  std::function<void(v1::Model*)> mutate;
  std::string expected;
};

std::vector<BadModelCase> BadModelCases() {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  return {
      {"version", [](v1::Model* m) { m->set_format_version(4); },
       "format_version: 4 is not supported"},
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
              HasSubstr("6 widths and 4 fan-outs"));
  EXPECT_EQ(ChainTopologyString(topology.backbone),
            "96-64-32-64-24-7 fo 16 4 16 6 7");
}

TEST(ModelTest, PinningAnIsaThisCpuLacksIsAnError) {
  const v1::Model proto =
      MakeTestModel(TestTopologies(PatternKind::kRandom)[2].topology, 2);
  for (Isa isa : {Isa::kReference, Isa::kAvx2, Isa::kAvx512, Isa::kNeon}) {
    ModelOptions options;
    options.isa = isa;
    const auto model = Model::FromProto(proto, options);
    if (IsaAvailable(isa)) {
      ASSERT_TRUE(model.ok()) << model.status();
      for (const auto& layer : (*model)->full().layers()) {
        EXPECT_EQ(layer->single_kernel().isa, isa);
        EXPECT_EQ(layer->batch_kernel().isa, isa);
      }
    } else {
      EXPECT_EQ(model.status().code(), absl::StatusCode::kFailedPrecondition);
      EXPECT_THAT(std::string(model.status().message()),
                  HasSubstr(IsaName(isa)));
    }
  }
}

}  // namespace
}  // namespace spex
