// The weight-gradient kernels (per row and per tile) against a plain float64
// loop, on fresh random inputs of odd sizes (partial 16-column chunks, partial
// 16-connection groups).
#include "tools/train/row_gradients.h"

#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace spex {
namespace {

TEST(RowGradientsTest, MatchesFloat64Reference) {
  const uint64_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  for (size_t batch : {1u, 7u, 15u, 16u, 17u, 33u, 64u, 100u}) {
    for (int count : {1, 5, 15, 16, 17, 40, 98}) {
      // Rows further apart than they are long, as a convolution's are.
      const int n_in = 130;
      const size_t x_stride = batch + 3;
      std::vector<float> x(static_cast<size_t>(n_in) * x_stride), dy(batch);
      for (float& v : x) v = value(rng);
      for (float& v : dy) v = value(rng);
      std::vector<uint32_t> inputs(count);
      for (uint32_t& i : inputs) i = static_cast<uint32_t>(rng() % n_in);
      std::vector<float> dw(count), start(count);
      for (int k = 0; k < count; ++k) dw[k] = start[k] = value(rng);
      AccumulateRowGradients(batch, dy.data(), x.data(), x_stride,
                             inputs.data(), count, dw.data());
      for (int k = 0; k < count; ++k) {
        double expected = start[k], magnitude = std::fabs(start[k]);
        for (size_t j = 0; j < batch; ++j) {
          const double term = double{dy[j]} * x[inputs[k] * x_stride + j];
          expected += term;
          magnitude += std::fabs(term);
        }
        ASSERT_NEAR(dw[k], expected, 1e-6 * magnitude + 1e-7)
            << "batch " << batch << " count " << count << " connection " << k;
      }
    }
  }
}

TEST(RowGradientsTest, TileMatchesFloat64Reference) {
  const uint64_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  for (int group : {4, 8}) {
    for (size_t batch : {1u, 7u, 16u, 17u, 64u, 100u}) {
      for (int count : {1, 3, 4, 5, 17, 98}) {
        const int n_in = 130;
        const size_t x_stride = batch + 3, dy_stride = batch + 5;
        std::vector<float> x(static_cast<size_t>(n_in) * x_stride),
            dy(static_cast<size_t>(group) * dy_stride);
        for (float& v : x) v = value(rng);
        for (float& v : dy) v = value(rng);
        std::vector<uint32_t> inputs(count);
        for (uint32_t& i : inputs) i = static_cast<uint32_t>(rng() % n_in);
        std::vector<float> dw(static_cast<size_t>(group) * count),
            start(dw.size());
        for (size_t c = 0; c < dw.size(); ++c) dw[c] = start[c] = value(rng);
        AccumulateTileGradients(batch, dy.data(), dy_stride, x.data(), x_stride,
                                inputs.data(), count, group, dw.data());
        for (int r = 0; r < group; ++r) {
          for (int k = 0; k < count; ++k) {
            const size_t at = static_cast<size_t>(r) * count + k;
            double expected = start[at], magnitude = std::fabs(start[at]);
            for (size_t j = 0; j < batch; ++j) {
              const double term =
                  double{dy[r * dy_stride + j]} * x[inputs[k] * x_stride + j];
              expected += term;
              magnitude += std::fabs(term);
            }
            ASSERT_NEAR(dw[at], expected, 1e-6 * magnitude + 1e-7)
                << "group " << group << " batch " << batch << " count " << count
                << " row " << r << " connection " << k;
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace spex
