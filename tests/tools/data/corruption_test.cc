#include "tools/data/corruption.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace spex {
namespace {

using ::testing::HasSubstr;

// 12 images of 28x28 with a bright square on a dark ground: corruptions
// have edges, a mean and a background to move.
Dataset Squares() {
  Dataset data;
  data.eight_bit = true;
  data.name = "squares";
  data.shape = {28, 28};
  data.width = 28 * 28;
  data.classes = 2;
  std::mt19937 random(7);
  for (int i = 0; i < 12; ++i) {
    data.labels.push_back(static_cast<uint8_t>(i % 2));
    for (int y = 0; y < 28; ++y) {
      for (int x = 0; x < 28; ++x) {
        const bool inside = y >= 8 && y < 20 && x >= 6 + i % 4 && x < 18;
        data.values.push_back(
            static_cast<uint8_t>(inside ? 200 + random() % 40 : random() % 30));
      }
    }
  }
  return data;
}

double MeanAbsoluteChange(const Dataset& a, const Dataset& b, int64_t first,
                          int64_t last) {
  double sum = 0;
  for (int64_t i = first; i <= last; ++i) {
    for (int p = 0; p < a.width; ++p) {
      sum += std::abs(a.values[i * a.width + p] - b.values[i * b.width + p]);
    }
  }
  return sum / static_cast<double>((last - first + 1) * a.width);
}

TEST(DriftScheduleTest, ParsesRangesAndNamesWhatIsWrong) {
  auto schedule =
      DriftSchedule::Parse("0-9:none, 10-19:noise:3,20-29:brightness:5", 4);
  ASSERT_TRUE(schedule.ok()) << schedule.status();
  EXPECT_EQ(schedule->seed, 4u);
  EXPECT_EQ(schedule->At(15).corruption, Corruption::kNoise);
  EXPECT_EQ(schedule->At(15).severity, 3);
  EXPECT_EQ(schedule->At(29).corruption, Corruption::kBrightness);
  EXPECT_EQ(schedule->At(30).corruption, Corruption::kNone);  // outside

  const struct {
    const char* text;
    const char* names;
  } bad[] = {
      {"", "no range"},
      {"5-2:noise:1", "FIRST <= LAST"},
      {"0-9:fog:2", "unknown corruption 'fog'"},
      {"0-9:blur", "severity from 1 to 5"},
      {"0-9:blur:6", "severity from 1 to 5"},
      {"0-9:shift:2,5-12:noise:1", "overlaps 0-9"},
      {"x-9:noise:1", "FIRST-LAST:CORRUPTION"},
  };
  for (const auto& b : bad) {
    auto parsed = DriftSchedule::Parse(b.text, 1);
    ASSERT_FALSE(parsed.ok()) << b.text;
    EXPECT_THAT(std::string(parsed.status().message()), HasSubstr(b.names))
        << b.text;
  }
}

TEST(CorruptionTest, EveryKindChangesItsRangeOnlyAndMoreWithSeverity) {
  const Dataset data = Squares();
  for (const char* kind :
       {"noise", "blur", "contrast", "brightness", "shift"}) {
    double previous = 0;
    for (int severity : {1, 3, 5}) {
      const std::string text =
          "12-23:" + std::string(kind) + ":" + std::to_string(severity);
      auto schedule = DriftSchedule::Parse(text, 1);
      ASSERT_TRUE(schedule.ok()) << schedule.status();
      const Dataset out = ApplyDrift(data, 36, *schedule);
      ASSERT_EQ(out.size(), 36);
      const Dataset clean =
          ApplyDrift(data, 36, *DriftSchedule::Parse("0-0:none", 1));
      // Ids 0-11 and 24-35 are the images as they were, labels follow.
      EXPECT_EQ(MeanAbsoluteChange(out, clean, 0, 11), 0) << text;
      EXPECT_EQ(MeanAbsoluteChange(out, clean, 24, 35), 0) << text;
      for (int i = 0; i < 36; ++i)
        EXPECT_EQ(out.labels[i], data.labels[i % 12]);
      const double change = MeanAbsoluteChange(out, clean, 12, 23);
      EXPECT_GT(change, 1.0) << text;
      EXPECT_GE(change, previous) << text << ": severity " << severity
                                  << " changes less than a lower one";
      previous = change;
    }
  }
}

TEST(CorruptionTest, SameSeedSameImagesOtherSeedOtherNoise) {
  const Dataset data = Squares();
  const auto one = DriftSchedule::Parse("0-23:noise:2", 1);
  const auto other = DriftSchedule::Parse("0-23:noise:2", 2);
  ASSERT_TRUE(one.ok() && other.ok());
  EXPECT_EQ(ApplyDrift(data, 24, *one).values,
            ApplyDrift(data, 24, *one).values);
  EXPECT_NE(ApplyDrift(data, 24, *one).values,
            ApplyDrift(data, 24, *other).values);
  // An image's corruption depends on its id, not on what came before:
  // replaying from id 12 gives ids 12.. the same pixels.
  const Dataset all = ApplyDrift(data, 24, *one);
  const std::string pixels = data.PixelBytes(0);
  std::vector<uint8_t> image(pixels.begin(), pixels.end());
  Corrupt(one->At(12), one->seed, 12, 28, 28, absl::MakeSpan(image));
  EXPECT_TRUE(std::equal(image.begin(), image.end(), all.sample(12)));
}

}  // namespace
}  // namespace spex
