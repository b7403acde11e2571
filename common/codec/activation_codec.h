// The split activation's encodings for the trip from edge to cloud:
// float32 (exact), float16 (half the bytes), int8 with a per-sample affine
// scale and zero point (a quarter), and uint8 for raw 8-bit sensor samples
// sent whole (exact). docs/WIRE_FORMAT.md gives each byte layout and error
// bound.
#ifndef SPEX_COMMON_CODEC_ACTIVATION_CODEC_H_
#define SPEX_COMMON_CODEC_ACTIVATION_CODEC_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "spex/v1/activation.pb.h"

namespace spex {

// The largest magnitude of a value that crosses the network, in every
// encoding (and of a raw input value): float16's largest finite value, so
// that a value one encoding carries, every encoding carries. With it a model
// proves at load that no input it accepts overflows float32 in any layer
// (Model::FromProto), so no answer is ever NaN.
inline constexpr float kMaxValueMagnitude = 65504.0f;
// The largest int8 scale: what the encoder makes of values within the
// bound. A decoder refuses larger ones, so a decoded value (at most 255
// steps from its zero point) stays within kMaxDecodedMagnitude.
inline constexpr float kMaxInt8Scale =
    static_cast<float>(2.0 * kMaxValueMagnitude / 255.0);
inline constexpr double kMaxDecodedMagnitude = 2.0 * kMaxValueMagnitude;

// OK when every value of `values` (samples of `width`, sample-major) is
// within +-kMaxValueMagnitude; else InvalidArgument naming the first one
// outside by sample and index. The codec's check, for values that arrive
// another way (the Open Inference Protocol's tensors).
absl::Status CheckActivationValues(absl::Span<const float> values, int width);

// Payloads larger than this are refused by the decoder before it allocates.
inline constexpr int64_t kMaxActivationValues = int64_t{1} << 24;

// "float32", "float16", "int8", "uint8".
absl::string_view EncodingName(v1::Encoding encoding);
absl::StatusOr<v1::Encoding> ParseEncoding(absl::string_view name);

// Bytes per value of `encoding` in `data`; 0 for an unknown encoding.
int BytesPerValue(v1::Encoding encoding);

// Bytes a payload of `samples` x `width` values puts on the wire in its data
// and parameters (not counting the message framing of a few bytes).
int64_t EncodedBytes(v1::Encoding encoding, int64_t width, int64_t samples);

// Encodes `samples` x `width` values, sample-major, into `payload` (its
// previous content is replaced; its buffers are reused). InvalidArgument on a
// value beyond +-kMaxValueMagnitude (or not finite), or for uint8 a value
// that is not an integer in [0, 255] (naming the sample and index), or on
// sizes that do not match.
absl::Status EncodeActivations(v1::Encoding encoding, int width, int samples,
                               absl::Span<const float> values,
                               v1::ActivationPayload* payload);

// Raw 8-bit samples (`samples` x `width` bytes, sample-major) as a uint8
// payload, byte for byte: what EncodeActivations makes of the same values
// as floats, without the round trip through them.
absl::Status EncodePixels(int width, int samples,
                          absl::Span<const uint8_t> pixels,
                          v1::ActivationPayload* payload);

// Decodes into `values` (resized to samples x width). InvalidArgument naming
// the problem when the encoding is unknown, the data size is not
// width x samples x element size, a parameter is missing, an int8 scale is
// not in (0, kMaxInt8Scale], a zero point is out of range, or a float value
// is beyond +-kMaxValueMagnitude or not finite; `values` is then
// unspecified.
absl::Status DecodeActivations(const v1::ActivationPayload& payload,
                               std::vector<float>* values);

// Decodes into a caller's buffer of exactly samples x width floats (no
// allocation, for the serving path).
absl::Status DecodeActivationsInto(const v1::ActivationPayload& payload,
                                   absl::Span<float> values);

}  // namespace spex

#endif  // SPEX_COMMON_CODEC_ACTIVATION_CODEC_H_
