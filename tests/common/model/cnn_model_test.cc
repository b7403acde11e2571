// A model with convolutions and poolings (format version 4): it loads, its
// full part equals a float64 evaluation of the file, head then tail equals
// full bit for bit, a batch equals its samples one by one, and each way a
// convolution or a pooling can be wrong gets an error naming it.
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "common/model/model.h"
#include "common/model/model_file.h"
#include "common/sparsity/junction.h"
#include "common/sparsity/pattern.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/model/cnn_test_model.h"

namespace spex {
namespace {

using ::testing::HasSubstr;

constexpr int kSide = 12;

v1::Model MakeCnn(uint64_t seed) { return MakeTestCnn(kSide, seed); }

// ---- a float64 evaluation of the file, straight from model.proto's words.
struct Map {
  int c, h, w;
  std::vector<double> v;  // CHW
};

Map Apply(const v1::Layer& layer, const Map& in) {
  switch (layer.kind()) {
    case v1::LAYER_KIND_CONV2D: {
      const int k = layer.window(), s = layer.stride(), pad = layer.padding();
      const int oh = (in.h + 2 * pad - k) / s + 1;
      const int ow = (in.w + 2 * pad - k) / s + 1;
      const int c_out = layer.n_out(), d_in = layer.d_in();
      const JunctionSpec spec{static_cast<int>(layer.n_in()), c_out, d_in,
                              static_cast<int>(layer.d_out())};
      // Channel rows from the stored pattern.
      std::vector<std::vector<int>> rows(c_out);
      if (layer.pattern() == v1::PATTERN_KIND_DENSE) {
        for (auto& row : rows)
          for (int c = 0; c < spec.n_in; ++c) row.push_back(c);
      } else if (layer.pattern() == v1::PATTERN_KIND_TILE) {
        const int g = layer.group_size();
        for (int o = 0; o < c_out; ++o)
          for (int j = 0; j < d_in; ++j)
            rows[o].push_back(layer.indices((o / g) * d_in + j));
      } else {
        for (int o = 0; o < c_out; ++o)
          for (int j = 0; j < d_in; ++j)
            rows[o].push_back(layer.indices(o * d_in + j));
      }
      Map out{c_out, oh, ow, std::vector<double>(c_out * oh * ow)};
      for (int o = 0; o < c_out; ++o) {
        for (int y = 0; y < oh; ++y) {
          for (int x = 0; x < ow; ++x) {
            double sum = layer.bias(o);
            for (int t = 0; t < k * k; ++t) {
              const int iy = y * s - pad + t / k, ix = x * s - pad + t % k;
              if (iy < 0 || iy >= in.h || ix < 0 || ix >= in.w) continue;
              for (int j = 0; j < d_in; ++j) {
                sum += double{layer.weights((o * k * k + t) * d_in + j)} *
                       in.v[(rows[o][j] * in.h + iy) * in.w + ix];
              }
            }
            out.v[(o * oh + y) * ow + x] = std::max(0.0, sum);
          }
        }
      }
      return out;
    }
    case v1::LAYER_KIND_MAX_POOL:
    case v1::LAYER_KIND_AVERAGE_POOL: {
      const int k = layer.window(), s = layer.stride();
      const int oh = (in.h - k) / s + 1, ow = (in.w - k) / s + 1;
      Map out{in.c, oh, ow, std::vector<double>(in.c * oh * ow)};
      for (int c = 0; c < in.c; ++c) {
        for (int y = 0; y < oh; ++y) {
          for (int x = 0; x < ow; ++x) {
            double best = -1e300, sum = 0;
            for (int t = 0; t < k * k; ++t) {
              const double v =
                  in.v[(c * in.h + y * s + t / k) * in.w + x * s + t % k];
              best = std::max(best, v);
              sum += v;
            }
            out.v[(c * oh + y) * ow + x] =
                layer.kind() == v1::LAYER_KIND_MAX_POOL ? best : sum / (k * k);
          }
        }
      }
      return out;
    }
    case v1::LAYER_KIND_GLOBAL_AVERAGE_POOL: {
      Map out{in.c, 1, 1, std::vector<double>(in.c)};
      for (int c = 0; c < in.c; ++c) {
        for (int p = 0; p < in.h * in.w; ++p)
          out.v[c] += in.v[c * in.h * in.w + p];
        out.v[c] /= in.h * in.w;
      }
      return out;
    }
    default: {  // dense (the only fully connected pattern used here)
      const int n_out = layer.n_out(), n_in = layer.n_in();
      Map out{n_out, 1, 1, std::vector<double>(n_out)};
      for (int o = 0; o < n_out; ++o) {
        double sum = layer.bias(o);
        for (int i = 0; i < n_in; ++i) {
          sum += double{layer.weights(o * n_in + i)} * in.v[i];
        }
        out.v[o] = sum;
      }
      if (layer.activation() == v1::ACTIVATION_SOFTMAX) {
        double top = *std::max_element(out.v.begin(), out.v.end()), total = 0;
        for (double& v : out.v) total += (v = std::exp(v - top));
        for (double& v : out.v) v /= total;
      } else {
        for (double& v : out.v) v = std::max(0.0, v);
      }
      return out;
    }
  }
}

std::vector<float> Pixels(std::mt19937_64& rng) {
  std::uniform_int_distribution<int> pixel(0, 255);
  std::vector<float> raw(kSide * kSide);
  for (float& v : raw) v = static_cast<float>(pixel(rng));
  return raw;
}

TEST(CnnModelTest, FullEqualsTheFileEvaluatedInFloat64) {
  const v1::Model proto = MakeCnn(1);
  EXPECT_EQ(MinimumFormatVersion(proto), 4u);
  auto loaded = Model::FromProto(proto);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const Model& model = **loaded;
  EXPECT_EQ(model.split_width(), 6 * 6 * 4);
  EXPECT_EQ(model.num_classes(), 10);
  const ModelPart& full = model.full();
  Workspace workspace(full);
  std::mt19937_64 rng(std::random_device{}());
  for (int trial = 0; trial < 5; ++trial) {
    const std::vector<float> raw = Pixels(rng);
    std::vector<float> x(model.input().width), y(10), exits(10);
    ASSERT_TRUE(model.input().Apply(raw, x.data()).ok());
    full.Forward(x.data(), y.data(), exits.data(), &workspace);

    Map map{1, kSide, kSide, std::vector<double>(x.begin(), x.end())};
    Map at_exit;
    for (int l = 0; l < proto.layers_size(); ++l) {
      map = Apply(proto.layers(l), map);
      if (l + 1 == 4) at_exit = map;
    }
    for (const v1::Layer& layer : proto.exits(0).layers()) {
      at_exit = Apply(layer, at_exit);
    }
    for (int c = 0; c < 10; ++c) {
      EXPECT_NEAR(y[c], map.v[c], 1e-5) << "class " << c;
      EXPECT_NEAR(exits[c], at_exit.v[c], 1e-5) << "exit class " << c;
    }
  }
}

TEST(CnnModelTest, HeadThenTailIsFullAndBatchesAreSamples) {
  auto loaded = Model::FromProto(MakeCnn(2));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const Model& model = **loaded;
  std::mt19937_64 rng(std::random_device{}());
  constexpr int kBatch = 3;
  const int width = model.input().width;
  const int split = model.split_width();
  Workspace head_ws(model.head()), tail_ws(model.tail()), full_ws(model.full());
  Workspace full_batch_ws(model.full(), kBatch);
  // Channel-major batch input: the image is one channel, so row 0 holds
  // the samples' pixels one after another.
  std::vector<float> batch_x(static_cast<size_t>(kBatch) * width);
  std::vector<std::vector<float>> singles;
  for (int n = 0; n < kBatch; ++n) {
    std::vector<float> x(width);
    ASSERT_TRUE(model.input().Apply(Pixels(rng), x.data()).ok());
    std::copy(x.begin(), x.end(), batch_x.begin() + n * width);
    singles.push_back(x);
  }
  std::vector<float> batch_y(10 * kBatch), batch_exits(10 * kBatch);
  model.full().ForwardBatch(kBatch, batch_x.data(), batch_x.size(),
                            batch_y.data(), kBatch, batch_exits.data(), kBatch,
                            &full_batch_ws);
  for (int n = 0; n < kBatch; ++n) {
    std::vector<float> cut(split), y_split(10), y_full(10), exits(10);
    model.head().Forward(singles[n].data(), cut.data(), exits.data(), &head_ws);
    model.tail().Forward(cut.data(), y_split.data(), nullptr, &tail_ws);
    std::vector<float> full_exits(10);
    model.full().Forward(singles[n].data(), y_full.data(), full_exits.data(),
                         &full_ws);
    EXPECT_EQ(y_split, y_full) << "sample " << n;
    EXPECT_EQ(exits, full_exits) << "sample " << n;
    for (int c = 0; c < 10; ++c) {
      EXPECT_NEAR(batch_y[c * kBatch + n], y_full[c], 1e-6);
      EXPECT_NEAR(batch_exits[c * kBatch + n], full_exits[c], 1e-6);
    }
  }
}

TEST(CnnModelTest, EachProblemIsNamed) {
  const v1::Model valid = MakeCnn(3);
  struct Case {
    std::string name;
    std::function<void(v1::Model*)> mutate;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"version", [](v1::Model* m) { m->set_format_version(3); },
       "format_version: 3, but the model has convolution or pooling layers, "
       "which version 4 added"},
      {"map size", [](v1::Model* m) { m->mutable_layers(2)->set_in_height(7); },
       "layer 3: n_in: 7x6x8 (in_height x in_width x n_in), but its input is "
       "6x6x8"},
      {"kernel", [](v1::Model* m) { m->mutable_layers(2)->set_window(0); },
       "layer 3: kernel: 0 is outside [1, 15]"},
      {"padding", [](v1::Model* m) { m->mutable_layers(2)->set_padding(3); },
       "layer 3: pad: 3 is outside [0, 2]"},
      {"conv weights",
       [](v1::Model* m) {
         m->mutable_layers(2)->mutable_weights()->RemoveLast();
       },
       "layer 3: weights: 575 entries, n_out x window^2 x d_in = 576 needed"},
      {"pool weights",
       [](v1::Model* m) { m->mutable_layers(1)->add_weights(1); },
       "layer 2: pattern: a pooling has degrees 1 and no pattern"},
      {"pool window",
       [](v1::Model* m) { m->mutable_layers(1)->set_window(13); },
       "layer 2: pooling window 13 stride 2 does not fit the 12x12 map"},
      {"flatten width",
       [](v1::Model* m) { m->mutable_layers(6)->set_n_in(17); },
       "layer 7: n_in: 17, but its input has width 16"},
      {"exit flatten",
       [](v1::Model* m) {
         m->mutable_exits(0)->mutable_layers(1)->set_n_in(35);
       },
       "exit 1 layer 2: n_in: 35, but its input has width 36 (3x3x4)"},
      {"kind",
       [](v1::Model* m) {
         m->mutable_layers(1)->set_kind(static_cast<v1::LayerKind>(9));
       },
       "layer 2: kind: unknown value 9"},
      {"huge map", [](v1::Model* m) { m->mutable_layers(0)->set_n_out(40000); },
       "layer 1: 12x12x1 -> 12x12x40000, 3x3 stride 1 pad 1: the output map "
       "(5760000 values) or the patches (1296) exceed 4194304 and 16777216 "
       "per sample"},
      {"padded input",
       [](v1::Model* m) { m->mutable_input()->set_padded_width(150); },
       "input: shape: 12x12 with padded_width 150"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    v1::Model bad = valid;
    c.mutate(&bad);
    SerializeModel(&bad);
    const auto model = Model::FromProto(bad);
    ASSERT_FALSE(model.ok());
    EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(model.status().message()), HasSubstr(c.expected));
  }
}

}  // namespace
}  // namespace spex
