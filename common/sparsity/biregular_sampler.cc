#include "common/sparsity/biregular_sampler.h"

#include <algorithm>
#include <numeric>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"

namespace spex {
namespace {

// Edge switches per edge. Degree-preserving switch chains on bipartite graphs
// of this size mix within a few sweeps; 4 keeps generation well under a
// second for the largest benchmark layer (4096 x 4096 at density 1/2).
constexpr int kSwitchesPerEdge = 4;

// The pair-count table is the generator's memory bound.
constexpr int64_t kMaxPairs = int64_t{1} << 28;

}  // namespace

absl::StatusOr<std::vector<uint32_t>> SampleBiregular(
    const BiregularShape& shape, SeededRandom& random) {
  const int64_t edges = int64_t{shape.n_left} * shape.left_degree;
  if (shape.n_left < 1 || shape.n_right < 1 || shape.left_degree < 1 ||
      edges != int64_t{shape.n_right} * shape.right_degree ||
      shape.max_multiplicity < 1 || shape.max_multiplicity > 255 ||
      shape.left_degree > int64_t{shape.max_multiplicity} * shape.n_right) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "no bipartite graph with %d x %d nodes, degrees %d/%d, multiplicity "
        "<= %d",
        shape.n_left, shape.n_right, shape.left_degree, shape.right_degree,
        shape.max_multiplicity));
  }
  const int64_t pairs = int64_t{shape.n_left} * shape.n_right;
  if (pairs > kMaxPairs) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "pattern of %d x %d is too large to generate (limit %d pairs)",
        shape.n_left, shape.n_right, kMaxPairs));
  }

  // A window of length left_degree over a repeated permutation holds each
  // right node at most ceil(left_degree / n_right) times, and the whole
  // sequence is right_degree full copies, so both degrees hold exactly.
  std::vector<uint32_t> permutation(shape.n_right);
  std::iota(permutation.begin(), permutation.end(), 0u);
  random.Shuffle(permutation.data(), permutation.size());
  std::vector<uint32_t> edge_right(static_cast<size_t>(edges));
  for (int64_t e = 0; e < edges; ++e) {
    edge_right[e] = permutation[e % shape.n_right];
  }

  std::vector<uint8_t> count(static_cast<size_t>(pairs), 0);
  auto pair_count = [&](int64_t left, uint32_t right) -> uint8_t& {
    return count[static_cast<size_t>(left * shape.n_right + right)];
  };
  for (int64_t e = 0; e < edges; ++e) {
    ++pair_count(e / shape.left_degree, edge_right[e]);
  }

  // Switch (l1, r1), (l2, r2) -> (l1, r2), (l2, r1) when multiplicities
  // allow. A complete graph admits no switch, so skip the chain there.
  const bool complete =
      shape.left_degree == int64_t{shape.max_multiplicity} * shape.n_right;
  if (!complete && shape.n_left > 1) {
    const int64_t switches = kSwitchesPerEdge * edges;
    for (int64_t t = 0; t < switches; ++t) {
      const int64_t e1 = static_cast<int64_t>(random.Below(edges));
      const int64_t e2 = static_cast<int64_t>(random.Below(edges));
      const int64_t l1 = e1 / shape.left_degree;
      const int64_t l2 = e2 / shape.left_degree;
      const uint32_t r1 = edge_right[e1];
      const uint32_t r2 = edge_right[e2];
      if (l1 == l2 || r1 == r2) continue;
      uint8_t& c12 = pair_count(l1, r2);
      uint8_t& c21 = pair_count(l2, r1);
      if (c12 >= shape.max_multiplicity || c21 >= shape.max_multiplicity) {
        continue;
      }
      ++c12;
      ++c21;
      --pair_count(l1, r1);
      --pair_count(l2, r2);
      edge_right[e1] = r2;
      edge_right[e2] = r1;
    }
  }

  for (int64_t l = 0; l < shape.n_left; ++l) {
    auto first = edge_right.begin() + l * shape.left_degree;
    std::sort(first, first + shape.left_degree);
  }
  return edge_right;
}

}  // namespace spex
