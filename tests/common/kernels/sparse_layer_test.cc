#include "common/kernels/sparse_layer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <thread>
#include <vector>

#include "common/kernels/kernel_choice.h"
#include "common/sparsity/junction.h"

namespace spex {
namespace {

using ::testing::HasSubstr;

struct Fixture {
  Pattern pattern;
  std::vector<float> weights;
  std::vector<float> bias;
};

Fixture MakeFixture(int n_in, int n_out, double density, PatternKind kind,
                    uint64_t seed) {
  const JunctionSpec spec = *JunctionFromDensity(0, n_in, n_out, density);
  Fixture f{*GeneratePattern(spec, kind, seed), {}, {}};
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  f.weights.resize(spec.connections());
  for (float& w : f.weights) w = normal(rng);
  f.bias.resize(n_out);
  for (float& b : f.bias) b = normal(rng);
  return f;
}

TEST(KernelChoiceTest, SparseFormatsBelowCrossoverDenseAbove) {
  const JunctionSpec sparse = *JunctionFromDensity(0, 1024, 1024, 0.125);
  const JunctionSpec half = *JunctionFromDensity(0, 1024, 1024, 0.5);
  const JunctionSpec full = *JunctionFromDensity(0, 1024, 1024, 1.0);
  EXPECT_EQ(ChooseSingleFormat(sparse, PatternKind::kRandom),
            WeightFormat::kSell8);
  EXPECT_EQ(ChooseSingleFormat(sparse, PatternKind::kBlock),
            WeightFormat::kBlock8);
  EXPECT_EQ(ChooseSingleFormat(half, PatternKind::kRandom),
            WeightFormat::kDense);
  EXPECT_EQ(ChooseSingleFormat(half, PatternKind::kBlock),
            WeightFormat::kBlock8);
  EXPECT_EQ(ChooseSingleFormat(full, PatternKind::kBlock),
            WeightFormat::kDense);
  EXPECT_EQ(ChooseBatchFormat(sparse, PatternKind::kRandom),
            WeightFormat::kSell8);
  EXPECT_EQ(ChooseBatchFormat(sparse, PatternKind::kBlock),
            WeightFormat::kBlock8);
  // From kRowBatchDenseCrossover the dense GEMM beats the row formats.
  EXPECT_EQ(ChooseBatchFormat(half, PatternKind::kRandom),
            WeightFormat::kDense);
  EXPECT_EQ(ChooseBatchFormat(half, PatternKind::kBlock), WeightFormat::kDense);
  EXPECT_EQ(ChooseBatchFormat(full, PatternKind::kRandom),
            WeightFormat::kDense);
  for (PatternKind kind : {PatternKind::kTile4, PatternKind::kTile8}) {
    const WeightFormat tile = kind == PatternKind::kTile4
                                  ? WeightFormat::kTile4
                                  : WeightFormat::kTile8;
    EXPECT_EQ(ChooseSingleFormat(sparse, kind), tile);
    EXPECT_EQ(ChooseSingleFormat(half, kind), tile);
    EXPECT_EQ(ChooseSingleFormat(full, kind), WeightFormat::kDense);
    EXPECT_EQ(ChooseBatchFormat(half, kind), tile);
    EXPECT_EQ(ChooseBatchFormat(full, kind), WeightFormat::kDense);
  }
}

TEST(KernelChoiceTest, PicksBestAvailableIsa) {
  const JunctionSpec spec = *JunctionFromDensity(0, 64, 64, 0.125);
  auto choice = ChooseKernels(spec, PatternKind::kBlock);
  ASSERT_TRUE(choice.ok()) << choice.status();
  EXPECT_TRUE(IsaAvailable(choice->single->isa));
  if (IsaAvailable(Isa::kAvx2) || IsaAvailable(Isa::kNeon)) {
    EXPECT_NE(choice->single->isa, Isa::kReference);
    EXPECT_NE(choice->batch->isa, Isa::kReference);
  }
}

TEST(KernelChoiceTest, ForcedKernelErrors) {
  const JunctionSpec spec = *JunctionFromDensity(0, 64, 64, 0.125);
  EXPECT_EQ(ChooseKernels(spec, PatternKind::kRandom, "nope").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_THAT(
      ChooseKernels(spec, PatternKind::kRandom, "f32_block8_ref")
          .status()
          .message(),
      HasSubstr("block8 format, which does not fit the layer's random"));
  // A tile of 8 is two tiles of 4, not the other way round.
  EXPECT_TRUE(ChooseKernels(spec, PatternKind::kTile8, "f32_tile4_ref").ok());
  EXPECT_THAT(ChooseKernels(spec, PatternKind::kTile4, "f32_tile8_ref")
                  .status()
                  .message(),
              HasSubstr("tile8 format, which does not fit the layer's tile4"));
}

TEST(SparseLayerTest, RejectsNonFiniteWeightsAndWrongSizes) {
  Fixture f = MakeFixture(64, 32, 0.25, PatternKind::kRandom, 1);
  f.weights[17] = NAN;
  auto layer =
      SparseLayer::Create(f.pattern, f.weights, f.bias, Activation::kRelu);
  ASSERT_FALSE(layer.ok());
  EXPECT_THAT(layer.status().message(), HasSubstr("weight 17 is nan"));
  f.weights[17] = 0.0f;
  f.bias[3] = INFINITY;
  EXPECT_THAT(
      SparseLayer::Create(f.pattern, f.weights, f.bias, Activation::kRelu)
          .status()
          .message(),
      HasSubstr("bias 3 is inf"));
  f.bias[3] = 0.0f;
  f.bias.pop_back();
  EXPECT_THAT(
      SparseLayer::Create(f.pattern, f.weights, f.bias, Activation::kRelu)
          .status()
          .message(),
      HasSubstr("31 biases given"));
}

// The batch path and the single path compute the same function, whatever
// kernels and formats each chose.
TEST(SparseLayerTest, BatchAgreesWithSingleForEveryActivation) {
  for (double density : {0.125, 0.5, 1.0}) {
    for (PatternKind kind : {PatternKind::kRandom, PatternKind::kBlock,
                             PatternKind::kTile4, PatternKind::kTile8}) {
      for (Activation act :
           {Activation::kIdentity, Activation::kRelu, Activation::kSoftmax}) {
        Fixture f = MakeFixture(128, 64, density, kind, 9);
        auto layer = SparseLayer::Create(f.pattern, f.weights, f.bias, act);
        ASSERT_TRUE(layer.ok()) << layer.status();
        const size_t batch = 70;
        std::mt19937_64 rng(3);
        std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
        std::vector<float> xb(128 * batch), yb(64 * batch);
        for (float& v : xb) v = uniform(rng);
        (*layer)->ForwardBatch(batch, xb.data(), batch, yb.data(), batch);
        for (size_t j = 0; j < batch; ++j) {
          std::vector<float> x(128), y(64);
          for (int i = 0; i < 128; ++i) x[i] = xb[i * batch + j];
          (*layer)->Forward(x.data(), y.data());
          double sum = 0;
          for (int o = 0; o < 64; ++o) {
            ASSERT_NEAR(y[o], yb[o * batch + j], 1e-4f * (1 + std::fabs(y[o])))
                << "density " << density << " kind " << PatternKindName(kind)
                << " activation " << ActivationName(act);
            sum += y[o];
            if (act == Activation::kRelu) {
              ASSERT_GE(y[o], 0.0f);
            }
          }
          if (act == Activation::kSoftmax) {
            ASSERT_NEAR(sum, 1.0, 1e-5);
          }
        }
      }
    }
  }
}

TEST(SparseLayerTest, SoftmaxIsStableForLargeLogits) {
  Fixture f = MakeFixture(16, 8, 1.0, PatternKind::kBlock, 2);
  for (float& b : f.bias) b = 1000.0f;
  for (float& w : f.weights) w = 0.0f;
  f.bias[5] = 1001.0f;
  auto layer =
      SparseLayer::Create(f.pattern, f.weights, f.bias, Activation::kSoftmax);
  ASSERT_TRUE(layer.ok());
  std::vector<float> x(16, 1.0f), y(8);
  (*layer)->Forward(x.data(), y.data());
  for (float v : y) ASSERT_TRUE(std::isfinite(v));
  EXPECT_GT(y[5], y[0]);
  EXPECT_NEAR(y[5] / y[0], std::exp(1.0f), 1e-3);
}

// A loaded layer is immutable and shared by the daemons' worker threads.
TEST(SparseLayerTest, ConcurrentForwardCallsAgree) {
  Fixture f = MakeFixture(256, 128, 0.125, PatternKind::kRandom, 4);
  auto layer =
      SparseLayer::Create(f.pattern, f.weights, f.bias, Activation::kRelu);
  ASSERT_TRUE(layer.ok());
  std::vector<float> x(256);
  for (int i = 0; i < 256; ++i) x[i] = std::sin(i * 0.1f);
  std::vector<float> expected(128);
  (*layer)->Forward(x.data(), expected.data());
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::vector<float> y(128);
      for (int round = 0; round < 200; ++round) {
        (*layer)->Forward(x.data(), y.data());
        if (y != expected) ++mismatches[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

TEST(SparseLayerTest, ForcedKernelIsUsedForBothPaths) {
  Fixture f = MakeFixture(64, 64, 0.125, PatternKind::kBlock, 5);
  LayerOptions options;
  options.kernel = "f32_dense_ref";
  auto layer = SparseLayer::Create(f.pattern, f.weights, f.bias,
                                   Activation::kIdentity, options);
  ASSERT_TRUE(layer.ok()) << layer.status();
  EXPECT_EQ((*layer)->single_kernel().name, "f32_dense_ref");
  EXPECT_EQ((*layer)->batch_kernel().name, "f32_dense_ref");
  EXPECT_EQ((*layer)->packed_bytes(), (64 * 64 + 64) * sizeof(float));
  EXPECT_EQ((*layer)->single_path_bytes(), (*layer)->packed_bytes());
  EXPECT_EQ((*layer)->batch_path_bytes(), (*layer)->packed_bytes());
}

TEST(SparseLayerTest, PathsWithDifferentFormatsCountEachPack) {
  // Block pattern at density 1/2: block8 for one sample, the dense GEMM for
  // batches.
  Fixture f = MakeFixture(64, 64, 0.5, PatternKind::kBlock, 6);
  auto layer =
      SparseLayer::Create(f.pattern, f.weights, f.bias, Activation::kIdentity);
  ASSERT_TRUE(layer.ok()) << layer.status();
  ASSERT_EQ((*layer)->single_kernel().format, WeightFormat::kBlock8);
  ASSERT_EQ((*layer)->batch_kernel().format, WeightFormat::kDense);
  EXPECT_EQ((*layer)->batch_path_bytes(), (64 * 64 + 64) * sizeof(float));
  EXPECT_GT((*layer)->single_path_bytes(), 64 * 32 * sizeof(float));
  EXPECT_EQ((*layer)->packed_bytes(),
            (*layer)->single_path_bytes() + (*layer)->batch_path_bytes());
}

}  // namespace
}  // namespace spex
