#include "tools/data/corruption.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace spex {
namespace {

constexpr Corruption kAll[] = {Corruption::kNone,       Corruption::kNoise,
                               Corruption::kBlur,       Corruption::kContrast,
                               Corruption::kBrightness, Corruption::kShift};

// Per severity 1..5 (index 0 unused). Noise and brightness on the 0..1
// scale of a pixel, as the "-C" benchmarks give them.
constexpr double kNoiseSigma[] = {0, 0.04, 0.08, 0.12, 0.18, 0.26};
constexpr double kBlurSigma[] = {0, 0.5, 0.75, 1.0, 1.25, 1.5};
constexpr double kContrast[] = {1, 0.7, 0.55, 0.4, 0.3, 0.2};
constexpr double kBrightness[] = {0, 0.1, 0.2, 0.3, 0.4, 0.5};
constexpr int kShiftPixels[] = {0, 1, 2, 3, 4, 5};

uint8_t ToPixel(double v) {
  return static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L));
}

// The sample's own generator: the same bits on every platform (uniforms
// and normals are made here from its raw output, not by the library's
// distributions, whose algorithms are left to each implementation).
class SampleRandom {
 public:
  SampleRandom(uint64_t seed, int64_t id)
      : engine_(seed * 0x9E3779B97F4A7C15ULL ^
                static_cast<uint64_t>(id) * 0xC2B2AE3D27D4EB4FULL) {}
  double Uniform() {  // [0, 1)
    return static_cast<double>(engine_() >> 11) * 0x1.0p-53;
  }
  double Normal() {  // Box-Muller
    const double u = 1.0 - Uniform(), v = Uniform();
    return std::sqrt(-2.0 * std::log(u)) * std::cos(2.0 * M_PI * v);
  }

 private:
  std::mt19937_64 engine_;
};

void Blur(double sigma, int height, int width, absl::Span<uint8_t> image) {
  const int radius = static_cast<int>(std::ceil(3 * sigma));
  std::vector<double> kernel(2 * radius + 1);
  double sum = 0;
  for (int i = -radius; i <= radius; ++i) {
    kernel[i + radius] = std::exp(-0.5 * i * i / (sigma * sigma));
    sum += kernel[i + radius];
  }
  for (double& k : kernel) k /= sum;
  std::vector<double> rows(image.size()), out(image.size());
  auto at = [](int i, int n) { return std::clamp(i, 0, n - 1); };
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      double v = 0;
      for (int i = -radius; i <= radius; ++i) {
        v += kernel[i + radius] * image[y * width + at(x + i, width)];
      }
      rows[y * width + x] = v;
    }
  }
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      double v = 0;
      for (int i = -radius; i <= radius; ++i) {
        v += kernel[i + radius] * rows[at(y + i, height) * width + x];
      }
      image[y * width + x] = ToPixel(v);
    }
  }
}

}  // namespace

const char* CorruptionName(Corruption corruption) {
  switch (corruption) {
    case Corruption::kNone:
      return "none";
    case Corruption::kNoise:
      return "noise";
    case Corruption::kBlur:
      return "blur";
    case Corruption::kContrast:
      return "contrast";
    case Corruption::kBrightness:
      return "brightness";
    case Corruption::kShift:
      return "shift";
  }
  return "none";
}

absl::StatusOr<DriftSchedule> DriftSchedule::Parse(const std::string& text,
                                                   uint64_t seed) {
  DriftSchedule schedule;
  schedule.seed = seed;
  for (absl::string_view part :
       absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    part = absl::StripAsciiWhitespace(part);
    const std::vector<absl::string_view> fields = absl::StrSplit(part, ':');
    const std::vector<absl::string_view> range = absl::StrSplit(fields[0], '-');
    DriftSegment segment;
    if (fields.size() < 2 || fields.size() > 3 || range.size() != 2 ||
        !absl::SimpleAtoi(range[0], &segment.first) ||
        !absl::SimpleAtoi(range[1], &segment.last) || segment.first < 0 ||
        segment.last < segment.first) {
      return absl::InvalidArgumentError(absl::StrCat(
          "drift: '", part,
          "' is not FIRST-LAST:CORRUPTION[:SEVERITY] with FIRST <= LAST "
          "(e.g. 10000-19999:noise:3)"));
    }
    bool known = false;
    for (Corruption c : kAll) {
      if (fields[1] == CorruptionName(c)) {
        segment.corruption = c;
        known = true;
      }
    }
    if (!known) {
      return absl::InvalidArgumentError(absl::StrCat(
          "drift: unknown corruption '", fields[1], "' in '", part,
          "'; known: none, noise, blur, contrast, brightness, shift"));
    }
    if (segment.corruption != Corruption::kNone) {
      if (fields.size() != 3 ||
          !absl::SimpleAtoi(fields[2], &segment.severity) ||
          segment.severity < 1 || segment.severity > 5) {
        return absl::InvalidArgumentError(
            absl::StrCat("drift: '", part, "' needs a severity from 1 to 5"));
      }
    }
    for (const DriftSegment& other : schedule.segments) {
      if (segment.first <= other.last && other.first <= segment.last) {
        return absl::InvalidArgumentError(absl::StrCat(
            "drift: '", part, "' overlaps ", other.first, "-", other.last));
      }
    }
    schedule.segments.push_back(segment);
  }
  if (schedule.segments.empty()) {
    return absl::InvalidArgumentError("drift: no range given");
  }
  return schedule;
}

DriftSegment DriftSchedule::At(int64_t id) const {
  for (const DriftSegment& segment : segments) {
    if (id >= segment.first && id <= segment.last) return segment;
  }
  return DriftSegment{id, id, Corruption::kNone, 0};
}

void Corrupt(const DriftSegment& segment, uint64_t seed, int64_t id, int height,
             int width, absl::Span<uint8_t> image) {
  const int s = segment.severity;
  SampleRandom random(seed, id);
  switch (segment.corruption) {
    case Corruption::kNone:
      return;
    case Corruption::kNoise:
      for (uint8_t& p : image) {
        p = ToPixel(p + 255.0 * kNoiseSigma[s] * random.Normal());
      }
      return;
    case Corruption::kBlur:
      Blur(kBlurSigma[s], height, width, image);
      return;
    case Corruption::kContrast: {
      double mean = 0;
      for (uint8_t p : image) mean += p;
      mean /= static_cast<double>(image.size());
      for (uint8_t& p : image) p = ToPixel((p - mean) * kContrast[s] + mean);
      return;
    }
    case Corruption::kBrightness:
      for (uint8_t& p : image) p = ToPixel(p + 255.0 * kBrightness[s]);
      return;
    case Corruption::kShift: {
      // One of the eight directions, by the sample's draw.
      static constexpr int kDx[] = {1, 1, 0, -1, -1, -1, 0, 1};
      static constexpr int kDy[] = {0, 1, 1, 1, 0, -1, -1, -1};
      const int d = static_cast<int>(random.Uniform() * 8);
      const int dx = kDx[d] * kShiftPixels[s], dy = kDy[d] * kShiftPixels[s];
      const std::vector<uint8_t> source(image.begin(), image.end());
      for (int y = 0; y < height; ++y) {
        for (int x = 0; x < width; ++x) {
          const int sx = x - dx, sy = y - dy;
          image[y * width + x] =
              (sx >= 0 && sx < width && sy >= 0 && sy < height)
                  ? source[sy * width + sx]
                  : 0;
        }
      }
      return;
    }
  }
}

Dataset ApplyDrift(const Dataset& data, int64_t samples,
                   const DriftSchedule& schedule) {
  Dataset out = data;
  out.labels.resize(samples);
  out.values.resize(static_cast<size_t>(samples) * data.width);
  const int height = data.shape.empty() ? 1 : data.shape[0];
  const int width = data.width / height;
  for (int64_t i = 0; i < samples; ++i) {
    const int64_t source = i % data.size();
    out.labels[i] = data.labels[source];
    const DriftSegment& segment = schedule.At(i);
    if (segment.corruption == Corruption::kNone) {
      std::copy_n(data.sample(static_cast<int>(source)), data.width,
                  out.values.begin() + i * data.width);
      continue;
    }
    const std::string pixels = data.PixelBytes(static_cast<int>(source));
    std::vector<uint8_t> image(pixels.begin(), pixels.end());
    Corrupt(segment, schedule.seed, i, height, width, absl::MakeSpan(image));
    std::copy(image.begin(), image.end(), out.values.begin() + i * data.width);
  }
  return out;
}

}  // namespace spex
