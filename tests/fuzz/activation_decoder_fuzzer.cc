// libFuzzer target over the activation decoder, which reads what arrives
// from the network: any ActivationPayload message must decode to values of
// its declared shape within kMaxDecodedMagnitude (so that no model the
// loader accepts can overflow on them), or give an error; never a crash, an
// allocation the payload's own bytes do not justify, or a sanitizer report.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "common/codec/activation_codec.h"
#include "spex/v1/activation.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  spex::v1::ActivationPayload payload;
  if (!payload.ParseFromArray(data, static_cast<int>(size))) return 0;
  std::vector<float> values;
  if (!spex::DecodeActivations(payload, &values).ok()) return 0;
  if (values.size() != size_t{payload.width()} * payload.samples())
    std::abort();
  const bool int8 = payload.encoding() == spex::v1::ENCODING_INT8;
  bool within_value_bound = true;
  for (float v : values) {
    if (!(std::fabs(v) <= spex::kMaxDecodedMagnitude)) std::abort();
    within_value_bound =
        within_value_bound && std::fabs(v) <= spex::kMaxValueMagnitude;
  }
  // Only int8 decodes beyond the value bound (a level up to 255 steps from
  // its zero point); what no encoder makes is not encoded again.
  if (!within_value_bound) {
    if (!int8) std::abort();
    return 0;
  }
  // What decodes must encode again, to the same values (int8 re-quantises,
  // so only its shape is compared).
  spex::v1::ActivationPayload again;
  if (!spex::EncodeActivations(
           payload.encoding(), static_cast<int>(payload.width()),
           static_cast<int>(payload.samples()), values, &again)
           .ok()) {
    std::abort();
  }
  std::vector<float> round_trip;
  if (!spex::DecodeActivations(again, &round_trip).ok()) std::abort();
  if (round_trip.size() != values.size()) std::abort();
  if (!int8 && round_trip != values) {
    std::abort();
  }
  return 0;
}
