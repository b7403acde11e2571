#include "common/model/model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "common/kernels/kernel.h"
#include "common/model/model_file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/model/test_models.h"
#include "tests/support/every_pattern_kind.h"

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

INSTANTIATE_TEST_SUITE_P(EveryPatternKind, PartitionTest, EveryPatternKind(),
                         PatternKindTestName);

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
  // No range in the file: any value within the bound on every value that
  // enters a model.
  raw[17] = 65504.0f;
  EXPECT_TRUE(input.CheckRaw(raw).ok());
  raw[17] = 1e30f;
  EXPECT_THAT(input.CheckRaw(raw).message(),
              HasSubstr("value 17 is 1e+30, outside the model's input range "
                        "[-65504, 65504]"));
}

TEST(ModelTest, InputRangeIsEnforcedForValuesAndPixels) {
  v1::Model proto =
      MakeTestModel(TestTopologies(PatternKind::kRandom)[0].topology, 1);
  proto.mutable_input()->mutable_range()->set_min(0.0f);
  proto.mutable_input()->mutable_range()->set_max(255.0f);
  SerializeModel(&proto);
  auto model = Model::FromProto(proto);
  ASSERT_TRUE(model.ok()) << model.status();
  const InputTransform& input = (*model)->input();
  std::vector<float> raw(784, 255.0f);
  EXPECT_TRUE(input.CheckRaw(raw).ok());
  for (float bad : {-1.0f, 255.5f, 1e30f, -0.001f,
                    std::numeric_limits<float>::quiet_NaN()}) {
    raw[300] = bad;
    EXPECT_THAT(input.CheckRaw(raw).message(),
                HasSubstr("value 300 is " + absl::StrFormat("%g", bad) +
                          ", outside the model's input range [0, 255]"));
  }
  std::vector<uint8_t> pixels(784, 255);
  EXPECT_TRUE(input.CheckRaw(pixels).ok());

  // A narrower range holds for pixels too.
  proto.mutable_input()->mutable_range()->set_max(200.0f);
  SerializeModel(&proto);
  model = Model::FromProto(proto);
  ASSERT_TRUE(model.ok()) << model.status();
  std::fill(pixels.begin(), pixels.end(), 200);
  EXPECT_TRUE((*model)->input().CheckRaw(pixels).ok());
  pixels[5] = 201;
  EXPECT_THAT((*model)->input().CheckRaw(pixels).message(),
              HasSubstr("value 5 is 201, outside the model's input range "
                        "[0, 200]"));
}

// Per-feature factors (a table's standardization) apply before the
// model's scale and offset, to values and pixels alike; a wrong count or a
// non-finite factor is an error naming the field.
TEST(ModelTest, FeatureFactorsApplyBeforeScaleAndOffset) {
  v1::Model proto =
      MakeTestModel(TestTopologies(PatternKind::kRandom)[0].topology, 1);
  const float scale = proto.input().scale(), offset = proto.input().offset();
  for (int i = 0; i < 784; ++i) {
    proto.mutable_input()->add_feature_scale(0.5f + i % 7);
    proto.mutable_input()->add_feature_offset(-1.0f * (i % 5));
  }
  proto.set_format_version(5);
  SerializeModel(&proto);
  auto model = Model::FromProto(proto);
  ASSERT_TRUE(model.ok()) << model.status();
  const InputTransform& input = (*model)->input();
  std::vector<float> raw(784), x(800, -1.0f), from_pixels(800, -1.0f);
  std::vector<uint8_t> pixels(784);
  for (int i = 0; i < 784; ++i) {
    pixels[i] = static_cast<uint8_t>((i * 37) % 256);
    raw[i] = pixels[i];
  }
  ASSERT_TRUE(input.Apply(raw, x.data()).ok());
  input.Transform(pixels, from_pixels.data());
  for (int i = 0; i < 784; ++i) {
    const double expected =
        (raw[i] * (0.5 + i % 7) - (i % 5)) * double{scale} + offset;
    EXPECT_NEAR(x[i], expected, 1e-5 * (1 + std::fabs(expected))) << i;
    EXPECT_EQ(from_pixels[i], x[i]) << i;
  }
  EXPECT_EQ(x[799], 0.0f);

  v1::Model short_one = proto;
  short_one.mutable_input()->mutable_feature_offset()->RemoveLast();
  SerializeModel(&short_one);
  EXPECT_THAT(std::string(Model::FromProto(short_one).status().message()),
              HasSubstr("feature_scale and feature_offset: 784 and 783"));
  v1::Model not_finite = proto;
  not_finite.mutable_input()->set_feature_scale(
      9, std::numeric_limits<float>::quiet_NaN());
  SerializeModel(&not_finite);
  EXPECT_THAT(std::string(Model::FromProto(not_finite).status().message()),
              HasSubstr("input: feature 9: scale nan"));
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
        EXPECT_EQ(FindKernel(layer->single_kernel())->isa, isa);
        EXPECT_EQ(FindKernel(layer->batch_kernel())->isa, isa);
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
