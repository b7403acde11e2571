#include "common/policy/route_chooser.h"

#include <algorithm>

namespace spex {

RouteChooser::RouteChooser(const RouteChooserOptions& options)
    : options_(options) {}

void RouteChooser::Blend(double smoothing, double seconds, double* mean) {
  *mean = *mean < 0 ? seconds : (1 - smoothing) * *mean + smoothing * seconds;
}

RouteChooser::Route RouteChooser::Choose(int queued) {
  absl::MutexLock lock(&mutex_);
  ++decisions_;
  if (options_.probe_every > 0 && decisions_ % options_.probe_every == 0) {
    return Route::kNext;
  }
  if (options_.can_compute_here && options_.probe_every > 1 && next_ >= 0 &&
      decisions_ % options_.probe_every == options_.probe_every / 2) {
    return Route::kHere;
  }
  // A route not measured yet is tried once it is the only way to learn its
  // cost: the next stage first (the usual route), then the others.
  if (next_ < 0) return Route::kNext;
  Route best = Route::kNext;
  double best_cost = next_;
  if (options_.can_skip) {
    if (skip_ < 0) return Route::kSkip;
    if (skip_ < best_cost) {
      best = Route::kSkip;
      best_cost = skip_;
    }
  }
  if (options_.can_compute_here) {
    if (here_ < 0) return Route::kHere;
    const double waiting = 1.0 + static_cast<double>(std::max(0, queued)) /
                                     std::max(1, options_.workers);
    if (here_ * waiting < best_cost) best = Route::kHere;
  }
  return best;
}

void RouteChooser::ObserveNext(absl::Duration round_trip) {
  absl::MutexLock lock(&mutex_);
  Blend(options_.smoothing, absl::ToDoubleSeconds(round_trip), &next_);
}

void RouteChooser::ObserveSkip(absl::Duration round_trip) {
  absl::MutexLock lock(&mutex_);
  Blend(options_.smoothing, absl::ToDoubleSeconds(round_trip), &skip_);
}

void RouteChooser::ObserveHere(absl::Duration compute) {
  absl::MutexLock lock(&mutex_);
  Blend(options_.smoothing, absl::ToDoubleSeconds(compute), &here_);
}

}  // namespace spex
