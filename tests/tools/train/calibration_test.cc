// Threshold calibration on a small synthetic set whose answers are known.
#include "tools/train/calibration.h"

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/model/confidence.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/tools/train/synthetic_predictions.h"

namespace spex {
namespace {

using ::testing::HasSubstr;

// One exit, confidences in [0.25, 1].
Predictions Synthetic(int n, double final_right, uint64_t seed) {
  return SyntheticPredictions(n, {0.25}, final_right, seed);
}

TEST(ConfidenceTest, Measures) {
  const float one_hot[] = {0, 1, 0, 0};
  const float uniform[] = {0.25f, 0.25f, 0.25f, 0.25f};
  EXPECT_FLOAT_EQ(Confidence(v1::CONFIDENCE_MEASURE_MAX_SOFTMAX, one_hot),
                  1.0f);
  EXPECT_FLOAT_EQ(Confidence(v1::CONFIDENCE_MEASURE_MAX_SOFTMAX, uniform),
                  0.25f);
  EXPECT_FLOAT_EQ(
      Confidence(v1::CONFIDENCE_MEASURE_NORMALIZED_ENTROPY, one_hot), 1.0f);
  EXPECT_NEAR(Confidence(v1::CONFIDENCE_MEASURE_NORMALIZED_ENTROPY, uniform),
              0.0f, 1e-6);
  const float half[] = {0.5f, 0.5f, 0, 0};  // H = log 2 = half of log 4
  EXPECT_NEAR(Confidence(v1::CONFIDENCE_MEASURE_NORMALIZED_ENTROPY, half), 0.5f,
              1e-6);
}

TEST(CalibrationTest, SweepCountsWhatItShould) {
  const Predictions p = Synthetic(4000, 0.95, 1);
  const CostModel cost{5000, 70};
  const Sweep sweep =
      SweepThresholds(p, 0, v1::CONFIDENCE_MEASURE_MAX_SOFTMAX, cost);
  ASSERT_EQ(sweep.points.size(), 201u);
  // Threshold 0: everything exits, accuracy is the exit's; threshold 1:
  // nothing exits (no confidence reaches 1 here), accuracy is the final's.
  EXPECT_DOUBLE_EQ(sweep.points.front().exit_fraction, 1.0);
  EXPECT_DOUBLE_EQ(sweep.points.front().overall_accuracy, sweep.exit_accuracy);
  EXPECT_DOUBLE_EQ(sweep.points.back().exit_fraction, 0.0);
  EXPECT_DOUBLE_EQ(sweep.points.back().overall_accuracy, sweep.full_accuracy);
  EXPECT_DOUBLE_EQ(sweep.points.back().bytes_sent_per_sample, 70.0);
  EXPECT_NEAR(sweep.full_accuracy, 0.95, 0.015);
  // Confidence is uniform on [0.25, 1]: threshold t lets (1 - t) / 0.75 exit.
  const PolicyPoint& mid = sweep.points[120];  // t = 0.6
  EXPECT_NEAR(mid.exit_fraction, 0.4 / 0.75, 0.03);
  EXPECT_NEAR(mid.bytes_sent_per_sample, (1 - mid.exit_fraction) * 70, 1e-9);
  EXPECT_EQ(mid.edge_macs_per_sample, 5000);
  // Exit accuracy among exiting samples is the mean of c over [t, 1].
  EXPECT_NEAR(mid.exit_accuracy, 0.8, 0.03);
  for (size_t i = 1; i < sweep.points.size(); ++i) {
    EXPECT_LE(sweep.points[i].exit_fraction, sweep.points[i - 1].exit_fraction);
  }
}

TEST(CalibrationTest, ChoiceKeepsAMarginThatHoldsOnFreshData) {
  const CostModel cost{5000, 70};
  CalibrationTarget target;
  target.max_drop_points = 2.0;
  target.judged_samples = 20000;
  int held = 0;
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    const Predictions validation = Synthetic(3000, 0.95, seed);
    const Predictions fresh = Synthetic(20000, 0.95, 1000 + seed);
    std::vector<Sweep> sweeps;
    for (auto m : {v1::CONFIDENCE_MEASURE_MAX_SOFTMAX,
                   v1::CONFIDENCE_MEASURE_NORMALIZED_ENTROPY}) {
      sweeps.push_back(SweepThresholds(validation, 0, m, cost));
    }
    auto choice = ChooseThreshold(sweeps, validation.samples, target);
    ASSERT_TRUE(choice.ok()) << choice.status();
    EXPECT_GT(choice->margin, 0.0);
    EXPECT_LE(100 * (choice->validation.drop + choice->margin), 2.0 + 1e-9);
    EXPECT_GT(choice->validation.exit_fraction, 0.05);
    const PolicyPoint on_fresh = EvaluatePolicy(
        fresh, 0, choice->measure, choice->validation.threshold, cost);
    held += 100 * on_fresh.drop <= 2.0;
  }
  // A 95 % one-sided margin: at most a rare miss over ten draws.
  EXPECT_GE(held, 9);

  CalibrationTarget fraction;
  fraction.exit_fraction = 0.5;
  const Predictions p = Synthetic(3000, 0.95, 3);
  auto choice = ChooseThreshold(
      {SweepThresholds(p, 0, v1::CONFIDENCE_MEASURE_MAX_SOFTMAX, cost)},
      p.samples, fraction);
  ASSERT_TRUE(choice.ok());
  EXPECT_LE(choice->validation.exit_fraction, 0.5);
  EXPECT_GT(choice->validation.exit_fraction, 0.47);
  CalibrationTarget both = fraction;
  both.max_drop_points = 1;
  EXPECT_FALSE(ChooseThreshold({}, 10, both).ok());
  CalibrationTarget negative_z = fraction;
  negative_z.z = -1;
  EXPECT_EQ(ChooseThreshold({}, 10, negative_z).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(CalibrationTest, WritesCsvAndSvg) {
  const Predictions p = Synthetic(500, 0.95, 4);
  const CostModel cost{5000, 70};
  std::vector<Sweep> sweeps = {
      SweepThresholds(p, 0, v1::CONFIDENCE_MEASURE_MAX_SOFTMAX, cost),
      SweepThresholds(p, 0, v1::CONFIDENCE_MEASURE_NORMALIZED_ENTROPY, cost)};
  CalibrationTarget target;
  target.max_drop_points = 3;
  auto choice = ChooseThreshold(sweeps, p.samples, target);
  ASSERT_TRUE(choice.ok());
  const std::string dir =
      testing::TempDir() + "/spex_calibration_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  ASSERT_TRUE(WriteSweepCsv(dir + "/s.csv", sweeps[0]).ok());
  ASSERT_TRUE(
      WriteTradeOffSvg(dir + "/t.svg", "test & <title>", sweeps, *choice).ok());
  std::ifstream csv(dir + "/s.csv");
  std::string header;
  std::getline(csv, header);
  EXPECT_EQ(header,
            "threshold,exit_fraction,exit_accuracy,overall_accuracy,"
            "edge_macs_per_sample,bytes_sent_per_sample");
  int rows = 0;
  for (std::string line; std::getline(csv, line);) ++rows;
  EXPECT_EQ(rows, 201);
  // A well-formed document (Python's XML parser is the judge).
  EXPECT_EQ(
      std::system(("python3 -c 'import sys, xml.dom.minidom as m; "
                   "d = m.parse(sys.argv[1]); "
                   "assert len(d.getElementsByTagName(\"polyline\")) == 2' " +
                   dir + "/t.svg")
                      .c_str()),
      0);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace spex
