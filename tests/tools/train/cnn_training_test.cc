// Training convolutional networks: the trainer's forward pass equals the
// runtime's, its gradients equal finite differences of its loss, a sparse
// convolution's gradients equal its dense twin's under the same mask, and
// a small CNN learns.
#include <algorithm>
#include <cmath>
#include <random>

#include "common/model/model.h"
#include "common/model/model_file.h"
#include "common/model/model_init.h"
#include "gtest/gtest.h"
#include "tests/common/model/cnn_test_model.h"
#include "tests/common/model/test_models.h"
#include "tests/support/every_pattern_kind.h"
#include "tests/tools/train/bar_images.h"
#include "tools/train/network.h"
#include "tools/train/trainer.h"

namespace spex {
namespace {

std::vector<float> RandomInput(size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

// The losses of one batch, exits weighted by their loss weights, over the
// batch size; the gradients land in `state`.
double Loss(const TrainNetwork& network, const v1::Model& model,
            const std::vector<float>& x, const std::vector<uint8_t>& labels,
            BatchState* state) {
  const int batch = static_cast<int>(labels.size());
  std::copy(x.begin(), x.end(), state->backbone[0].begin());
  for (auto& g : state->backbone_gradients) g.Zero();
  for (auto& e : state->exit_gradients)
    for (auto& g : e) g.Zero();
  const LossReport r = network.Step(batch, labels.data(), batch, state);
  double total = r.final_loss;
  for (size_t e = 0; e < r.exit_loss.size(); ++e) {
    total += r.exit_loss[e] * model.exits(static_cast<int>(e)).loss_weight();
  }
  return total / batch;
}

v1::Model SmallCnn(PatternKind kind, bool dense, uint64_t seed,
                   bool conv_exit = false);

// The test CNN (a linear exit) and one whose exit is a convolution block.
TEST(CnnTrainingTest, TheTrainersForwardPassEqualsTheRuntimes) {
  for (uint64_t seed : {1, 2, 3, 4}) {
    const bool conv_exit = seed > 2;
    v1::Model proto = conv_exit
                          ? SmallCnn(PatternKind::kTile4, false, seed, true)
                          : MakeTestCnn(12, seed);
    SCOPED_TRACE(conv_exit ? "an exit with a convolution" : "a linear exit");
    SerializeModel(&proto);  // gives it its id, as a saved model has
    auto model = Model::FromProto(proto);
    ASSERT_TRUE(model.ok()) << model.status();
    auto network = TrainNetwork::FromModel(proto);
    ASSERT_TRUE(network.ok()) << network.status();
    const int batch = 3, pixels = conv_exit ? 100 : 144,
              classes = conv_exit ? 4 : 10;
    std::mt19937 rng(static_cast<uint32_t>(seed));
    const std::vector<float> x = RandomInput(batch * pixels, rng);
    BatchState state = (*network)->NewState(batch);
    std::copy(x.begin(), x.end(), state.backbone[0].begin());
    std::vector<float> probs;
    std::vector<std::vector<float>> exit_probs;
    (*network)->Predict(batch, &state, &probs, &exit_probs);
    ASSERT_EQ(exit_probs.size(), 1u);
    const ModelPart& full = (*model)->full();
    Workspace workspace(full);
    for (int j = 0; j < batch; ++j) {
      std::vector<float> y(classes), exit(classes);
      full.Forward(x.data() + j * pixels, y.data(), exit.data(), &workspace);
      for (int c = 0; c < classes; ++c) {
        EXPECT_NEAR(probs[c * batch + j], y[c], 1e-5) << "sample " << j;
        EXPECT_NEAR(exit_probs[0][c * batch + j], exit[c], 1e-5)
            << "sample " << j;
      }
    }
  }
}

// One layer of a batch's pass: the layer, its description, what it read
// and what it wrote.
struct PassStep {
  const TrainLayer* layer;
  const v1::Layer* proto;
  const TrainBuffer* in;
  const TrainBuffer* out;
};

// Every layer of the pass, the backbone's then each exit's (in the order
// TrainNetwork::layers() lists them).
std::vector<PassStep> PassSteps(const std::vector<TrainLayer*>& layers,
                                const v1::Model& proto,
                                const BatchState& state) {
  std::vector<PassStep> steps;
  size_t next = 0;
  for (int l = 0; l < proto.layers_size(); ++l) {
    steps.push_back({layers[next++], &proto.layers(l), &state.backbone[l],
                     &state.backbone[l + 1]});
  }
  for (int e = 0; e < proto.exits_size(); ++e) {
    const v1::ExitBranch& exit = proto.exits(e);
    const TrainBuffer* in = &state.backbone[exit.after_layer()];
    for (int l = 0; l < exit.layers_size(); ++l) {
      const TrainBuffer* out = &state.exits[e][l];
      steps.push_back({layers[next++], &exit.layers(l), in, out});
      in = out;
    }
  }
  return steps;
}

// Which ReLUs are on and which input of each max pooling's window wins:
// the piece of the piecewise-linear network a probe is in.
std::vector<int> Regime(const std::vector<PassStep>& steps, int batch) {
  std::vector<int> regime;
  for (const PassStep& step : steps) {
    const TrainBuffer& in = *step.in;
    const TrainBuffer& out = *step.out;
    const size_t n_out = static_cast<size_t>(step.layer->n_out()) * batch;
    if (step.layer->relu()) {
      for (size_t i = 0; i < n_out; ++i) regime.push_back(out[i] > 0);
    }
    if (step.proto->kind() != v1::LAYER_KIND_MAX_POOL) continue;
    const ActivationShape& a = step.layer->in_shape();
    const ActivationShape& b = step.layer->out_shape();
    const int window = a.height / b.height;
    for (size_t row = 0; row < static_cast<size_t>(b.channels) * batch; ++row) {
      for (int p = 0; p < b.pixels(); ++p) {
        const float* corner = &in[row * a.pixels()] +
                              (p / b.width) * window * a.width +
                              (p % b.width) * window;
        int first = 0;
        while (corner[(first / window) * a.width + first % window] !=
               out[row * b.pixels() + p]) {
          ++first;
        }
        regime.push_back(first);
      }
    }
  }
  return regime;
}

// Central differences of the loss: a probe whose step changes the regime
// measures a kink, not the gradient, and is skipped. Two networks: the
// test CNN (a linear exit) and one whose exit is a convolution block
// (1x1 convolution, max pooling, classifier) on a 10x10 map.
TEST(CnnTrainingTest, GradientsMatchFiniteDifferences) {
  std::mt19937 rng(std::random_device{}());
  const struct {
    v1::Model proto;
    int pixels;
    int classes;
    int with_weights;  // layers with weights, exits' included
  } cases[] = {
      {MakeTestCnn(12, rng()), 144, 10, 6},  // 4 convolutions, 2 fc
      {SmallCnn(PatternKind::kTile4, false, rng(), true), 100, 4, 7},
  };
  for (const auto& c : cases) {
    const v1::Model& proto = c.proto;
    SCOPED_TRACE(c.with_weights);
    auto network = TrainNetwork::FromModel(proto);
    ASSERT_TRUE(network.ok()) << network.status();
    const int batch = 2;
    std::vector<TrainLayer*> layers = (*network)->layers();
    int with_weights = 0;
    for (size_t l = 0; l < layers.size(); ++l)
      with_weights += !layers[l]->weights().empty();
    EXPECT_EQ(with_weights, c.with_weights);
    // How many probes a draw puts on kinks depends on it (a third on
    // average; a draw with a first-layer channel near zero everywhere puts
    // most of that layer's probes there): a draw with too few probes off
    // kinks is drawn again, while a wrong gradient fails on every draw.
    int checked = 0, skipped = 0;
    for (int draw = 0; draw < 4 && (draw == 0 || checked < 2 * skipped);
         ++draw) {
      checked = skipped = 0;
      std::vector<uint8_t> labels(batch);
      for (auto& l : labels) l = static_cast<uint8_t>(rng() % c.classes);
      const std::vector<float> x = RandomInput(c.pixels * batch, rng);
      BatchState state = (*network)->NewState(batch);
      Loss(**network, proto, x, labels, &state);
      std::vector<JunctionGradients> analytic = state.backbone_gradients;
      for (auto& e : state.exit_gradients)
        for (auto& g : e) analytic.push_back(g);
      const std::vector<PassStep> steps = PassSteps(layers, proto, state);
      const std::vector<int> base = Regime(steps, batch);
      for (size_t l = 0; l < layers.size(); ++l) {
        for (bool bias : {false, true}) {
          TrainBuffer& w = bias ? layers[l]->bias() : layers[l]->weights();
          if (w.empty()) continue;
          for (int trial = 0; trial < 8; ++trial) {
            const size_t i = rng() % w.size();
            const float saved = w[i];
            bool same = true;
            const auto at = [&](float h) {
              w[i] = saved + h;
              (*network)->Prepare();
              const double loss = Loss(**network, proto, x, labels, &state);
              same = same && Regime(steps, batch) == base;
              return loss;
            };
            const float h = 2e-3f;
            const double numeric = (at(h) - at(-h)) / (2 * h);
            w[i] = saved;
            (*network)->Prepare();
            if (!same) {
              ++skipped;
              continue;
            }
            const JunctionGradients& g = analytic[l];
            EXPECT_NEAR(bias ? g.bias[i] : g.weights[i], numeric,
                        1e-3 + 0.02 * std::fabs(numeric))
                << "layer " << l << (bias ? " bias " : " weight ") << i;
            ++checked;
          }
        }
      }
    }
    EXPECT_GE(checked, 2 * skipped)
        << checked << " checked, " << skipped << " on kinks";
  }
}

// A 10x10 image -> conv 3x3 8 (dense) -> conv 3x3 16 -> max pool 2 ->
// conv 1x1 16 -> conv 3x3 stride 2 16 -> global average -> fully connected
// 4: its middle convolutions of the given kind at fan-out 8 of 16 channels
// (so every way a convolution reads its patches is here: shifted planes
// for a tile kind, im2col, the input in place). Its exit reads the pooled
// 5x5x16 map: a linear classifier, or with `conv_exit` a block of its own
// (1x1 convolution to 8 channels at fan-out 4, 2x2 max pooling, classifier).
v1::Model SmallCnn(PatternKind kind, bool dense, uint64_t seed,
                   bool conv_exit) {
  ModelTopology t;
  t.input_shape = {10, 10};
  t.input_scale = 1.0f / 255;
  const int fo = dense ? 16 : 8;
  LayerGeometry conv3{v1::LAYER_KIND_CONV2D, 3, 1, 1};
  LayerGeometry conv3s2{v1::LAYER_KIND_CONV2D, 3, 2, 1};
  LayerGeometry conv1{v1::LAYER_KIND_CONV2D, 1, 1, 0};
  LayerGeometry pool{v1::LAYER_KIND_MAX_POOL, 2, 2, 0};
  LayerGeometry gap{v1::LAYER_KIND_GLOBAL_AVERAGE_POOL, 0, 1, 0};
  t.backbone = {{1, 8, 16, 16, 16, 16, 16, 4},
                {8, fo, 1, fo, fo, 1, 4},
                {conv3, conv3, pool, conv1, conv3s2, gap, {}}};
  t.split_after = 3;
  t.exits = {{3, {4}, {4}, 0.5f}};
  if (conv_exit) {
    t.exits = {{3, {8, 8, 4}, {dense ? 8 : 4, 8, 4}, 0.5f, {conv1, pool, {}}}};
  }
  t.pattern = kind;
  return *InitializeModel(t, seed);
}

class SparseConvolutionTest : public testing::TestWithParam<PatternKind> {};

// The sparse network and its dense twin with zeros where no connection is:
// the same loss, and the gradient of every connection that exists equal.
TEST_P(SparseConvolutionTest, GradientsEqualTheMaskedDenseTwins) {
  std::mt19937 rng(std::random_device{}());
  const v1::Model sparse = SmallCnn(GetParam(), false, rng());
  v1::Model dense = SmallCnn(GetParam(), true, rng());
  // Copy the sparse weights into the twin through the channel rows.
  struct Mapping {
    int layer;
    std::vector<int> dense_index;  // per sparse weight
  };
  std::vector<Mapping> mappings;
  for (int l = 0; l < sparse.layers_size(); ++l) {
    const v1::Layer& s = sparse.layers(l);
    v1::Layer* d = dense.mutable_layers(l);
    d->mutable_bias()->CopyFrom(s.bias());
    if (s.weights().empty()) continue;
    Mapping mapping{l, {}};
    const int taps = s.kind() == v1::LAYER_KIND_CONV2D
                         ? static_cast<int>(s.window() * s.window())
                         : 1;
    const std::vector<std::vector<int>> rows = RowsOf(s);
    std::fill(d->mutable_weights()->begin(), d->mutable_weights()->end(), 0.0f);
    for (uint32_t o = 0; o < s.n_out(); ++o) {
      for (int t = 0; t < taps; ++t) {
        for (uint32_t k = 0; k < s.d_in(); ++k) {
          const int from = (o * taps + t) * s.d_in() + k;
          const int to = (o * taps + t) * s.n_in() + rows[o][k];
          d->set_weights(to, s.weights(from));
          mapping.dense_index.push_back(to);
        }
      }
    }
    mappings.push_back(std::move(mapping));
  }
  for (int e = 0; e < sparse.exits_size(); ++e) {
    *dense.mutable_exits(e) = sparse.exits(e);  // dense already
  }
  ASSERT_NE(sparse.layers(1).pattern(), v1::PATTERN_KIND_DENSE);
  auto sparse_net = TrainNetwork::FromModel(sparse);
  auto dense_net = TrainNetwork::FromModel(dense);
  ASSERT_TRUE(sparse_net.ok()) << sparse_net.status();
  ASSERT_TRUE(dense_net.ok()) << dense_net.status();
  // 45 samples: the 10x10 convolutions take them in two slices.
  for (int batch : {1, 3, 45}) {
    BatchState s_state = (*sparse_net)->NewState(batch);
    BatchState d_state = (*dense_net)->NewState(batch);
    double s_loss = 0, d_loss = 0;
    // The twins add their terms in different orders, so a pre-activation
    // within a rounding of zero (or two pooled values within a rounding of
    // each other) can fall on different sides of the kink in the two, and
    // the gradients then differ by a whole path, not a rounding. Such a
    // draw is drawn again; a real difference shows on every draw.
    bool same_regime = false;
    for (int draw = 0; draw < 4 && !same_regime; ++draw) {
      std::vector<uint8_t> labels(batch);
      for (auto& l : labels) l = static_cast<uint8_t>(rng() % 4);
      const std::vector<float> x = RandomInput(100 * batch, rng);
      s_loss = Loss(**sparse_net, sparse, x, labels, &s_state);
      d_loss = Loss(**dense_net, dense, x, labels, &d_state);
      same_regime =
          Regime(PassSteps((*sparse_net)->layers(), sparse, s_state), batch) ==
          Regime(PassSteps((*dense_net)->layers(), dense, d_state), batch);
    }
    ASSERT_TRUE(same_regime) << "the twins' ReLUs or poolings differ";
    EXPECT_NEAR(s_loss, d_loss, 1e-4 * std::max(1.0, std::fabs(d_loss)));
    for (const Mapping& m : mappings) {
      const JunctionGradients& gs = s_state.backbone_gradients[m.layer];
      const JunctionGradients& gd = d_state.backbone_gradients[m.layer];
      for (size_t i = 0; i < m.dense_index.size(); ++i) {
        ASSERT_NEAR(gs.weights[i], gd.weights[m.dense_index[i]],
                    1e-4 + 1e-3 * std::fabs(gd.weights[m.dense_index[i]]))
            << "layer " << m.layer << " weight " << i << " batch " << batch;
      }
      for (size_t o = 0; o < gs.bias.size(); ++o) {
        ASSERT_NEAR(gs.bias[o], gd.bias[o],
                    1e-4 + 1e-3 * std::fabs(gd.bias[o]));
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(EveryPatternKind, SparseConvolutionTest,
                         EveryPatternKind(), PatternKindTestName);

// Eight epochs of the bar images in batches of 32, on two threads.
TrainOptions BarImageOptions() {
  TrainOptions options;
  options.epochs = 8;
  options.batch_size = 32;
  options.learning_rate = 3e-3f;
  options.threads = 2;
  options.show_progress = false;
  return options;
}

TEST(CnnTrainingTest, ASparseCnnLearnsWithAugmentationAndACosineSchedule) {
  const Dataset train = BarImages(600, 1, 10, 1),
                validation = BarImages(200, 2, 10, 1);
  v1::Model model = SmallCnn(PatternKind::kTile4, false, 3);
  TrainOptions options = BarImageOptions();
  options.schedule = LrSchedule::kCosine;
  options.shift = 1;
  options.flip = true;
  auto result = Train(train, validation, options, &model);
  ASSERT_TRUE(result.ok()) << result.status();
  auto accuracy = TrainerAccuracy(model, validation);
  ASSERT_TRUE(accuracy.ok());
  EXPECT_GT(accuracy->final_accuracy, 0.9);
  // The same seed gives the same model, whatever the thread timing.
  v1::Model again = SmallCnn(PatternKind::kTile4, false, 3);
  ASSERT_TRUE(Train(train, validation, options, &again).ok());
  EXPECT_EQ(SerializeModel(&model), SerializeModel(&again));
}

// An exit that is a convolution block of its own learns jointly with the
// backbone.
TEST(CnnTrainingTest, AnExitAfterAConvolutionBlockLearns) {
  const Dataset train = BarImages(600, 1, 10, 1),
                validation = BarImages(200, 2, 10, 1);
  v1::Model model = SmallCnn(PatternKind::kTile4, false, 5, true);
  auto result = Train(train, validation, BarImageOptions(), &model);
  ASSERT_TRUE(result.ok()) << result.status();
  auto accuracy = TrainerAccuracy(model, validation);
  ASSERT_TRUE(accuracy.ok());
  EXPECT_GT(accuracy->final_accuracy, 0.9);
  ASSERT_EQ(accuracy->exit_accuracy.size(), 1u);
  EXPECT_GT(accuracy->exit_accuracy[0], 0.9);
}

}  // namespace
}  // namespace spex
