// Where a stage sends a sample that none of its exits answered: on to the
// next stage, past it to the stage after (skip), or nowhere, computing the
// remaining layers itself (here). MDI-Exit's idea of letting load decide
// where samples are processed; the rule is our own:
//
//   Each route's cost is what a sample paid on it lately: an exponentially
//   weighted mean (weight `smoothing` per observation) of the measured round
//   trip (next, skip; a deadline counts as the deadline) or of the time to
//   run the rest here, scaled by this stage's queue (1 + queued / workers:
//   a sample computed here waits for those ahead of it). The sample takes
//   the cheapest route. One decision in `probe_every` takes the next stage
//   whatever the costs, so that its cost is measured again when it
//   recovers, and, at a stage that may compute the rest itself, another
//   half-way between computes here: a first measurement that was dear (a
//   cold start, a burst ahead of it) would otherwise never be measured
//   again, as long as the next stage stays cheaper than it. (A skip route
//   needs no probe: it matters when the next stage grows dear, and then it
//   is taken and measured.)
//
// Why it settles: a route's cost grows with the load sent to it (its
// queue, or the next stage's), so sending to the cheapest moves load from
// the dearer route to the cheaper until both cost the same (the split at
// which neither is cheaper: a Wardrop equilibrium); the weighted means
// smooth the measurements the decisions feed on, and the probes bound how
// stale the next stage's cost can get. docs/ARCHITECTURE.md shows it on a
// slow link.
//
// Thread-safe.
#ifndef SPEX_COMMON_POLICY_ROUTE_CHOOSER_H_
#define SPEX_COMMON_POLICY_ROUTE_CHOOSER_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace spex {

struct RouteChooserOptions {
  bool can_skip = false;          // a stage after the next is configured
  bool can_compute_here = false;  // this stage may run the remaining layers
  double smoothing = 0.05;        // weight of each new observation
  int probe_every = 20;
  int workers = 1;  // this stage's inference workers
};

class RouteChooser {
 public:
  enum class Route { kNext, kSkip, kHere };

  explicit RouteChooser(const RouteChooserOptions& options);

  // The route for one sample, with `queued` samples waiting here.
  Route Choose(int queued);

  // What a sample paid on a route.
  void ObserveNext(absl::Duration round_trip);
  void ObserveSkip(absl::Duration round_trip);
  void ObserveHere(absl::Duration compute);

 private:
  static void Blend(double smoothing, double seconds, double* mean);

  const RouteChooserOptions options_;
  absl::Mutex mutex_;
  // Seconds; a negative mean has not been observed yet.
  double next_ ABSL_GUARDED_BY(mutex_) = -1;
  double skip_ ABSL_GUARDED_BY(mutex_) = -1;
  double here_ ABSL_GUARDED_BY(mutex_) = -1;
  int64_t decisions_ ABSL_GUARDED_BY(mutex_) = 0;
};

}  // namespace spex

#endif  // SPEX_COMMON_POLICY_ROUTE_CHOOSER_H_
