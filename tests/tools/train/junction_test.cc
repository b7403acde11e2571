// The trainer's sparse backward against finite differences and against the
// dense (Eigen) path with the same mask.
#include "tools/train/junction.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <random>

#include "common/model/model_init.h"
#include "gtest/gtest.h"
#include "tests/common/model/test_models.h"
#include "tests/support/every_pattern_kind.h"
#include "tools/train/network.h"

namespace spex {
namespace {

v1::Layer RandomLayer(int n_in, int n_out, int fan_out, PatternKind kind,
                      v1::Activation activation, uint64_t seed) {
  ModelTopology t;
  t.input_shape = {n_in};
  t.backbone = {{n_in, n_out, 3}, {fan_out, 3}};
  t.pattern = kind;
  v1::Layer layer = InitializeModel(t, seed)->layers(0);
  layer.set_activation(activation);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> bias(-0.2f, 0.2f);
  for (float& b : *layer.mutable_bias()) b = bias(rng);
  return layer;
}

// The same junction fully connected, zero where the sparse one has no
// connection.
v1::Layer MaskedDense(const v1::Layer& sparse) {
  v1::Layer dense = sparse;
  dense.set_pattern(v1::PATTERN_KIND_DENSE);
  dense.clear_indices();
  dense.set_d_in(sparse.n_in());
  dense.set_d_out(sparse.n_out());
  dense.clear_weights();
  for (uint32_t i = 0; i < sparse.n_in() * sparse.n_out(); ++i)
    dense.add_weights(0.0f);
  return dense;
}

std::vector<float> Random(size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

class JunctionGradientTest : public testing::TestWithParam<PatternKind> {};

TEST_P(JunctionGradientTest, SparseEqualsDenseWithTheSameMask) {
  std::mt19937 rng(std::random_device{}());
  for (auto [n_in, n_out, fo, batch] :
       std::vector<std::array<int, 4>>{{64, 32, 8, 64},
                                       {128, 64, 4, 37},
                                       {40, 24, 9, 16},
                                       {256, 16, 2, 100},
                                       {96, 48, 8, 33},
                                       {64, 64, 16, 70}}) {
    SCOPED_TRACE(testing::Message() << n_in << "->" << n_out << " fo " << fo
                                    << " batch " << batch);
    const v1::Layer layer = RandomLayer(n_in, n_out, fo, GetParam(),
                                        v1::ACTIVATION_IDENTITY, rng());
    if (TileGroupSize(GetParam()) > 1 && fo % 8 == 0) {
      ASSERT_EQ(layer.pattern(), v1::PATTERN_KIND_TILE);
    }
    auto sparse = TrainJunction::FromLayer(layer);
    ASSERT_TRUE(sparse.ok()) << sparse.status();
    // Scatter the sparse weights into the dense twin through the rows the
    // file's indices define (docs/MODEL_FORMAT.md).
    v1::Layer dense_layer = MaskedDense(layer);
    const std::vector<std::vector<int>> rows = RowsOf(layer);
    for (int o = 0; o < n_out; ++o) {
      for (uint32_t k = 0; k < layer.d_in(); ++k) {
        dense_layer.set_weights(o * n_in + rows[o][k],
                                layer.weights(o * layer.d_in() + k));
      }
    }
    auto dense = TrainJunction::FromLayer(dense_layer);
    ASSERT_TRUE(dense.ok());

    // Each batch a slice of a wider one (rows further apart than they are
    // long), as a convolution's slices of samples are.
    const size_t b = batch, x_stride = b + 3, dy_stride = b + 1,
                 y_stride = b + 2, dx_stride = b + 5;
    const std::vector<float> x = Random(n_in * x_stride, rng);
    const std::vector<float> dy = Random(n_out * dy_stride, rng);
    std::vector<float> y_sparse(n_out * y_stride), y_dense(n_out * y_stride);
    (*sparse)->Forward(b, {x.data(), x_stride}, {y_sparse.data(), y_stride});
    (*dense)->Forward(b, {x.data(), x_stride}, {y_dense.data(), y_stride});
    for (int o = 0; o < n_out; ++o) {
      for (size_t j = 0; j < b; ++j) {
        ASSERT_NEAR(y_sparse[o * y_stride + j], y_dense[o * y_stride + j],
                    1e-4);
      }
    }

    std::vector<float> dx_sparse(n_in * dx_stride, 7.0f),
        dx_dense(n_in * dx_stride, -7.0f);
    JunctionGradients g_sparse = (*sparse)->NewGradients();
    JunctionGradients g_dense = (*dense)->NewGradients();
    (*sparse)->Backward(b, {x.data(), x_stride}, {dy.data(), dy_stride},
                        {dx_sparse.data(), dx_stride}, &g_sparse);
    (*dense)->Backward(b, {x.data(), x_stride}, {dy.data(), dy_stride},
                       {dx_dense.data(), dx_stride}, &g_dense);
    for (int i = 0; i < n_in; ++i) {
      for (size_t j = 0; j < b; ++j) {
        ASSERT_NEAR(dx_sparse[i * dx_stride + j], dx_dense[i * dx_stride + j],
                    1e-4);
      }
    }
    for (int o = 0; o < n_out; ++o) {
      ASSERT_NEAR(g_sparse.bias[o], g_dense.bias[o], 1e-4);
      for (uint32_t k = 0; k < layer.d_in(); ++k) {
        ASSERT_NEAR(g_sparse.weights[o * layer.d_in() + k],
                    g_dense.weights[o * n_in + rows[o][k]], 1e-3)
            << "row " << o << " slot " << k;
      }
    }
  }
}

// The whole network's gradient (joint loss, ReLU, an exit) against central
// finite differences of the loss, computed in float64 from the trainer's own
// loss report.
TEST_P(JunctionGradientTest, NetworkGradientMatchesFiniteDifferences) {
  std::mt19937 rng(std::random_device{}());
  ModelTopology t;
  t.input_shape = {24};
  t.backbone = {{24, 16, 16, 3}, {4, 8, 3}};
  t.split_after = 1;
  t.exits = {{1, {3}, {3}, 0.7f}};
  t.pattern = GetParam();
  v1::Model model = *InitializeModel(t, rng());
  const int batch = 5;
  std::vector<uint8_t> labels(batch);
  for (auto& l : labels) l = static_cast<uint8_t>(rng() % 3);
  const std::vector<float> x = Random(24 * batch, rng);

  auto network = TrainNetwork::FromModel(model);
  ASSERT_TRUE(network.ok());
  BatchState state = (*network)->NewState(batch);
  const auto loss = [&]() {
    std::copy(x.begin(), x.end(), state.backbone[0].begin());
    for (auto& g : state.backbone_gradients) g.Zero();
    for (auto& e : state.exit_gradients)
      for (auto& g : e) g.Zero();
    const LossReport r = (*network)->Step(batch, labels.data(), batch, &state);
    double total = r.final_loss;
    for (double e : r.exit_loss) total += e * 0.7;  // loss_weight
    return total / batch;
  };
  loss();
  std::vector<JunctionGradients> analytic = state.backbone_gradients;
  for (auto& e : state.exit_gradients)
    for (auto& g : e) analytic.push_back(g);

  // Which hidden units are active: a difference quotient across a ReLU kink
  // measures the kink, not the gradient, so such a probe is skipped.
  const auto active = [&]() {
    std::vector<bool> on;
    for (size_t l = 1; l + 1 < state.backbone.size(); ++l) {
      for (size_t i = 0; i < 16u * batch; ++i)
        on.push_back(state.backbone[l][i] > 0);
    }
    return on;
  };
  const std::vector<bool> base = active();
  std::vector<TrainLayer*> junctions = (*network)->layers();
  int checked = 0, skipped = 0;
  for (size_t j = 0; j < junctions.size(); ++j) {
    TrainBuffer& w = junctions[j]->weights();
    for (int trial = 0; trial < 6; ++trial) {
      const size_t i = rng() % w.size();
      const float saved = w[i];
      const float h = 2e-3f;
      w[i] = saved + h;
      (*network)->Prepare();
      const double up = loss();
      const bool same_up = active() == base;
      w[i] = saved - h;
      (*network)->Prepare();
      const double down = loss();
      const bool same_down = active() == base;
      w[i] = saved;
      (*network)->Prepare();
      if (!same_up || !same_down) {
        ++skipped;
        continue;
      }
      const double numeric = (up - down) / (2 * h);
      // The tolerance covers float rounding of the loss over the network.
      EXPECT_NEAR(analytic[j].weights[i], numeric,
                  2e-3 + 0.02 * std::fabs(numeric))
          << "junction " << j << " weight " << i;
      ++checked;
    }
  }
  EXPECT_EQ(checked + skipped, 6 * static_cast<int>(junctions.size()));
  EXPECT_GE(checked, 4 * static_cast<int>(junctions.size()));
}

INSTANTIATE_TEST_SUITE_P(EveryPatternKind, JunctionGradientTest,
                         EveryPatternKind(), PatternKindTestName);

}  // namespace
}  // namespace spex
