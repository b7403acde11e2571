#include "common/policy/route_chooser.h"

#include <deque>

#include "gtest/gtest.h"

namespace spex {
namespace {

using Route = RouteChooser::Route;

TEST(RouteChooserTest, MeasuresEachRouteThenTakesTheCheapest) {
  RouteChooserOptions options;
  options.can_compute_here = true;
  options.can_skip = true;
  options.probe_every = 0;
  RouteChooser chooser(options);
  EXPECT_EQ(chooser.Choose(0), Route::kNext);  // nothing measured yet
  chooser.ObserveNext(absl::Milliseconds(10));
  EXPECT_EQ(chooser.Choose(0), Route::kSkip);  // skip not measured yet
  chooser.ObserveSkip(absl::Milliseconds(20));
  EXPECT_EQ(chooser.Choose(0), Route::kHere);  // here not measured yet
  chooser.ObserveHere(absl::Milliseconds(4));
  EXPECT_EQ(chooser.Choose(0), Route::kHere);
  // Two samples queued per worker make here cost 3 x 4 ms: next wins.
  EXPECT_EQ(chooser.Choose(2), Route::kNext);
  // The skip stage gets cheaper than both: it takes the samples.
  for (int i = 0; i < 100; ++i) chooser.ObserveSkip(absl::Milliseconds(1));
  EXPECT_EQ(chooser.Choose(2), Route::kSkip);
}

TEST(RouteChooserTest, ProbesTheNextStageEvenWhenItIsDear) {
  RouteChooserOptions options;
  options.can_compute_here = true;
  options.probe_every = 10;
  RouteChooser chooser(options);
  chooser.ObserveNext(absl::Seconds(1));
  chooser.ObserveHere(absl::Milliseconds(1));
  int next = 0;
  for (int i = 0; i < 100; ++i) next += chooser.Choose(0) == Route::kNext;
  EXPECT_EQ(next, 10);
}

// Computing here, measured dear once (a cold first run), is probed again
// half-way between the next stage's probes, and once it measures cheap it
// takes the samples.
TEST(RouteChooserTest, ProbesComputingHereSoADearStartDoesNotStick) {
  RouteChooserOptions options;
  options.can_compute_here = true;
  options.probe_every = 10;
  options.smoothing = 0.5;
  RouteChooser chooser(options);
  chooser.ObserveNext(absl::Milliseconds(40));
  chooser.ObserveHere(absl::Seconds(1));
  int late_here = 0;
  for (int i = 1; i <= 100; ++i) {
    if (chooser.Choose(0) == Route::kHere) {
      chooser.ObserveHere(absl::Milliseconds(2));
      late_here += i > 50;
    }
  }
  // Probes at decisions 5, 15, ..., 45 halve the mean from 1 s to 33 ms,
  // below the next stage's 40: from then on every decision but the next
  // stage's probes computes here.
  EXPECT_EQ(late_here, 45);
}

// A route's cost grows with the load sent to it: the rule settles where
// both cost the same. Here a sample computed at the stage costs 1 ms per
// sample queued ahead of it plus its own, and the queue holds the samples
// sent here among the last 10 decisions; the next stage costs 5 ms. Equal
// costs need 4 queued: 40 % of the samples computed here.
TEST(RouteChooserTest, SettlesWhereBothRoutesCostTheSame) {
  RouteChooserOptions options;
  options.can_compute_here = true;
  options.probe_every = 0;
  options.smoothing = 0.2;
  RouteChooser chooser(options);
  std::deque<bool> recent;
  int here = 0, counted = 0;
  for (int i = 0; i < 4000; ++i) {
    int queued = 0;
    for (bool h : recent) queued += h;
    const Route route = chooser.Choose(queued);
    const bool computed_here = route == Route::kHere;
    if (computed_here) {
      chooser.ObserveHere(absl::Milliseconds(1));
    } else {
      chooser.ObserveNext(absl::Milliseconds(5));
    }
    recent.push_back(computed_here);
    if (recent.size() > 10) recent.pop_front();
    if (i >= 1000) {
      here += computed_here;
      ++counted;
    }
  }
  const double share = static_cast<double>(here) / counted;
  EXPECT_GT(share, 0.3);
  EXPECT_LT(share, 0.5);
}

}  // namespace
}  // namespace spex
