#include "common/codec/activation_codec.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/codec/float16.h"
#include "common/sparsity/junction.h"
#include "common/status/status_macros.h"

namespace spex {
namespace {

// Values go on the wire little-endian; every platform spex targets is
// little-endian, which this build asserts rather than byte-swapping.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the wire format is little-endian");

constexpr int kInt8Min = -128;
constexpr int kInt8Max = 127;

absl::Status CheckSizes(int width, int samples) {
  if (width < 1 || width > kMaxJunctionWidth) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "activation width %d is outside [1, %d]", width, kMaxJunctionWidth));
  }
  if (samples < 1 || int64_t{width} * samples > kMaxActivationValues) {
    return absl::InvalidArgumentError(
        absl::StrFormat("activation payload of %d samples x %d values is "
                        "outside [1, %d] values",
                        samples, width, kMaxActivationValues));
  }
  return absl::OkStatus();
}

// The affine map of one sample's values onto [-128, 127]. The range always
// includes 0, so zeros (most of a ReLU activation) decode exactly.
void Int8Parameters(const float* x, int width, float* scale, int* zero_point) {
  float lo = 0.0f, hi = 0.0f;
  for (int i = 0; i < width; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
  const double range = static_cast<double>(hi) - lo;
  if (range == 0.0) {  // all zeros
    *scale = 1.0f;
    *zero_point = 0;
    return;
  }
  // A range so small that the scale would underflow still gets a usable,
  // positive scale; its values then all round to the zero point's level.
  *scale = std::max(static_cast<float>(range / (kInt8Max - kInt8Min)),
                    std::numeric_limits<float>::min());
  const long zp = std::lround(kInt8Min - lo / static_cast<double>(*scale));
  *zero_point = static_cast<int>(std::clamp<long>(zp, kInt8Min, kInt8Max));
}

}  // namespace

absl::string_view EncodingName(v1::Encoding encoding) {
  switch (encoding) {
    case v1::ENCODING_FLOAT32:
      return "float32";
    case v1::ENCODING_FLOAT16:
      return "float16";
    case v1::ENCODING_INT8:
      return "int8";
    case v1::ENCODING_UINT8:
      return "uint8";
    default:
      return "unknown";
  }
}

absl::StatusOr<v1::Encoding> ParseEncoding(absl::string_view name) {
  if (name == "float32") return v1::ENCODING_FLOAT32;
  if (name == "float16") return v1::ENCODING_FLOAT16;
  if (name == "int8") return v1::ENCODING_INT8;
  if (name == "uint8") return v1::ENCODING_UINT8;
  return absl::InvalidArgumentError(absl::StrFormat(
      "unknown encoding '%s' (expected float32, float16, int8 or uint8)",
      name));
}

int BytesPerValue(v1::Encoding encoding) {
  switch (encoding) {
    case v1::ENCODING_FLOAT32:
      return 4;
    case v1::ENCODING_FLOAT16:
      return 2;
    case v1::ENCODING_INT8:
    case v1::ENCODING_UINT8:
      return 1;
    default:
      return 0;
  }
}

int64_t EncodedBytes(v1::Encoding encoding, int64_t width, int64_t samples) {
  int64_t bytes = width * samples * BytesPerValue(encoding);
  // int8 adds a 4-byte scale and a zero point of 1-2 bytes (zig-zag varint).
  if (encoding == v1::ENCODING_INT8) bytes += samples * 6;
  return bytes;
}

absl::Status EncodePixels(int width, int samples,
                          absl::Span<const uint8_t> pixels,
                          v1::ActivationPayload* payload) {
  SPEX_RETURN_IF_ERROR(CheckSizes(width, samples));
  const size_t count = static_cast<size_t>(width) * samples;
  if (pixels.size() != count) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%d pixels given for %d samples x %d", pixels.size(), samples, width));
  }
  payload->Clear();
  payload->set_encoding(v1::ENCODING_UINT8);
  payload->set_width(static_cast<uint32_t>(width));
  payload->set_samples(static_cast<uint32_t>(samples));
  payload->mutable_data()->assign(reinterpret_cast<const char*>(pixels.data()),
                                  count);
  return absl::OkStatus();
}

absl::Status CheckActivationValues(absl::Span<const float> values, int width) {
  for (size_t i = 0; i < values.size(); ++i) {
    // Written so that NaN fails too.
    if (!(std::fabs(values[i]) <= kMaxValueMagnitude)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "sample %d, index %d is %g, beyond +-%g, the largest magnitude a "
          "value crossing the network may have",
          i / width, i % width, values[i], kMaxValueMagnitude));
    }
  }
  return absl::OkStatus();
}

absl::Status EncodeActivations(v1::Encoding encoding, int width, int samples,
                               absl::Span<const float> values,
                               v1::ActivationPayload* payload) {
  SPEX_RETURN_IF_ERROR(CheckSizes(width, samples));
  const size_t count = static_cast<size_t>(width) * samples;
  if (values.size() != count) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%d values given for %d samples x %d", values.size(), samples, width));
  }
  if (BytesPerValue(encoding) == 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("unknown encoding %d", encoding));
  }
  SPEX_RETURN_IF_ERROR(CheckActivationValues(values, width));
  for (size_t i = 0; i < count; ++i) {
    if (encoding == v1::ENCODING_UINT8 &&
        !(values[i] >= 0.0f && values[i] <= 255.0f &&
          values[i] == std::nearbyint(values[i]))) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "value of sample %d, index %d is %g, not an integer in [0, 255]: "
          "uint8 carries raw 8-bit samples only",
          i / width, i % width, values[i]));
    }
  }
  payload->Clear();
  payload->set_encoding(encoding);
  payload->set_width(static_cast<uint32_t>(width));
  payload->set_samples(static_cast<uint32_t>(samples));
  std::string* data = payload->mutable_data();
  data->resize(count * BytesPerValue(encoding));
  switch (encoding) {
    case v1::ENCODING_FLOAT32:
      std::memcpy(data->data(), values.data(), count * sizeof(float));
      break;
    case v1::ENCODING_FLOAT16:
      for (size_t i = 0; i < count; ++i) {
        const uint16_t half = FloatToHalf(values[i]);
        std::memcpy(data->data() + 2 * i, &half, 2);
      }
      break;
    case v1::ENCODING_INT8:
      for (int s = 0; s < samples; ++s) {
        const float* x = values.data() + static_cast<size_t>(s) * width;
        float scale;
        int zero_point;
        Int8Parameters(x, width, &scale, &zero_point);
        payload->add_scales(scale);
        payload->add_zero_points(zero_point);
        char* q = data->data() + static_cast<size_t>(s) * width;
        for (int i = 0; i < width; ++i) {
          const long level = std::lround(x[i] / scale) + zero_point;
          q[i] = static_cast<char>(
              static_cast<int8_t>(std::clamp<long>(level, kInt8Min, kInt8Max)));
        }
      }
      break;
    case v1::ENCODING_UINT8:
      for (size_t i = 0; i < count; ++i) {
        (*data)[i] = static_cast<char>(static_cast<uint8_t>(values[i]));
      }
      break;
    default:
      break;
  }
  return absl::OkStatus();
}

absl::Status DecodeActivationsInto(const v1::ActivationPayload& payload,
                                   absl::Span<float> values) {
  const int element = BytesPerValue(payload.encoding());
  if (element == 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("activation payload: unknown or missing encoding %d",
                        payload.encoding()));
  }
  if (payload.width() > static_cast<uint32_t>(kMaxJunctionWidth) ||
      payload.samples() > static_cast<uint32_t>(kMaxActivationValues)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "activation payload: %d samples x %d values is too large",
        payload.samples(), payload.width()));
  }
  const int width = static_cast<int>(payload.width());
  const int samples = static_cast<int>(payload.samples());
  SPEX_RETURN_IF_ERROR(CheckSizes(width, samples));
  const size_t count = static_cast<size_t>(width) * samples;
  if (payload.data().size() != count * element) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "activation payload: %d data bytes, but %d samples x %d values x %d "
        "bytes (%s) = %d",
        payload.data().size(), samples, width, element,
        EncodingName(payload.encoding()), count * element));
  }
  if (values.size() != count) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "activation payload holds %d values, the destination has room for %d",
        count, values.size()));
  }
  const bool int8 = payload.encoding() == v1::ENCODING_INT8;
  const size_t parameters = int8 ? samples : 0;
  if (static_cast<size_t>(payload.scales_size()) != parameters ||
      static_cast<size_t>(payload.zero_points_size()) != parameters) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "activation payload: %d scales and %d zero points, %s of %d samples "
        "needs %d of each",
        payload.scales_size(), payload.zero_points_size(),
        EncodingName(payload.encoding()), samples, parameters));
  }
  const char* data = payload.data().data();
  switch (payload.encoding()) {
    case v1::ENCODING_FLOAT32:
      std::memcpy(values.data(), data, count * sizeof(float));
      break;
    case v1::ENCODING_FLOAT16:
      for (size_t i = 0; i < count; ++i) {
        uint16_t half;
        std::memcpy(&half, data + 2 * i, 2);
        values[i] = HalfToFloat(half);
      }
      break;
    case v1::ENCODING_INT8:
      for (int s = 0; s < samples; ++s) {
        const float scale = payload.scales(s);
        const int zero_point = payload.zero_points(s);
        if (!(scale > 0.0f && scale <= kMaxInt8Scale)) {
          return absl::InvalidArgumentError(absl::StrFormat(
              "activation payload: sample %d has scale %g (must be finite and "
              "positive, at most %g: the largest an encoder makes of values "
              "within +-%g)",
              s, scale, kMaxInt8Scale, kMaxValueMagnitude));
        }
        if (zero_point < kInt8Min || zero_point > kInt8Max) {
          return absl::InvalidArgumentError(absl::StrFormat(
              "activation payload: sample %d has zero point %d, outside "
              "[-128, 127]",
              s, zero_point));
        }
        const auto* q = reinterpret_cast<const int8_t*>(data) +
                        static_cast<size_t>(s) * width;
        float* x = values.data() + static_cast<size_t>(s) * width;
        for (int i = 0; i < width; ++i) {
          x[i] = static_cast<float>(q[i] - zero_point) * scale;
        }
      }
      break;
    case v1::ENCODING_UINT8: {
      const auto* bytes = reinterpret_cast<const uint8_t*>(data);
      for (size_t i = 0; i < count; ++i) values[i] = bytes[i];
      break;
    }
    default:
      break;
  }
  // An int8 value is bounded by its scale, checked above.
  const bool floats = payload.encoding() == v1::ENCODING_FLOAT32 ||
                      payload.encoding() == v1::ENCODING_FLOAT16;
  absl::Status status =
      floats ? CheckActivationValues(values, width) : absl::OkStatus();
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("activation payload: ", status.message()));
  }
  return absl::OkStatus();
}

absl::Status DecodeActivations(const v1::ActivationPayload& payload,
                               std::vector<float>* values) {
  const size_t count = static_cast<size_t>(payload.width()) * payload.samples();
  if (count > static_cast<size_t>(kMaxActivationValues) ||
      payload.data().size() < count) {
    // Let the full check name the problem without allocating for it.
    return DecodeActivationsInto(payload, absl::Span<float>());
  }
  values->resize(count);
  return DecodeActivationsInto(payload, absl::MakeSpan(*values));
}

}  // namespace spex
