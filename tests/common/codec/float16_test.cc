#include "common/codec/float16.h"

#include <cmath>
#include <cstdint>
#include <random>

#include "gtest/gtest.h"

namespace spex {
namespace {

TEST(Float16Test, EveryHalfRoundTripsThroughFloat) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const uint16_t half = static_cast<uint16_t>(h);
    const float value = HalfToFloat(half);
    if (std::isnan(value)) {
      EXPECT_EQ(half & 0x7c00u, 0x7c00u);
      EXPECT_TRUE(std::isnan(HalfToFloat(FloatToHalf(value))));
      continue;
    }
    EXPECT_EQ(FloatToHalf(value), half) << "half 0x" << std::hex << h;
  }
}

TEST(Float16Test, KnownValues) {
  EXPECT_EQ(FloatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(FloatToHalf(-2.0f), 0xc000);
  EXPECT_EQ(FloatToHalf(65504.0f), 0x7bff);
  EXPECT_EQ(FloatToHalf(65520.0f), 0x7c00);       // rounds up to infinity
  EXPECT_EQ(FloatToHalf(5.9604645e-8f), 0x0001);  // smallest subnormal
  EXPECT_EQ(FloatToHalf(2.9802322e-8f), 0x0000);  // half of it: ties to even
  EXPECT_EQ(FloatToHalf(1.0f + 1.0f / 2048), 0x3c00);  // tie, even stays
  EXPECT_EQ(FloatToHalf(1.0f + 3.0f / 2048), 0x3c02);  // tie, odd rounds up
  EXPECT_EQ(HalfToFloat(0x3555), 0.333251953125f);
}

// Against the definition: the result is the nearest half (ties to even).
TEST(Float16Test, RandomFloatsRoundToTheNearestHalf) {
  std::mt19937 rng(std::random_device{}());
  std::uniform_real_distribution<float> exponent(-26.0f, 15.9f);
  for (int i = 0; i < 200000; ++i) {
    const float sign = (rng() & 1) ? -1.0f : 1.0f;
    const float value = sign * std::exp2(exponent(rng));
    const uint16_t half = FloatToHalf(value);
    const double error = std::fabs(double{HalfToFloat(half)} - value);
    for (int step : {-1, 1}) {
      const uint16_t neighbour = static_cast<uint16_t>(half + step);
      if ((neighbour & 0x7c00u) == 0x7c00u || ((neighbour ^ half) & 0x8000u)) {
        continue;
      }
      const double other = std::fabs(double{HalfToFloat(neighbour)} - value);
      ASSERT_LE(error, other) << value;
      if (error == other) {
        ASSERT_EQ(half & 1u, 0u) << "tie not to even: " << value;
      }
    }
  }
}

}  // namespace
}  // namespace spex
