// Predefined-sparse convolutions against a plain float64 convolution, for
// every kernel of the table (each computes the patches of every pattern
// kind its format holds), on fresh random data each run: odd map sizes and
// channel counts, kernels 1, 3 and 5, strides 1 and 2, padding "same" and
// "valid", densities 1/8 to 1, one sample and batches. Pooling the same way.
#include "common/kernels/conv2d.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/kernels/kernel.h"
#include "common/kernels/packed_weights.h"
#include "common/kernels/pooling.h"
#include "common/sparsity/junction.h"
#include "common/sparsity/pattern.h"

namespace spex {
namespace {

constexpr double kRelativeTolerance = 1e-5;

// Channel counts per pattern kind: block needs multiples of 8, tiles
// output counts that are multiples of the group; random takes odd ones.
struct Channels {
  int c_in;
  int c_out;
};
const Channels kRandomChannels[] = {{3, 8}, {5, 7}, {16, 24}};
const Channels kBlockChannels[] = {{8, 16}, {24, 8}};
const Channels kTileChannels[] = {{5, 8}, {16, 24}, {32, 16}};
const double kDensities[] = {1.0 / 8, 1.0 / 4, 1.0 / 2, 1.0};
const size_t kSamples[] = {1, 3};

struct Geometry {
  int h, w, kernel, stride, pad;
};
const Geometry kGeometries[] = {
    {7, 9, 3, 1, 1},  {13, 11, 3, 2, 1}, {9, 7, 5, 1, 2},
    {8, 10, 5, 2, 0}, {7, 5, 1, 1, 0},   {11, 9, 3, 1, 0},
};

// y[o][n][p] in float64, straight from the definition, and beside it the
// sum of the terms' magnitudes: float32 rounding grows with that sum, not
// with |y|, which cancellation can bring near zero.
struct Reference {
  std::vector<double> y;
  std::vector<double> magnitude;
};
Reference ReferenceConv(const Conv2dShape& s, const Pattern& channels,
                        const std::vector<float>& weights,
                        const std::vector<float>& bias, bool relu,
                        size_t samples, const std::vector<float>& x) {
  const int d_in = channels.spec().d_in;
  const size_t in_pixels = s.in_pixels(), out_pixels = s.out_pixels();
  Reference ref;
  ref.y.resize(s.c_out * samples * out_pixels);
  ref.magnitude.resize(ref.y.size());
  for (int o = 0; o < s.c_out; ++o) {
    const auto row = channels.row(o);
    for (size_t n = 0; n < samples; ++n) {
      for (int oy = 0; oy < s.out_h(); ++oy) {
        for (int ox = 0; ox < s.out_w(); ++ox) {
          double sum = bias[o];
          double magnitude = std::fabs(sum);
          for (int ky = 0; ky < s.kernel; ++ky) {
            for (int kx = 0; kx < s.kernel; ++kx) {
              const int iy = oy * s.stride - s.pad + ky;
              const int ix = ox * s.stride - s.pad + kx;
              if (iy < 0 || iy >= s.in_h || ix < 0 || ix >= s.in_w) continue;
              const int t = ky * s.kernel + kx;
              for (int k = 0; k < d_in; ++k) {
                const double w =
                    weights[(static_cast<size_t>(o) * s.taps() + t) * d_in + k];
                const double term = w * x[row[k] * samples * in_pixels +
                                          n * in_pixels + iy * s.in_w + ix];
                sum += term;
                magnitude += std::fabs(term);
              }
            }
          }
          if (relu && sum < 0) sum = 0;
          const size_t at =
              o * samples * out_pixels + n * out_pixels + oy * s.out_w() + ox;
          ref.y[at] = sum;
          ref.magnitude[at] = magnitude;
        }
      }
    }
  }
  return ref;
}

class Conv2dTest : public ::testing::TestWithParam<const KernelInfo*> {
 protected:
  void SetUp() override {
    if (!IsaAvailable(GetParam()->isa)) {
      GTEST_SKIP() << "this CPU lacks " << IsaName(GetParam()->isa);
    }
  }
};

TEST_P(Conv2dTest, MatchesFloat64Reference) {
  const KernelInfo& kernel = *GetParam();
  const uint64_t run_seed = std::random_device{}();
  SCOPED_TRACE(absl::StrCat("run seed ", run_seed));
  std::mt19937_64 rng(run_seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  LayerOptions options;
  options.kernel = std::string(kernel.name);
  for (PatternKind kind : {PatternKind::kRandom, PatternKind::kBlock,
                           PatternKind::kTile4, PatternKind::kTile8}) {
    if (!FormatFitsPattern(kernel.format, kind)) continue;
    SCOPED_TRACE(PatternKindName(kind));
    int junctions = 0;  // channel patterns tested
    const auto& channel_list =
        kind == PatternKind::kRandom
            ? std::vector<Channels>(std::begin(kRandomChannels),
                                    std::end(kRandomChannels))
        : kind == PatternKind::kBlock
            ? std::vector<Channels>(std::begin(kBlockChannels),
                                    std::end(kBlockChannels))
            : std::vector<Channels>(std::begin(kTileChannels),
                                    std::end(kTileChannels));
    for (const Channels& ch : channel_list) {
      for (double density : kDensities) {
        // The nearest out-degree that the kind fits.
        const int group = TileGroupSize(kind);
        int d_out = NearestValidOutDegree(ch.c_in, ch.c_out, density);
        while (d_out <= ch.c_out &&
               (d_out % group != 0 ||
                !JunctionFromFanOut(0, ch.c_in, ch.c_out, d_out).ok())) {
          ++d_out;
        }
        if (d_out > ch.c_out) continue;
        const JunctionSpec spec =
            *JunctionFromFanOut(0, ch.c_in, ch.c_out, d_out);
        absl::StatusOr<Pattern> channels = GeneratePattern(spec, kind, rng());
        if (!channels.ok()) continue;  // e.g. block at a density it lacks
        ++junctions;
        for (const Geometry& g : kGeometries) {
          Conv2dShape shape{g.h,      g.w,      ch.c_in, ch.c_out,
                            g.kernel, g.stride, g.pad};
          SCOPED_TRACE(
              absl::StrCat(shape.DebugString(), ", ", spec.DebugString()));
          std::vector<float> weights(spec.connections() * shape.taps());
          for (float& w : weights) w = uniform(rng);
          std::vector<float> bias(ch.c_out);
          for (float& b : bias) b = uniform(rng);
          for (bool relu : {false, true}) {
            auto layer = Conv2dLayer::Create(
                shape, *channels, weights, bias,
                relu ? Activation::kRelu : Activation::kIdentity, options);
            ASSERT_TRUE(layer.ok()) << layer.status();
            EXPECT_EQ((*layer)->macs(), int64_t{shape.out_pixels()} * ch.c_out *
                                            spec.d_in * shape.taps());
            // One sample at stride 1 reads shifted planes wherever the
            // format lists its inputs, so samples == 1 below tests them.
            EXPECT_EQ((*layer)->reads_shifted_planes(),
                      shape.stride == 1 && shape.kernel > 1 &&
                          (kernel.format == WeightFormat::kSell8 ||
                           kernel.format == WeightFormat::kTile4 ||
                           kernel.format == WeightFormat::kTile8));
            for (size_t samples : kSamples) {
              const size_t in_cols = samples * shape.in_pixels();
              const size_t out_cols = samples * shape.out_pixels();
              std::vector<float> x(ch.c_in * in_cols);
              for (float& v : x) v = uniform(rng);
              // Output rows wider than the columns: nothing written past.
              const size_t y_stride = out_cols + 3;
              std::vector<float> y(ch.c_out * y_stride, -12345.0f);
              std::vector<float> scratch((*layer)->ScratchFloats(samples));
              (*layer)->Forward(samples, x.data(), in_cols, y.data(), y_stride,
                                scratch.data());
              const Reference want = ReferenceConv(shape, *channels, weights,
                                                   bias, relu, samples, x);
              for (int o = 0; o < ch.c_out; ++o) {
                for (size_t j = 0; j < out_cols; ++j) {
                  const double expected = want.y[o * out_cols + j];
                  const double scale = 1.0 + want.magnitude[o * out_cols + j];
                  ASSERT_NEAR(y[o * y_stride + j], expected,
                              kRelativeTolerance * scale)
                      << "channel " << o << " column " << j << ", " << samples
                      << " samples";
                }
                for (size_t j = out_cols; j < y_stride; ++j) {
                  ASSERT_EQ(y[o * y_stride + j], -12345.0f) << "wrote padding";
                }
              }
            }
          }
        }
      }
    }
    // Every kind is tested at several densities, not skipped.
    EXPECT_GE(junctions, 4);
  }
}

INSTANTIATE_TEST_SUITE_P(AllKernels, Conv2dTest, ::testing::ValuesIn([] {
                           std::vector<const KernelInfo*> kernels;
                           for (const KernelInfo& kernel : AllKernels())
                             kernels.push_back(&kernel);
                           return kernels;
                         }()),
                         [](const auto& info) {
                           return std::string(info.param->name);
                         });

// A map large enough that each sample is its own kernel call (over 1,024
// columns): a batch of them matches the reference sample by sample.
TEST(Conv2dLayerTest, BatchesOfLargeMapsRunSampleBySample) {
  std::mt19937_64 rng(std::random_device{}());
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  const Conv2dShape shape{40, 30, 16, 32, 3, 1, 1};
  const JunctionSpec spec = *JunctionFromFanOut(0, 16, 32, 8);
  for (PatternKind kind : {PatternKind::kRandom, PatternKind::kTile8}) {
    const Pattern channels = *GeneratePattern(spec, kind, rng());
    std::vector<float> weights(spec.connections() * shape.taps());
    for (float& w : weights) w = uniform(rng);
    std::vector<float> bias(shape.c_out);
    for (float& b : bias) b = uniform(rng);
    auto layer =
        Conv2dLayer::Create(shape, channels, weights, bias, Activation::kRelu);
    ASSERT_TRUE(layer.ok()) << layer.status();
    constexpr size_t kSamplesInBatch = 3;
    // Scratch for one sample's patches: each sample is one call.
    EXPECT_EQ((*layer)->ScratchFloats(kSamplesInBatch),
              (*layer)->ScratchFloats(1));
    const size_t in_cols = kSamplesInBatch * shape.in_pixels();
    const size_t out_cols = kSamplesInBatch * shape.out_pixels();
    std::vector<float> x(shape.c_in * in_cols);
    for (float& v : x) v = uniform(rng);
    std::vector<float> y(shape.c_out * out_cols);
    std::vector<float> scratch((*layer)->ScratchFloats(kSamplesInBatch));
    (*layer)->Forward(kSamplesInBatch, x.data(), in_cols, y.data(), out_cols,
                      scratch.data());
    const Reference want =
        ReferenceConv(shape, channels, weights, bias, true, kSamplesInBatch, x);
    for (size_t i = 0; i < y.size(); ++i) {
      ASSERT_NEAR(y[i], want.y[i],
                  kRelativeTolerance * (1.0 + want.magnitude[i]))
          << "value " << i;
    }
  }
}

// Shifted planes whose rows a packed index cannot number (3 x 1,024
// channels x 22 rows > 65,536): the layer reads patches instead, and still
// matches the reference.
TEST(Conv2dLayerTest, PlanesPastTheIndexRangeFallBackToPatches) {
  std::mt19937_64 rng(std::random_device{}());
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  const Conv2dShape shape{20, 20, 1024, 8, 3, 1, 1};
  const JunctionSpec spec = *JunctionFromFanOut(0, 1024, 8, 4);
  const Pattern channels = *GeneratePattern(spec, PatternKind::kTile4, rng());
  std::vector<float> weights(spec.connections() * shape.taps());
  for (float& w : weights) w = uniform(rng);
  std::vector<float> bias(shape.c_out);
  for (float& b : bias) b = uniform(rng);
  auto layer = Conv2dLayer::Create(shape, channels, weights, bias,
                                   Activation::kIdentity);
  ASSERT_TRUE(layer.ok()) << layer.status();
  EXPECT_FALSE((*layer)->reads_shifted_planes());
  std::vector<float> x(shape.c_in * shape.in_pixels());
  for (float& v : x) v = uniform(rng);
  std::vector<float> y(shape.c_out * shape.out_pixels());
  std::vector<float> scratch((*layer)->ScratchFloats(1));
  (*layer)->Forward(1, x.data(), shape.in_pixels(), y.data(),
                    shape.out_pixels(), scratch.data());
  const Reference want =
      ReferenceConv(shape, channels, weights, bias, false, 1, x);
  for (size_t i = 0; i < y.size(); ++i) {
    ASSERT_NEAR(y[i], want.y[i], kRelativeTolerance * (1.0 + want.magnitude[i]))
        << "value " << i;
  }
}

TEST(Conv2dShapeTest, OutputSizesAndErrors) {
  Conv2dShape same{28, 28, 1, 32, 3, 1, 1};
  EXPECT_TRUE(CheckConv2dShape(same).ok());
  EXPECT_EQ(same.out_h(), 28);
  EXPECT_EQ(same.out_w(), 28);
  Conv2dShape strided{13, 11, 8, 8, 3, 2, 1};
  EXPECT_EQ(strided.out_h(), 7);
  EXPECT_EQ(strided.out_w(), 6);
  Conv2dShape valid{9, 7, 4, 4, 5, 1, 0};
  EXPECT_EQ(valid.out_h(), 5);
  EXPECT_EQ(valid.out_w(), 3);
  Conv2dShape bad = same;
  bad.pad = 3;
  EXPECT_EQ(CheckConv2dShape(bad).message(), "pad: 3 is outside [0, 2]");
  bad = same;
  bad.stride = 0;
  EXPECT_EQ(CheckConv2dShape(bad).message(), "stride: 0 is outside [1, 3]");
  bad = {2, 2, 1, 1, 5, 1, 1};
  EXPECT_EQ(CheckConv2dShape(bad).message(),
            "kernel: 5x5 does not fit the 2x2 input padded by 1");
}

TEST(Conv2dShapeTest, ExpandedPatternKeepsKindAndDegrees) {
  const JunctionSpec spec = *JunctionFromFanOut(0, 16, 24, 6);
  for (PatternKind kind : {PatternKind::kRandom, PatternKind::kBlock,
                           PatternKind::kTile4, PatternKind::kTile8}) {
    SCOPED_TRACE(PatternKindName(kind));
    absl::StatusOr<Pattern> channels = GeneratePattern(spec, kind, 7);
    if (!channels.ok()) continue;
    absl::StatusOr<Pattern> patches = ExpandChannelPattern(*channels, 9);
    ASSERT_TRUE(patches.ok()) << patches.status();
    EXPECT_EQ(patches->kind(), kind);
    EXPECT_EQ(patches->spec().n_in, 16 * 9);
    EXPECT_EQ(patches->spec().d_in, spec.d_in * 9);
    EXPECT_EQ(patches->spec().d_out, spec.d_out);
    // Output o reads feature t * 16 + c for each tap t and channel c.
    for (int o = 0; o < 24; ++o) {
      const auto row = channels->row(o);
      const auto expanded = patches->row(o);
      for (int t = 0; t < 9; ++t) {
        for (int k = 0; k < spec.d_in; ++k) {
          ASSERT_EQ(expanded[t * spec.d_in + k], t * 16 + row[k]);
        }
      }
    }
  }
}

// Max, average and global average pooling against their definitions.
TEST(Pool2dTest, MatchesTheDefinition) {
  std::mt19937_64 rng(std::random_device{}());
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  const Pool2dShape shapes[] = {{28, 28, 3, false, 2, 2},
                                {7, 9, 5, false, 3, 2},
                                {13, 11, 2, false, 2, 1},
                                {7, 7, 4, true, 0, 0}};
  for (const Pool2dShape& shape : shapes) {
    SCOPED_TRACE(shape.DebugString());
    ASSERT_TRUE(CheckPool2dShape(shape).ok());
    for (size_t samples : kSamples) {
      for (PoolKind kind : {PoolKind::kMax, PoolKind::kAverage}) {
        const size_t in_cols = samples * shape.in_pixels();
        const size_t out_cols = samples * shape.out_pixels();
        std::vector<float> x(shape.channels * in_cols);
        for (float& v : x) v = uniform(rng);
        std::vector<float> y(shape.channels * out_cols);
        Pool2d(shape, kind, samples, x.data(), in_cols, y.data(), out_cols);
        const int window_h = shape.global ? shape.in_h : shape.window;
        const int window_w = shape.global ? shape.in_w : shape.window;
        const int stride = shape.global ? 1 : shape.stride;
        for (int c = 0; c < shape.channels; ++c) {
          for (size_t n = 0; n < samples; ++n) {
            for (int oy = 0; oy < shape.out_h(); ++oy) {
              for (int ox = 0; ox < shape.out_w(); ++ox) {
                double best = -1e30, sum = 0;
                for (int wy = 0; wy < window_h; ++wy) {
                  for (int wx = 0; wx < window_w; ++wx) {
                    const double v =
                        x[c * in_cols + n * shape.in_pixels() +
                          (oy * stride + wy) * shape.in_w + ox * stride + wx];
                    best = std::max(best, v);
                    sum += v;
                  }
                }
                const double want =
                    kind == PoolKind::kMax ? best : sum / (window_h * window_w);
                ASSERT_NEAR(y[c * out_cols + n * shape.out_pixels() +
                              oy * shape.out_w() + ox],
                            want, 1e-6);
              }
            }
          }
        }
      }
    }
  }
  Pool2dShape too_big{3, 3, 1, false, 4, 1};
  EXPECT_EQ(CheckPool2dShape(too_big).message(),
            "pooling window 4 stride 1 does not fit the 3x3 map");
}

// The trainer's input gradients: Col2ImAdd is Im2Col's adjoint and
// Pool2dBackward is the pooling's (a max pooling is linear where its
// maxima do not change hands): <forward(x), g> = <x, backward(g)> for
// random x and g, in float64.
double Dot(const std::vector<float>& a, const std::vector<float>& b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += double{a[i]} * b[i];
  return sum;
}

TEST(TrainingGradientTest, Col2ImIsTheAdjointOfIm2Col) {
  std::mt19937_64 rng(std::random_device{}());
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (const Conv2dShape& shape :
       {Conv2dShape{7, 9, 3, 1, 3, 1, 1}, Conv2dShape{8, 8, 2, 1, 3, 2, 1},
        Conv2dShape{11, 6, 2, 1, 5, 2, 2}, Conv2dShape{5, 5, 4, 1, 1, 1, 0},
        Conv2dShape{9, 9, 1, 1, 3, 1, 0}}) {
    SCOPED_TRACE(shape.DebugString());
    for (size_t samples : kSamples) {
      const size_t x_stride = samples * shape.in_pixels();
      const size_t cols = samples * shape.out_pixels();
      std::vector<float> x(shape.c_in * x_stride),
          g(shape.taps() * shape.c_in * cols);
      for (float& v : x) v = uniform(rng);
      for (float& v : g) v = uniform(rng);
      std::vector<float> patches(g.size());
      Im2Col(shape, samples, x.data(), x_stride, patches.data(), cols);
      std::vector<float> back(x.size(), 0.0f);
      Col2ImAdd(shape, samples, g.data(), cols, back.data(), x_stride);
      const double lhs = Dot(patches, g), rhs = Dot(x, back);
      EXPECT_NEAR(lhs, rhs, 1e-4 * (1 + std::fabs(lhs)));
    }
  }
}

TEST(TrainingGradientTest, PoolingGradientsAreTheAdjoint) {
  std::mt19937_64 rng(std::random_device{}());
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (const Pool2dShape& shape :
       {Pool2dShape{8, 8, 3, false, 2, 2}, Pool2dShape{7, 9, 2, false, 2, 2},
        Pool2dShape{7, 9, 2, false, 3, 2}, Pool2dShape{6, 5, 2, false, 2, 1},
        Pool2dShape{7, 7, 4, true, 0, 0}}) {
    SCOPED_TRACE(shape.DebugString());
    for (size_t samples : kSamples) {
      for (PoolKind kind : {PoolKind::kMax, PoolKind::kAverage}) {
        const size_t in_cols = samples * shape.in_pixels();
        const size_t out_cols = samples * shape.out_pixels();
        std::vector<float> x(shape.channels * in_cols),
            g(shape.channels * out_cols), y(g.size());
        for (float& v : x) v = uniform(rng);
        for (float& v : g) v = uniform(rng);
        Pool2d(shape, kind, samples, x.data(), in_cols, y.data(), out_cols);
        std::vector<float> back(x.size(), 7.0f);  // overwritten
        Pool2dBackward(shape, kind, samples, x.data(), in_cols, g.data(),
                       out_cols, back.data(), in_cols);
        const double lhs = Dot(y, g), rhs = Dot(x, back);
        EXPECT_NEAR(lhs, rhs, 1e-4 * (1 + std::fabs(lhs)));
      }
    }
  }
}

}  // namespace
}  // namespace spex
