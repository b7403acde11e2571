// Samples bipartite multigraphs with exact degrees on both sides: the core of
// both pattern generators (outputs x inputs for `random`, slices x blocks for
// `block`).
#ifndef SPEX_COMMON_SPARSITY_BIREGULAR_SAMPLER_H_
#define SPEX_COMMON_SPARSITY_BIREGULAR_SAMPLER_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "common/sparsity/seeded_random.h"

namespace spex {

struct BiregularShape {
  int n_left = 0;
  int n_right = 0;
  int left_degree = 0;       // right nodes per left node
  int right_degree = 0;      // left nodes per right node
  int max_multiplicity = 1;  // times one (left, right) pair may repeat
};

// Returns n_left lists of left_degree right nodes (left-major, each list
// ascending). Every right node appears right_degree times in all, and no pair
// more than max_multiplicity times.
//
// How: a valid graph is built first (each left node takes a window of a
// repeated random permutation of the right nodes), then randomised by degree-
// preserving edge switches, the Markov chain whose stationary distribution is
// uniform over such graphs. REQUIRES: shape consistent
// (n_left * left_degree == n_right * right_degree,
// left_degree <= max_multiplicity * n_right).
absl::StatusOr<std::vector<uint32_t>> SampleBiregular(
    const BiregularShape& shape, SeededRandom& random);

}  // namespace spex

#endif  // SPEX_COMMON_SPARSITY_BIREGULAR_SAMPLER_H_
