// libFuzzer target over the activation decoder, which reads what arrives
// from the network: any ActivationPayload message must decode to finite
// values of its declared shape, or give an error; never a crash, an
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
  for (float v : values) {
    if (!std::isfinite(v)) std::abort();
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
  if (payload.encoding() != spex::v1::ENCODING_INT8 && round_trip != values) {
    std::abort();
  }
  return 0;
}
