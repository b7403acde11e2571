#include "common/codec/float16.h"

#include <cstring>

namespace spex {
namespace {

uint32_t BitsOf(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

float FloatOf(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

}  // namespace

uint16_t FloatToHalf(float value) {
  const uint32_t bits = BitsOf(value);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude >= 0x7f800000u) {  // Inf or NaN
    return static_cast<uint16_t>(sign | 0x7c00u |
                                 (magnitude > 0x7f800000u ? 0x200u : 0u));
  }
  const int exponent = static_cast<int>(magnitude >> 23) - 127 + 15;
  if (exponent >= 31) return static_cast<uint16_t>(sign | 0x7c00u);
  if (exponent <= 0) {
    // Subnormal half (or zero): shift the full significand into place and
    // round to nearest even on the bits shifted out.
    if (exponent < -10) return sign;
    const uint32_t significand = (magnitude & 0x7fffffu) | 0x800000u;
    const int shift = 14 - exponent;
    uint32_t half = significand >> shift;
    const uint32_t rest = significand & ((1u << shift) - 1);
    const uint32_t halfway = 1u << (shift - 1);
    if (rest > halfway || (rest == halfway && (half & 1u))) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t half =
      (static_cast<uint32_t>(exponent) << 10) | ((magnitude >> 13) & 0x3ffu);
  const uint32_t rest = magnitude & 0x1fffu;
  // A carry out of the significand correctly bumps the exponent, up to Inf.
  if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) ++half;
  return static_cast<uint16_t>(sign | half);
}

float HalfToFloat(uint16_t half) {
  const uint32_t sign = static_cast<uint32_t>(half & 0x8000u) << 16;
  const uint32_t exponent = (half >> 10) & 0x1fu;
  const uint32_t significand = half & 0x3ffu;
  if (exponent == 0) {
    // Zero or subnormal: significand x 2^-24, exact in binary32.
    const float magnitude =
        static_cast<float>(significand) * (1.0f / 16777216.0f);
    return sign != 0 ? -magnitude : magnitude;
  }
  if (exponent == 31) {
    return FloatOf(sign | 0x7f800000u | (significand << 13));
  }
  return FloatOf(sign | ((exponent - 15 + 127) << 23) | (significand << 13));
}

}  // namespace spex
