#include "common/codec/activation_codec.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace spex {
namespace {

using ::testing::HasSubstr;

constexpr v1::Encoding kEncodings[] = {v1::ENCODING_FLOAT32,
                                       v1::ENCODING_FLOAT16, v1::ENCODING_INT8};

// The largest error the encoding allows for value x of a sample whose values
// span [lo, hi] (see docs/WIRE_FORMAT.md).
double ErrorBound(v1::Encoding encoding, double x, double lo, double hi) {
  switch (encoding) {
    case v1::ENCODING_FLOAT32:
      return 0.0;
    case v1::ENCODING_FLOAT16:
      // Half an ulp of the value, or of the smallest subnormal.
      return std::max(std::fabs(x) * std::ldexp(1.0, -11),
                      std::ldexp(1.0, -25));
    case v1::ENCODING_INT8: {
      const double scale = (std::max(hi, 0.0) - std::min(lo, 0.0)) / 255.0;
      // Half a step, plus float rounding of the scale and the product.
      return 0.5 * scale + 1e-6 * std::max(std::fabs(lo), std::fabs(hi));
    }
    default:
      return 0.0;
  }
}

struct Case {
  std::string name;
  std::vector<float> values;
};

std::vector<Case> Cases(int width, int samples, std::mt19937& rng) {
  const size_t n = static_cast<size_t>(width) * samples;
  std::vector<Case> cases;
  for (double range : {1e-6, 1e-2, 1.0, 30.0, 6e4}) {
    std::normal_distribution<float> normal(0.0f, static_cast<float>(range));
    Case signed_case{"normal*" + std::to_string(range), {}};
    Case relu_case{"relu*" + std::to_string(range), {}};
    for (size_t i = 0; i < n; ++i) {
      const float v = std::clamp(normal(rng), -65000.0f, 65000.0f);
      signed_case.values.push_back(v);
      relu_case.values.push_back(std::max(v, 0.0f));
    }
    cases.push_back(signed_case);
    cases.push_back(relu_case);
  }
  cases.push_back({"zeros", std::vector<float>(n, 0.0f)});
  cases.push_back({"all equal positive", std::vector<float>(n, 3.75f)});
  cases.push_back({"all equal negative", std::vector<float>(n, -0.3f)});
  Case outlier{"one outlier", std::vector<float>(n, 0.01f)};
  outlier.values[n / 2] = 5000.0f;
  cases.push_back(outlier);
  return cases;
}

TEST(ActivationCodecTest, RoundTripWithinTheBoundOfEachEncoding) {
  std::mt19937 rng(std::random_device{}());
  for (int width : {1, 3, 8, 64, 100, 513, 4096}) {
    for (int samples : {1, 3}) {
      for (const Case& c : Cases(width, samples, rng)) {
        for (v1::Encoding encoding : kEncodings) {
          SCOPED_TRACE(testing::Message()
                       << EncodingName(encoding) << " " << c.name << " width "
                       << width << " samples " << samples);
          v1::ActivationPayload payload;
          ASSERT_TRUE(
              EncodeActivations(encoding, width, samples, c.values, &payload)
                  .ok());
          EXPECT_EQ(
              payload.data().size(),
              static_cast<size_t>(width) * samples * BytesPerValue(encoding));
          // What crosses the network is the serialised message.
          v1::ActivationPayload received;
          ASSERT_TRUE(received.ParseFromString(payload.SerializeAsString()));
          std::vector<float> decoded;
          ASSERT_TRUE(DecodeActivations(received, &decoded).ok());
          ASSERT_EQ(decoded.size(), c.values.size());
          for (int s = 0; s < samples; ++s) {
            const auto first = c.values.begin() + s * width;
            const double lo = *std::min_element(first, first + width);
            const double hi = *std::max_element(first, first + width);
            for (int i = 0; i < width; ++i) {
              const double x = c.values[s * width + i];
              const double error = std::fabs(decoded[s * width + i] - x);
              ASSERT_LE(error, ErrorBound(encoding, x, lo, hi))
                  << "sample " << s << " index " << i << " value " << x;
              if (x == 0.0) {
                ASSERT_EQ(decoded[s * width + i], 0.0f);
              }
            }
          }
        }
      }
    }
  }
}

TEST(ActivationCodecTest, EncodedBytesMatchTheSerialisedSize) {
  std::vector<float> values(64 * 2, 0.5f);
  for (v1::Encoding encoding : kEncodings) {
    v1::ActivationPayload payload;
    ASSERT_TRUE(EncodeActivations(encoding, 64, 2, values, &payload).ok());
    const int64_t estimate = EncodedBytes(encoding, 64, 2);
    const int64_t actual = static_cast<int64_t>(payload.ByteSizeLong());
    // Framing (tags and lengths) adds a few bytes beyond the estimate.
    EXPECT_LE(estimate, actual) << EncodingName(encoding);
    EXPECT_LE(actual - estimate, 16) << EncodingName(encoding);
  }
}

TEST(ActivationCodecTest, EncoderRejectsBadValues) {
  v1::ActivationPayload payload;
  std::vector<float> values = {1.0f, std::numeric_limits<float>::quiet_NaN()};
  EXPECT_THAT(
      EncodeActivations(v1::ENCODING_INT8, 2, 1, values, &payload).message(),
      HasSubstr("sample 0, index 1 is nan"));
  values[1] = std::numeric_limits<float>::infinity();
  EXPECT_FALSE(
      EncodeActivations(v1::ENCODING_FLOAT32, 2, 1, values, &payload).ok());
  // One bound for every encoding: float16's largest value.
  for (v1::Encoding encoding :
       {v1::ENCODING_FLOAT32, v1::ENCODING_FLOAT16, v1::ENCODING_INT8}) {
    values[1] = 65504.0f;
    EXPECT_TRUE(EncodeActivations(encoding, 2, 1, values, &payload).ok());
    for (float extreme : {65505.0f, -1e5f, 3e38f}) {
      values[1] = extreme;
      EXPECT_THAT(EncodeActivations(encoding, 2, 1, values, &payload).message(),
                  HasSubstr(absl::StrFormat(
                      "sample 0, index 1 is %g, beyond +-65504", extreme)));
    }
  }
  values[1] = 1e5f;
  EXPECT_THAT(
      EncodeActivations(v1::ENCODING_FLOAT32, 3, 1, values, &payload).message(),
      HasSubstr("2 values given for 1 samples x 3"));
  EXPECT_FALSE(
      EncodeActivations(v1::ENCODING_UNSPECIFIED, 2, 1, values, &payload).ok());
  EXPECT_FALSE(EncodeActivations(v1::ENCODING_INT8, 0, 0, {}, &payload).ok());
}

v1::ActivationPayload ValidInt8Payload() {
  v1::ActivationPayload payload;
  const std::vector<float> values = {0.0f, 1.0f, 2.0f, -1.0f, 0.5f, 0.25f};
  EXPECT_TRUE(
      EncodeActivations(v1::ENCODING_INT8, 3, 2, values, &payload).ok());
  return payload;
}

TEST(ActivationCodecTest, DecoderNamesEachProblem) {
  std::vector<float> out;
  const auto decode_error = [&](const v1::ActivationPayload& p) {
    const absl::Status status = DecodeActivations(p, &out);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    return std::string(status.message());
  };
  v1::ActivationPayload p = ValidInt8Payload();
  ASSERT_TRUE(DecodeActivations(p, &out).ok());

  p.mutable_data()->pop_back();
  EXPECT_THAT(decode_error(p),
              HasSubstr("5 data bytes, but 2 samples x 3 values"));
  p = ValidInt8Payload();
  p.set_encoding(static_cast<v1::Encoding>(17));
  EXPECT_THAT(decode_error(p), HasSubstr("unknown or missing encoding 17"));
  p = ValidInt8Payload();
  p.set_scales(1, std::numeric_limits<float>::quiet_NaN());
  EXPECT_THAT(decode_error(p), HasSubstr("sample 1 has scale nan"));
  p.set_scales(1, std::numeric_limits<float>::infinity());
  EXPECT_THAT(decode_error(p), HasSubstr("sample 1 has scale inf"));
  p.set_scales(1, 0.0f);
  EXPECT_THAT(decode_error(p), HasSubstr("must be finite and positive"));
  p = ValidInt8Payload();
  p.set_zero_points(0, 300);
  EXPECT_THAT(decode_error(p), HasSubstr("zero point 300"));
  p = ValidInt8Payload();
  p.mutable_scales()->RemoveLast();
  EXPECT_THAT(decode_error(p), HasSubstr("1 scales and 2 zero points"));
  p = ValidInt8Payload();
  p.set_width(0);
  EXPECT_THAT(decode_error(p), HasSubstr("width 0"));
  p = ValidInt8Payload();
  p.set_samples(4000000000u);
  EXPECT_THAT(decode_error(p), HasSubstr("too large"));
  p = ValidInt8Payload();
  p.set_scales(0, 3e38f);  // finite, but the values overflow
  EXPECT_THAT(decode_error(p), HasSubstr("sample 0 has scale 3e+38"));
  p.set_scales(0, 1e36f);  // finite values near 1.3e38
  EXPECT_THAT(decode_error(p),
              HasSubstr("sample 0 has scale 1e+36 (must be finite and "
                        "positive, at most 513.757"));
  // The largest scale the encoder makes decodes.
  p.set_scales(0, kMaxInt8Scale);
  EXPECT_TRUE(DecodeActivations(p, &out).ok());

  v1::ActivationPayload f32;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  f32.set_encoding(v1::ENCODING_FLOAT32);
  f32.set_width(1);
  f32.set_samples(1);
  f32.set_data(std::string(reinterpret_cast<const char*>(&nan), 4));
  EXPECT_THAT(decode_error(f32), HasSubstr("sample 0, index 0 is nan"));
  f32.add_scales(1.0f);
  f32.add_zero_points(0);
  EXPECT_THAT(decode_error(f32), HasSubstr("needs 0 of each"));

  std::vector<float> small(5);
  EXPECT_THAT(DecodeActivationsInto(ValidInt8Payload(), absl::MakeSpan(small))
                  .message(),
              HasSubstr("room for 5"));
}

TEST(ActivationCodecTest, GarbageBytesNeverDecodeSilently) {
  std::mt19937 rng(std::random_device{}());
  std::vector<float> out;
  int decoded = 0;
  for (int trial = 0; trial < 20000; ++trial) {
    std::string bytes = ValidInt8Payload().SerializeAsString();
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      bytes[rng() % bytes.size()] ^= static_cast<char>(1 << (rng() % 8));
    }
    v1::ActivationPayload payload;
    if (!payload.ParseFromString(bytes)) continue;
    if (DecodeActivations(payload, &out).ok()) {
      ++decoded;
      ASSERT_EQ(out.size(), size_t{payload.width()} * payload.samples());
      for (float v : out) ASSERT_TRUE(std::isfinite(v));
    }
  }
  // Some flips hit the data bytes and still decode: that is a valid payload.
  EXPECT_GT(decoded, 0);
}

TEST(ActivationCodecTest, EncodingNames) {
  for (v1::Encoding encoding : kEncodings) {
    EXPECT_EQ(*ParseEncoding(EncodingName(encoding)), encoding);
  }
  EXPECT_EQ(*ParseEncoding("uint8"), v1::ENCODING_UINT8);
  EXPECT_THAT(ParseEncoding("bf16").status().message(), HasSubstr("'bf16'"));
}

TEST(ActivationCodecTest, Uint8CarriesRawBytesExactly) {
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> byte(0, 255);
  for (int width : {1, 7, 784}) {
    for (int samples : {1, 5}) {
      std::vector<float> raw(static_cast<size_t>(width) * samples);
      for (float& v : raw) v = static_cast<float>(byte(rng));
      raw[0] = 0.0f;
      raw.back() = 255.0f;
      v1::ActivationPayload payload;
      ASSERT_TRUE(
          EncodeActivations(v1::ENCODING_UINT8, width, samples, raw, &payload)
              .ok());
      EXPECT_EQ(payload.data().size(), raw.size());
      EXPECT_EQ(payload.scales_size(), 0);
      EXPECT_EQ(EncodedBytes(v1::ENCODING_UINT8, width, samples),
                static_cast<int64_t>(raw.size()));
      std::vector<float> decoded;
      ASSERT_TRUE(DecodeActivations(payload, &decoded).ok());
      EXPECT_EQ(decoded, raw);
    }
  }
}

TEST(ActivationCodecTest, Uint8RefusesValuesThatAreNotBytes) {
  v1::ActivationPayload payload;
  for (float bad : {-1.0f, 256.0f, 3.5f}) {
    const absl::Status status =
        EncodeActivations(v1::ENCODING_UINT8, 2, 1, {0.0f, bad}, &payload);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(status.message()),
                HasSubstr("not an integer in [0, 255]"));
  }
  payload.set_encoding(v1::ENCODING_UINT8);
  payload.set_width(4);
  payload.set_samples(1);
  payload.set_data("abc");
  std::vector<float> decoded;
  const absl::Status status = DecodeActivations(payload, &decoded);
  EXPECT_THAT(std::string(status.message()), HasSubstr("3 data bytes"));
}

}  // namespace
}  // namespace spex
