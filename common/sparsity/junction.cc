#include "common/sparsity/junction.h"

#include <cmath>
#include <cstdlib>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/status/status_macros.h"

namespace spex {
namespace {

absl::Status CheckWidths(int index, int n_in, int n_out) {
  if (n_in < 1 || n_in > kMaxJunctionWidth || n_out < 1 ||
      n_out > kMaxJunctionWidth) {
    return absl::InvalidArgumentError(
        absl::StrFormat("junction %d: widths %d -> %d out of range [1, %d]",
                        index, n_in, n_out, kMaxJunctionWidth));
  }
  return absl::OkStatus();
}

std::string ListValidOutDegrees(int n_in, int n_out) {
  const std::vector<int> valid = ValidOutDegrees(n_in, n_out);
  constexpr size_t kMaxListed = 24;
  if (valid.size() <= kMaxListed) return absl::StrJoin(valid, ", ");
  std::vector<int> head(valid.begin(), valid.begin() + kMaxListed);
  return absl::StrCat(absl::StrJoin(head, ", "), ", ... (", valid.size(),
                      " in all)");
}

}  // namespace

std::string JunctionSpec::DebugString() const {
  return absl::StrFormat("%d->%d d_in=%d d_out=%d density=%.6g", n_in, n_out,
                         d_in, d_out, density());
}

bool operator==(const JunctionSpec& a, const JunctionSpec& b) {
  return a.n_in == b.n_in && a.n_out == b.n_out && a.d_in == b.d_in &&
         a.d_out == b.d_out;
}

std::vector<int> ValidOutDegrees(int n_in, int n_out) {
  std::vector<int> valid;
  for (int d_out = 1; d_out <= n_out; ++d_out) {
    if ((int64_t{n_in} * d_out) % n_out == 0) valid.push_back(d_out);
  }
  return valid;
}

absl::StatusOr<JunctionSpec> JunctionFromFanOut(int index, int n_in, int n_out,
                                                int d_out) {
  SPEX_RETURN_IF_ERROR(CheckWidths(index, n_in, n_out));
  if (d_out < 1 || d_out > n_out) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "junction %d (%d -> %d): out-degree %d out of range [1, %d]; valid "
        "out-degrees: %s",
        index, n_in, n_out, d_out, n_out, ListValidOutDegrees(n_in, n_out)));
  }
  const int64_t edges = int64_t{n_in} * d_out;
  if (edges % n_out != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "junction %d (%d -> %d): out-degree %d gives in-degree %d*%d/%d, not "
        "a whole number; valid out-degrees: %s",
        index, n_in, n_out, d_out, n_in, d_out, n_out,
        ListValidOutDegrees(n_in, n_out)));
  }
  JunctionSpec spec;
  spec.n_in = n_in;
  spec.n_out = n_out;
  spec.d_out = d_out;
  spec.d_in = static_cast<int>(edges / n_out);
  return spec;
}

int NearestValidOutDegree(int n_in, int n_out, double density) {
  int best = n_out;
  double best_gap = INFINITY;
  for (int d_out : ValidOutDegrees(n_in, n_out)) {
    const double gap = std::fabs(static_cast<double>(d_out) / n_out - density);
    if (gap < best_gap - 1e-12) {
      best = d_out;
      best_gap = gap;
    }
  }
  return best;
}

absl::StatusOr<JunctionSpec> JunctionFromDensity(int index, int n_in, int n_out,
                                                 double density) {
  SPEX_RETURN_IF_ERROR(CheckWidths(index, n_in, n_out));
  if (!(density > 0.0 && density <= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("junction %d (%d -> %d): density %g outside (0, 1]",
                        index, n_in, n_out, density));
  }
  const double d_out = density * n_out;
  const double d_in = density * n_in;
  if (std::fabs(d_out - std::round(d_out)) > 1e-9 * n_out ||
      std::fabs(d_in - std::round(d_in)) > 1e-9 * n_in ||
      std::round(d_out) < 1) {
    const int nearest = NearestValidOutDegree(n_in, n_out, density);
    return absl::InvalidArgumentError(absl::StrFormat(
        "junction %d (%d -> %d): density %g needs whole degrees (d_in=%g, "
        "d_out=%g); nearest valid density is %d/%d = %g; valid out-degrees: "
        "%s",
        index, n_in, n_out, density, d_in, d_out, nearest, n_out,
        static_cast<double>(nearest) / n_out,
        ListValidOutDegrees(n_in, n_out)));
  }
  return JunctionFromFanOut(index, n_in, n_out,
                            static_cast<int>(std::lround(d_out)));
}

absl::StatusOr<std::vector<JunctionSpec>> TopologyFromFanOut(
    absl::Span<const int> widths, absl::Span<const int> fan_out) {
  if (widths.size() < 2) {
    return absl::InvalidArgumentError(
        "topology needs at least two layer widths (input and output)");
  }
  if (fan_out.size() != widths.size() - 1) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "topology has %d junctions but %d out-degrees were given",
        widths.size() - 1, fan_out.size()));
  }
  std::vector<JunctionSpec> junctions;
  for (size_t i = 0; i + 1 < widths.size(); ++i) {
    SPEX_ASSIGN_OR_RETURN(JunctionSpec spec,
                          JunctionFromFanOut(static_cast<int>(i), widths[i],
                                             widths[i + 1], fan_out[i]));
    junctions.push_back(spec);
  }
  return junctions;
}

}  // namespace spex
