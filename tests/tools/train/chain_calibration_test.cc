// Choosing every exit's threshold together, for a chain of three stages, on
// synthetic predictions whose answers are known.
#include "tools/train/chain_calibration.h"

#include "gtest/gtest.h"
#include "tests/common/model/test_models.h"
#include "tests/tools/train/synthetic_predictions.h"

namespace spex {
namespace {

// Stages 1-3 (cuts after layers 1 and 3), an exit after layers 1 and 3: one
// in each of the first two stages. 4 classes.
std::shared_ptr<const Model> ChainModel() {
  ModelTopology t;
  t.input_shape = {96};
  t.backbone = {{96, 64, 32, 48, 24, 4}, {16, 4, 24, 6, 4}};
  t.split_after = 1;
  t.later_cuts = {3};
  t.exits = {{1, {4}, {4}, 1.0f}, {3, {4}, {4}, 1.0f}};
  auto model = Model::FromProto(MakeTestModel(t, 1));
  EXPECT_TRUE(model.ok()) << model.status();
  return *model;
}

// Exit 1's confidences in [0.25, 1], exit 2's in [0.4, 1]; the final
// classifier right on 95 %.
Predictions Synthetic(int n, uint64_t seed) {
  return SyntheticPredictions(n, {0.25, 0.4}, 0.95, seed);
}

TEST(ChainCalibrationTest, EvaluatesWhereEachSampleIsAnswered) {
  const auto model = ChainModel();
  const Predictions p = Synthetic(4000, 1);
  const auto measure = v1::CONFIDENCE_MEASURE_MAX_SOFTMAX;
  // No exit is ever sure: the last stage answers everything.
  const ChainPoint none = EvaluateChain(*model, p, measure, {1.0, 1.0});
  EXPECT_DOUBLE_EQ(none.stage_fraction[2], 1.0);
  EXPECT_EQ(none.crossing, (std::vector<double>{1.0, 1.0}));
  EXPECT_DOUBLE_EQ(none.mean_stage, 3.0);
  EXPECT_DOUBLE_EQ(none.drop, 0.0);
  EXPECT_NEAR(none.full_accuracy, 0.95, 0.015);
  // The first exit takes everything.
  const ChainPoint first = EvaluateChain(*model, p, measure, {0.0, 0.0});
  EXPECT_DOUBLE_EQ(first.stage_fraction[0], 1.0);
  EXPECT_EQ(first.crossing, (std::vector<double>{0.0, 0.0}));
  EXPECT_DOUBLE_EQ(first.mean_stage, 1.0);
  EXPECT_NEAR(first.overall_accuracy, (0.25 + 1) / 2, 0.02);  // mean confidence
  // Exit 1 above 0.7, exit 2 above 0.7: (1 - 0.7) / 0.75 leave at stage 1,
  // then (1 - 0.7) / 0.6 of the rest at stage 2.
  const ChainPoint mid = EvaluateChain(*model, p, measure, {0.7, 0.7});
  EXPECT_NEAR(mid.stage_fraction[0], 0.4, 0.03);
  EXPECT_NEAR(mid.stage_fraction[1], 0.6 * 0.5, 0.03);
  EXPECT_NEAR(mid.crossing[0], 0.6, 0.03);
  EXPECT_NEAR(mid.crossing[1], 0.3, 0.03);
  double answered = 0;
  for (double f : mid.stage_fraction) answered += f;
  EXPECT_NEAR(answered, 1.0, 1e-12);
}

TEST(ChainCalibrationTest, MaxDropHoldsOnFreshDataAndAnswersEarly) {
  const auto model = ChainModel();
  ChainTarget target;
  target.max_drop_points = 3.0;
  target.judged_samples = 20000;
  int held = 0;
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    const Predictions validation = Synthetic(3000, seed);
    auto choice = ChooseChainThresholds(*model, validation, target);
    ASSERT_TRUE(choice.ok()) << choice.status();
    EXPECT_LE(100 * choice->drop, 3.0);
    EXPECT_LT(choice->mean_stage, 2.5);  // far from "everything to the cloud"
    const ChainPoint fresh =
        EvaluateChain(*model, Synthetic(20000, 1000 + seed), choice->measure,
                      choice->thresholds);
    held += 100 * fresh.drop <= 3.0;
  }
  EXPECT_GE(held, 4);
}

TEST(ChainCalibrationTest, StageBudgetsAreMetWithTheBestAccuracy) {
  const auto model = ChainModel();
  const Predictions p = Synthetic(4000, 7);
  ChainTarget tight;
  tight.stage_budget = {0.3, 0.1};
  auto choice = ChooseChainThresholds(*model, p, tight);
  ASSERT_TRUE(choice.ok()) << choice.status();
  EXPECT_LE(choice->crossing[0], 0.3);
  EXPECT_LE(choice->crossing[1], 0.1);
  ChainTarget loose;
  loose.stage_budget = {1.0, 1.0};
  auto free = ChooseChainThresholds(*model, p, loose);
  ASSERT_TRUE(free.ok());
  EXPECT_GE(free->overall_accuracy, choice->overall_accuracy);
  EXPECT_NEAR(free->overall_accuracy, free->full_accuracy, 0.01);

  ChainTarget wrong_count;
  wrong_count.stage_budget = {0.3};
  EXPECT_EQ(ChooseChainThresholds(*model, p, wrong_count).status().code(),
            absl::StatusCode::kInvalidArgument);
  ChainTarget negative_z = tight;
  negative_z.z = -1;
  EXPECT_EQ(ChooseChainThresholds(*model, p, negative_z).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace spex
