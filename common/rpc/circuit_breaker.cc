#include "common/rpc/circuit_breaker.h"

namespace spex {

CircuitBreaker::CircuitBreaker(int failure_threshold, absl::Duration open_time)
    : failure_threshold_(failure_threshold < 1 ? 1 : failure_threshold),
      open_time_(open_time) {}

bool CircuitBreaker::Allow(absl::Time now) {
  absl::MutexLock lock(&mutex_);
  switch (state_) {
    case State::kClosed:
      return true;
    case State::kOpen:
      if (now - opened_at_ < open_time_) return false;
      state_ = State::kHalfOpen;
      probe_in_flight_ = true;
      return true;
    case State::kHalfOpen:
      if (probe_in_flight_) return false;
      probe_in_flight_ = true;
      return true;
  }
  return false;
}

void CircuitBreaker::RecordSuccess() {
  absl::MutexLock lock(&mutex_);
  consecutive_failures_ = 0;
  probe_in_flight_ = false;
  state_ = State::kClosed;
}

void CircuitBreaker::RecordFailure(absl::Time now) {
  absl::MutexLock lock(&mutex_);
  probe_in_flight_ = false;
  ++consecutive_failures_;
  if (state_ == State::kHalfOpen ||
      (state_ == State::kClosed &&
       consecutive_failures_ >= failure_threshold_)) {
    state_ = State::kOpen;
    opened_at_ = now;
  }
}

CircuitBreaker::State CircuitBreaker::state() const {
  absl::MutexLock lock(&mutex_);
  return state_;
}

}  // namespace spex
