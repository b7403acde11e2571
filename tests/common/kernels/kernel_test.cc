// Every kernel in kernel_table.inc against a float64 dense reference, on
// fresh random data each run (the seed is printed on failure).
//
// Tolerance: |y - y_ref| <= 1e-5 * (sum_k |w_k * x_k| + |b|) per output, a
// bound relative to the scale of each sum, which float32 accumulation over
// up to thousands of terms stays well inside. Shapes include odd widths,
// densities from 1/32 to 1, batches 1, 3, 40, 64 and 257, and every pattern
// kind each format can hold.
#include "common/kernels/kernel.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/kernels/kernel_choice.h"
#include "common/kernels/packed_weights.h"
#include "common/sparsity/junction.h"
#include "common/sparsity/pattern.h"

namespace spex {
namespace {

constexpr double kRelativeTolerance = 1e-5;

struct Shape {
  int n_in;
  int n_out;
};

// Odd widths for the random kind; multiples of 8 (including odd multiples)
// for the block kind.
const Shape kRandomShapes[] = {
    {67, 13}, {100, 37}, {256, 129}, {784, 64}, {1024, 40}};
const Shape kBlockShapes[] = {{64, 8}, {96, 40}, {784, 64}, {1024, 136}};
// Output widths that are multiples of 8 with odd multiples, odd input widths.
const Shape kTileShapes[] = {{67, 8}, {100, 40}, {784, 64}, {1023, 136}};
const double kDensities[] = {1.0 / 32, 1.0 / 16, 1.0 / 8,
                             1.0 / 4,  1.0 / 2,  1.0};
// 40 and 53 run the shared-inputs loops' narrower column chunks (32 + 8;
// 48 + 5, whose last chunk is narrower than a tile).
const size_t kBatches[] = {1, 3, 40, 53, 64, 257};

struct Case {
  Pattern pattern;
  std::vector<float> weights;
  std::vector<float> bias;
};

Case MakeCase(const Shape& shape, double density, PatternKind kind,
              std::mt19937_64& rng) {
  int d_out = NearestValidOutDegree(shape.n_in, shape.n_out, density);
  // Tiles need d_out to be a multiple of the group size: the nearest such.
  const int g = TileGroupSize(kind);
  if (d_out % g != 0) {
    for (int step = 1;; ++step) {
      if (d_out - step >= g && (d_out - step) % g == 0 &&
          JunctionFromFanOut(0, shape.n_in, shape.n_out, d_out - step).ok()) {
        d_out -= step;
        break;
      }
      if (d_out + step <= shape.n_out && (d_out + step) % g == 0 &&
          JunctionFromFanOut(0, shape.n_in, shape.n_out, d_out + step).ok()) {
        d_out += step;
        break;
      }
    }
  }
  const JunctionSpec spec =
      *JunctionFromFanOut(0, shape.n_in, shape.n_out, d_out);
  auto pattern = GeneratePattern(spec, kind, rng());
  EXPECT_TRUE(pattern.ok()) << pattern.status();
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  Case c{*std::move(pattern), {}, {}};
  c.weights.resize(spec.connections());
  for (float& w : c.weights) w = uniform(rng);
  c.bias.resize(spec.n_out);
  for (float& b : c.bias) b = uniform(rng);
  return c;
}

// Compares y (feature-major, stride `stride`) with the float64 reference of
// the same feature-major x.
void ExpectMatchesReference(const Case& c, bool relu, size_t batch,
                            const std::vector<float>& x, size_t x_stride,
                            const std::vector<float>& y, size_t y_stride) {
  const JunctionSpec& spec = c.pattern.spec();
  for (int o = 0; o < spec.n_out; ++o) {
    const auto row = c.pattern.row(o);
    for (size_t j = 0; j < batch; ++j) {
      double sum = c.bias[o];
      double scale = std::fabs(c.bias[o]);
      for (int k = 0; k < spec.d_in; ++k) {
        const double term =
            double{c.weights[o * spec.d_in + k]} * x[row[k] * x_stride + j];
        sum += term;
        scale += std::fabs(term);
      }
      if (relu && sum < 0) sum = 0;
      ASSERT_NEAR(y[o * y_stride + j], sum, kRelativeTolerance * scale)
          << "output " << o << " column " << j;
    }
  }
}

class KernelTest : public ::testing::TestWithParam<const KernelInfo*> {
 protected:
  void SetUp() override {
    if (!IsaAvailable(GetParam()->isa)) {
      GTEST_SKIP() << "this CPU lacks " << IsaName(GetParam()->isa);
    }
  }

  // Runs one kernel over every shape, density and batch for `kind`.
  void RunAll(PatternKind kind) {
    const KernelInfo& kernel = *GetParam();
    const uint64_t run_seed = std::random_device{}();
    SCOPED_TRACE(absl::StrCat("run seed ", run_seed));
    std::mt19937_64 rng(run_seed);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    const auto& shapes = kind == PatternKind::kBlock
                             ? std::vector<Shape>(std::begin(kBlockShapes),
                                                  std::end(kBlockShapes))
                         : kind == PatternKind::kRandom
                             ? std::vector<Shape>(std::begin(kRandomShapes),
                                                  std::end(kRandomShapes))
                             : std::vector<Shape>(std::begin(kTileShapes),
                                                  std::end(kTileShapes));
    for (const Shape& shape : shapes) {
      for (double density : kDensities) {
        const Case c = MakeCase(shape, density, kind, rng);
        const JunctionSpec& spec = c.pattern.spec();
        SCOPED_TRACE(spec.DebugString());
        auto packed = PackWeights(c.pattern, c.weights, c.bias, kernel.format);
        ASSERT_TRUE(packed.ok()) << packed.status();
        for (bool relu : {false, true}) {
          SCOPED_TRACE(relu ? "relu" : "identity");
          // One sample.
          std::vector<float> x(spec.n_in), y(spec.n_out, NAN);
          for (float& v : x) v = uniform(rng);
          kernel.single(*packed, relu, x.data(), y.data());
          ExpectMatchesReference(c, relu, 1, x, 1, y, 1);
          // Feature-major batches, with strides wider than the batch so that
          // a kernel reading or writing past its columns is caught.
          for (size_t batch : kBatches) {
            SCOPED_TRACE(absl::StrCat("batch ", batch));
            const size_t x_stride = batch + 5, y_stride = batch + 3;
            std::vector<float> xb(spec.n_in * x_stride);
            for (float& v : xb) v = uniform(rng);
            std::vector<float> yb(spec.n_out * y_stride, -12345.0f);
            kernel.batch(*packed, relu, batch, xb.data(), x_stride, yb.data(),
                         y_stride);
            ExpectMatchesReference(c, relu, batch, xb, x_stride, yb, y_stride);
            for (int o = 0; o < spec.n_out; ++o) {
              for (size_t j = batch; j < y_stride; ++j) {
                ASSERT_EQ(yb[o * y_stride + j], -12345.0f) << "wrote padding";
              }
            }
            if (HasFatalFailure()) return;
          }
        }
      }
    }
  }
};

// Every pattern kind the kernel's format can hold.
TEST_P(KernelTest, MatchesFloat64Reference) {
  for (PatternKind kind : {PatternKind::kRandom, PatternKind::kBlock,
                           PatternKind::kTile4, PatternKind::kTile8}) {
    if (!FormatFitsPattern(GetParam()->format, kind)) continue;
    SCOPED_TRACE(PatternKindName(kind));
    RunAll(kind);
    if (HasFatalFailure()) return;
  }
}

// Inputs at the largest magnitude a model accepts at a cut (a decoded int8
// payload: 2 x 65504) times weights of 1e30: outputs near 1e37, which a
// model can hold (common/model/overflow_bound.h). Every kernel keeps them
// finite and as exact as the float64 reference says, in one sample and in
// batches.
TEST_P(KernelTest, ExtremeMagnitudesMatchTheReference) {
  const KernelInfo& kernel = *GetParam();
  const uint64_t run_seed = std::random_device{}();
  SCOPED_TRACE(absl::StrCat("run seed ", run_seed));
  std::mt19937_64 rng(run_seed);
  const PatternKind kind = PatternKindOf(kernel.format);
  const Shape shape = kind == PatternKind::kBlock    ? kBlockShapes[2]
                      : kind == PatternKind::kRandom ? kRandomShapes[0]
                                                     : kTileShapes[2];
  Case c = MakeCase(shape, 0.25, kind, rng);
  for (float& w : c.weights) w *= 1e30f;
  for (float& b : c.bias) b *= 1e30f;
  const JunctionSpec& spec = c.pattern.spec();
  SCOPED_TRACE(spec.DebugString());
  auto packed = PackWeights(c.pattern, c.weights, c.bias, kernel.format);
  ASSERT_TRUE(packed.ok()) << packed.status();
  const float extreme = 131008.0f;
  std::uniform_int_distribution<int> sign(0, 1);
  for (size_t batch : kBatches) {
    SCOPED_TRACE(absl::StrCat("batch ", batch));
    std::vector<float> x(spec.n_in * batch);
    for (float& v : x) v = sign(rng) ? extreme : -extreme;
    std::vector<float> y(spec.n_out * batch);
    if (batch == 1) {
      kernel.single(*packed, /*relu=*/false, x.data(), y.data());
    } else {
      kernel.batch(*packed, /*relu=*/false, batch, x.data(), batch, y.data(),
                   batch);
    }
    for (float v : y) ASSERT_TRUE(std::isfinite(v));
    ExpectMatchesReference(c, /*relu=*/false, batch, x, batch, y, batch);
  }
}

TEST_P(KernelTest, ZeroWeightsGiveBias) {
  const JunctionSpec spec = *JunctionFromDensity(0, 64, 16, 0.5);
  auto pattern = GeneratePattern(spec, PatternKindOf(GetParam()->format), 1);
  ASSERT_TRUE(pattern.ok());
  std::vector<float> weights(spec.connections(), 0.0f), bias(spec.n_out);
  for (int o = 0; o < spec.n_out; ++o) bias[o] = o - 8.0f;
  auto packed = PackWeights(*pattern, weights, bias, GetParam()->format);
  ASSERT_TRUE(packed.ok());
  std::vector<float> x(spec.n_in, 3.0f), y(spec.n_out);
  GetParam()->single(*packed, /*relu=*/true, x.data(), y.data());
  for (int o = 0; o < spec.n_out; ++o) EXPECT_EQ(y[o], std::max(0.0f, bias[o]));
}

INSTANTIATE_TEST_SUITE_P(AllKernels, KernelTest, ::testing::ValuesIn([] {
                           std::vector<const KernelInfo*> kernels;
                           for (const KernelInfo& kernel : AllKernels())
                             kernels.push_back(&kernel);
                           return kernels;
                         }()),
                         [](const auto& info) {
                           return std::string(info.param->name);
                         });

TEST(KernelTableTest, EveryFormatHasAReferenceKernel) {
  for (WeightFormat format :
       {WeightFormat::kSell8, WeightFormat::kBlock8, WeightFormat::kTile4,
        WeightFormat::kTile8, WeightFormat::kDense}) {
    int references = 0;
    for (const KernelInfo& kernel : AllKernels()) {
      references += kernel.format == format && kernel.isa == Isa::kReference;
    }
    EXPECT_EQ(references, 1) << WeightFormatName(format);
  }
}

TEST(KernelTableTest, NamesAreUniqueAndFindable) {
  for (const KernelInfo& kernel : AllKernels()) {
    EXPECT_EQ(FindKernel(kernel.name), &kernel);
  }
  EXPECT_EQ(FindKernel("f32_sell8_sse9"), nullptr);
}

}  // namespace
}  // namespace spex
