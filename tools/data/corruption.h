// Seeded, deterministic corruptions of 8-bit images, for replaying a drift
// of the inputs (in the spirit of the "-C" corruption benchmarks): Gaussian
// noise, blur, contrast, brightness, and a shift of a few pixels, each at
// severities 1 to 5. The same (seed, sample id) always gives the same
// image, so the full network's label of every corrupted image can be
// computed offline (spex-model labels) and compared with what a stage
// answered.
//
// A schedule names a corruption for ranges of sample ids:
//   "0-9999:none,10000-19999:noise:3,20000-29999:none"
// Each range includes both ends ("a-b": ids a to b); ids outside every
// range are left as they are.
#ifndef SPEX_TOOLS_DATA_CORRUPTION_H_
#define SPEX_TOOLS_DATA_CORRUPTION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "tools/data/dataset.h"

namespace spex {

enum class Corruption { kNone, kNoise, kBlur, kContrast, kBrightness, kShift };

// "none", "noise", "blur", "contrast", "brightness", "shift".
const char* CorruptionName(Corruption corruption);

struct DriftSegment {
  int64_t first = 0;  // sample ids first..last, both included
  int64_t last = 0;
  Corruption corruption = Corruption::kNone;
  int severity = 0;  // 1..5 (0 for none)
};

struct DriftSchedule {
  std::vector<DriftSegment> segments;
  uint64_t seed = 1;

  // InvalidArgument naming the bad part: an unknown corruption, a severity
  // outside 1..5, a range that is empty or overlaps another.
  static absl::StatusOr<DriftSchedule> Parse(const std::string& text,
                                             uint64_t seed);
  // The segment holding `id`; a kNone segment when none does.
  DriftSegment At(int64_t id) const;
};

// Corrupts one image of `shape` {height, width} in place; `id` seeds the
// randomness with the schedule's seed.
void Corrupt(const DriftSegment& segment, uint64_t seed, int64_t id, int height,
             int width, absl::Span<uint8_t> image);

// `samples` images: image i is data's image i % size, corrupted as the
// schedule says for id i (labels follow). REQUIRES data.eight_bit where the
// schedule corrupts (the corruptions work on 8-bit images).
Dataset ApplyDrift(const Dataset& data, int64_t samples,
                   const DriftSchedule& schedule);

}  // namespace spex

#endif  // SPEX_TOOLS_DATA_CORRUPTION_H_
