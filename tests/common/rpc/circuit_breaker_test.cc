#include "common/rpc/circuit_breaker.h"

#include "gtest/gtest.h"

namespace spex {
namespace {

using State = CircuitBreaker::State;

TEST(CircuitBreakerTest, OpensAfterConsecutiveFailuresAndProbesOnce) {
  CircuitBreaker breaker(3, absl::Seconds(2));
  absl::Time t = absl::UnixEpoch();
  breaker.RecordFailure(t);
  breaker.RecordFailure(t);
  breaker.RecordSuccess();  // resets the count
  breaker.RecordFailure(t);
  breaker.RecordFailure(t);
  EXPECT_EQ(breaker.state(), State::kClosed);
  EXPECT_TRUE(breaker.Allow(t));
  breaker.RecordFailure(t);
  EXPECT_EQ(breaker.state(), State::kOpen);
  EXPECT_FALSE(breaker.Allow(t + absl::Seconds(1)));
  // After the open time: one probe, not two.
  EXPECT_TRUE(breaker.Allow(t + absl::Seconds(2)));
  EXPECT_EQ(breaker.state(), State::kHalfOpen);
  EXPECT_FALSE(breaker.Allow(t + absl::Seconds(2)));
  // The probe fails: open again, for another open time.
  breaker.RecordFailure(t + absl::Seconds(2));
  EXPECT_EQ(breaker.state(), State::kOpen);
  EXPECT_FALSE(breaker.Allow(t + absl::Seconds(3)));
  EXPECT_TRUE(breaker.Allow(t + absl::Seconds(4)));
  breaker.RecordSuccess();
  EXPECT_EQ(breaker.state(), State::kClosed);
  EXPECT_TRUE(breaker.Allow(t + absl::Seconds(4)));
}

}  // namespace
}  // namespace spex
