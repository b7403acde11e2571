// A junction of a predefined-sparse network: the fixed connection counts
// between two layers.
//
// Junction i connects n_in inputs to n_out outputs. Every output has exactly
// d_in inputs and every input exactly d_out outputs, so the edge count is
// n_in * d_out == n_out * d_in and the density is d_in / n_in. Not every
// density exists: d_in = n_in * d_out / n_out must be a whole number.
#ifndef SPEX_COMMON_SPARSITY_JUNCTION_H_
#define SPEX_COMMON_SPARSITY_JUNCTION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace spex {

// Widths are bounded so that every input index fits in a uint16 and a model
// file cannot make a loader allocate without limit.
inline constexpr int kMaxJunctionWidth = 65536;

struct JunctionSpec {
  int n_in = 0;
  int n_out = 0;
  int d_in = 0;   // inputs per output (in-degree)
  int d_out = 0;  // outputs per input (out-degree)

  int64_t connections() const { return int64_t{n_out} * d_in; }
  double density() const { return static_cast<double>(d_in) / n_in; }
  bool dense() const { return d_in == n_in; }
  std::string DebugString() const;
};

bool operator==(const JunctionSpec& a, const JunctionSpec& b);

// Out-degrees d_out in [1, n_out] for which d_in is a whole number.
std::vector<int> ValidOutDegrees(int n_in, int n_out);

// Builds junction `index` (0-based, used in messages) from an out-degree, as
// the reference code's `--fo` flag gives it. InvalidArgument, naming the
// junction and listing the valid out-degrees, when d_in is not whole.
absl::StatusOr<JunctionSpec> JunctionFromFanOut(int index, int n_in, int n_out,
                                                int d_out);

// Builds junction `index` from a density in (0, 1]. The density must be
// exact to 1e-9 for both degrees; otherwise the error names the nearest valid
// densities.
absl::StatusOr<JunctionSpec> JunctionFromDensity(int index, int n_in, int n_out,
                                                 double density);

// The valid out-degree whose density is nearest to `density` (ties go to the
// sparser one). REQUIRES: widths in [1, kMaxJunctionWidth], density > 0.
int NearestValidOutDegree(int n_in, int n_out, double density);

// A whole network's junctions from layer widths (input first) and one
// out-degree per junction: `--config 800 40 40 10 --fo 2 9 10`.
absl::StatusOr<std::vector<JunctionSpec>> TopologyFromFanOut(
    absl::Span<const int> widths, absl::Span<const int> fan_out);

}  // namespace spex

#endif  // SPEX_COMMON_SPARSITY_JUNCTION_H_
