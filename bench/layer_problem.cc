#include "bench/layer_problem.h"

#include <cstdio>
#include <cstdlib>
#include <random>

namespace spex::bench {

LayerProblem MakeProblem(const JunctionSpec& spec, PatternKind kind,
                         int batch) {
  // One seed for every kind and library: same sizes, same weights.
  constexpr uint64_t kSeed = 20240711;
  auto pattern = GeneratePattern(spec, kind, kSeed);
  if (!pattern.ok()) {
    std::fprintf(stderr, "pattern: %s\n", pattern.status().ToString().c_str());
    std::exit(1);
  }
  LayerProblem problem{*std::move(pattern), {}, {}, batch};
  std::mt19937 rng(kSeed);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  problem.weights.resize(spec.connections());
  for (float& w : problem.weights) w = normal(rng);
  problem.bias.assign(spec.n_out, 0.1f);
  return problem;
}

std::vector<float> LayerProblem::DenseWeights() const {
  const JunctionSpec& spec = pattern.spec();
  std::vector<float> dense(static_cast<size_t>(spec.n_out) * spec.n_in, 0.0f);
  for (int o = 0; o < spec.n_out; ++o) {
    const auto row = pattern.row(o);
    for (int k = 0; k < spec.d_in; ++k) {
      dense[static_cast<size_t>(o) * spec.n_in + row[k]] =
          weights[static_cast<size_t>(o) * spec.d_in + k];
    }
  }
  return dense;
}

}  // namespace spex::bench
