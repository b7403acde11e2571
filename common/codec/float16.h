// IEEE 754 binary16 <-> binary32 in portable code, so that every platform
// produces the same bytes (hardware conversions differ in availability, not
// in results; this is not on a hot path that would need them).
#ifndef SPEX_COMMON_CODEC_FLOAT16_H_
#define SPEX_COMMON_CODEC_FLOAT16_H_

#include <cstdint>

namespace spex {

// The largest finite binary16 value.
inline constexpr float kFloat16Max = 65504.0f;

// Rounds to nearest, ties to even. Values beyond kFloat16Max (after
// rounding) become infinity: callers check the range first.
uint16_t FloatToHalf(float value);
float HalfToFloat(uint16_t half);

}  // namespace spex

#endif  // SPEX_COMMON_CODEC_FLOAT16_H_
