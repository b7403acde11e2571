// Small models of several shapes for the model tests.
#ifndef SPEX_TESTS_COMMON_MODEL_TEST_MODELS_H_
#define SPEX_TESTS_COMMON_MODEL_TEST_MODELS_H_

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "common/model/model_file.h"
#include "common/model/model_init.h"
#include "gtest/gtest.h"

namespace spex {

struct TestTopology {
  std::string name;
  ModelTopology topology;
};

// Shapes that cover a padded input, block-compatible and incompatible
// widths, dense junctions, exits at the split and before it, and an exit
// with a hidden layer.
inline std::vector<TestTopology> TestTopologies(PatternKind kind) {
  std::vector<TestTopology> out;
  {
    ModelTopology t;  // the reference's shape: 784 padded to 800
    t.input_shape = {28, 28};
    t.padded_width = 800;
    t.input_scale = 1.0f / 255;
    t.backbone = {{800, 40, 40, 10}, {2, 9, 10}};
    t.split_after = 1;
    t.exits = {{1, {10}, {10}, 0.5f}};
    out.push_back({"800-40-40-10", t});
  }
  {
    ModelTopology
        t;  // split at a narrow layer, two exits, one with a hidden layer
    t.input_shape = {96};
    t.backbone = {{96, 64, 32, 64, 24, 7}, {16, 4, 16, 6, 7}};
    t.split_after = 2;
    t.exits = {{1, {16, 7}, {2, 7}, 0.3f}, {2, {7}, {7}, 1.0f}};
    t.class_names = {"a", "b", "c", "d", "e", "f", "g"};
    out.push_back({"96-64-32-64-24-7", t});
  }
  {
    ModelTopology t;  // odd widths everywhere, no exits, last junction dense
    t.input_shape = {3, 5, 7};
    t.backbone = {{105, 45, 13, 3}, {3, 13, 3}};
    t.split_after = 2;
    out.push_back({"105-45-13-3", t});
  }
  for (TestTopology& t : out) t.topology.pattern = kind;
  return out;
}

// Exact equality of n floats, bit for bit (NaN-safe, empty-safe).
inline bool SameBits(const float* a, const float* b, size_t n) {
  return n == 0 || std::memcmp(a, b, n * sizeof(float)) == 0;
}

inline std::vector<float> RandomInput(int width, std::mt19937& rng) {
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> x(width);
  for (float& v : x) v = uniform(rng);
  return x;
}

// A finished model message (id set) of `topology`.
inline v1::Model MakeTestModel(const ModelTopology& topology, uint64_t seed) {
  absl::StatusOr<v1::Model> model = InitializeModel(topology, seed);
  EXPECT_TRUE(model.ok()) << model.status();
  SerializeModel(&*model);
  return *model;
}

// The rows of a layer as the format defines them, computed from the message
// alone (independently of Pattern): output o's inputs, ascending.
inline std::vector<std::vector<int>> RowsOf(const v1::Layer& layer) {
  std::vector<std::vector<int>> rows(layer.n_out());
  for (uint32_t o = 0; o < layer.n_out(); ++o) {
    switch (layer.pattern()) {
      case v1::PATTERN_KIND_DENSE:
        for (uint32_t i = 0; i < layer.n_in(); ++i) rows[o].push_back(i);
        break;
      case v1::PATTERN_KIND_RANDOM:
        for (uint32_t k = 0; k < layer.d_in(); ++k) {
          rows[o].push_back(layer.indices(o * layer.d_in() + k));
        }
        break;
      case v1::PATTERN_KIND_TILE: {
        const uint32_t tile = o / layer.group_size();
        for (uint32_t k = 0; k < layer.d_in(); ++k) {
          rows[o].push_back(layer.indices(tile * layer.d_in() + k));
        }
        break;
      }
      default: {
        const uint32_t slice = o / 8, lane = o % 8;
        for (uint32_t k = 0; k < layer.d_in(); ++k) {
          const uint32_t code = layer.indices(slice * layer.d_in() + k);
          rows[o].push_back(8 * (code >> 3) + ((lane + (code & 7)) % 8));
        }
        std::sort(rows[o].begin(), rows[o].end());
      }
    }
  }
  return rows;
}

}  // namespace spex

#endif  // SPEX_TESTS_COMMON_MODEL_TEST_MODELS_H_
