// Stops offloading during a cloud outage instead of paying a deadline per
// sample. Closed: offloads go out; `failure_threshold` consecutive failures
// open it. Open: nothing goes out for `open_time`; then it lets one probe
// through (half-open): its success closes the breaker, its failure opens it
// again.
//
// Thread-safe. Time is passed in, so tests drive it without sleeping.
#ifndef SPEX_COMMON_RPC_CIRCUIT_BREAKER_H_
#define SPEX_COMMON_RPC_CIRCUIT_BREAKER_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace spex {

class CircuitBreaker {
 public:
  enum class State { kClosed, kOpen, kHalfOpen };

  CircuitBreaker(int failure_threshold, absl::Duration open_time);

  // Whether an offload may go out now. In half-open, true for one probe at
  // a time.
  bool Allow(absl::Time now);
  void RecordSuccess();
  void RecordFailure(absl::Time now);

  State state() const;

 private:
  const int failure_threshold_;
  const absl::Duration open_time_;

  mutable absl::Mutex mutex_;
  State state_ ABSL_GUARDED_BY(mutex_) = State::kClosed;
  int consecutive_failures_ ABSL_GUARDED_BY(mutex_) = 0;
  absl::Time opened_at_ ABSL_GUARDED_BY(mutex_);
  bool probe_in_flight_ ABSL_GUARDED_BY(mutex_) = false;
};

}  // namespace spex

#endif  // SPEX_COMMON_RPC_CIRCUIT_BREAKER_H_
