// Training end to end on a small synthetic task: it learns, it is
// deterministic for a seed, and the file it makes loads and agrees.
#include "tools/train/trainer.h"

#include <limits>
#include <random>

#include "common/model/model.h"
#include "common/model/model_file.h"
#include "common/model/model_init.h"
#include "gtest/gtest.h"
#include "tests/tools/train/bar_images.h"
#include "tools/train/evaluate.h"

namespace spex {
namespace {

Dataset Bars(int n, uint64_t seed) { return BarImages(n, seed, 8); }

v1::Model BarsModel(PatternKind kind, uint64_t seed) {
  ModelTopology t;
  t.input_shape = {8, 8};
  t.input_scale = 1.0f / 255;
  t.backbone = {{64, 32, 16, 3}, {4, 8, 3}};
  t.split_after = 1;
  t.exits = {{1, {3}, {3}, 0.5f}};
  t.pattern = kind;
  return *InitializeModel(t, seed);
}

TrainOptions Quick(int threads) {
  TrainOptions o;
  o.epochs = 4;
  o.batch_size = 32;
  o.learning_rate = 3e-3f;
  o.threads = threads;
  o.show_progress = false;
  return o;
}

TEST(TrainerTest, LearnsAndTheSavedModelAgrees) {
  const Dataset train = Bars(1200, 1), validation = Bars(300, 2),
                test = Bars(300, 3);
  for (PatternKind kind : {PatternKind::kRandom, PatternKind::kBlock,
                           PatternKind::kTile4, PatternKind::kTile8}) {
    SCOPED_TRACE(PatternKindName(kind));
    v1::Model model = BarsModel(kind, 5);
    if (TileGroupSize(kind) > 1) {
      // 32 -> 16 with fan-out 8 takes either tile size.
      ASSERT_EQ(model.layers(1).pattern(), v1::PATTERN_KIND_TILE);
    }
    auto result = Train(train, validation, Quick(1), &model);
    ASSERT_TRUE(result.ok()) << result.status();
    ASSERT_EQ(result->epochs.size(), 4u);
    EXPECT_GT(result->epochs.back().validation_accuracy, 0.9);
    EXPECT_LT(result->epochs.back().train_loss,
              result->epochs.front().train_loss);
    SerializeModel(&model);
    auto loaded = Model::FromProto(model);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    // The runtime path and the trainer's forward agree on the accuracy.
    auto runtime = Predict(**loaded, test);
    ASSERT_TRUE(runtime.ok());
    auto trainer = TrainerAccuracy(model, test);
    ASSERT_TRUE(trainer.ok());
    EXPECT_NEAR(runtime->FinalAccuracy(), trainer->final_accuracy, 1.0 / 300);
    EXPECT_NEAR(runtime->ExitAccuracy(0), trainer->exit_accuracy[0], 1.0 / 300);
    EXPECT_GT(runtime->FinalAccuracy(), 0.9);
    // The split as deployed: int8 on the wire changes no label here.
    auto agreement = SplitAgreement(**loaded, test, v1::ENCODING_INT8);
    ASSERT_TRUE(agreement.ok());
    EXPECT_GT(*agreement, 0.98);
  }
}

TEST(TrainerTest, SameSeedSameModel) {
  const Dataset train = Bars(600, 1), validation = Bars(100, 2);
  for (int threads : {1, 2}) {
    std::string ids[2];
    for (std::string& id : ids) {
      v1::Model model = BarsModel(PatternKind::kRandom, 9);
      ASSERT_TRUE(Train(train, validation, Quick(threads), &model).ok());
      SerializeModel(&model);
      id = model.model_id();
    }
    EXPECT_EQ(ids[0], ids[1]) << threads << " threads";
  }
  v1::Model other = BarsModel(PatternKind::kRandom, 10);
  v1::Model model = BarsModel(PatternKind::kRandom, 9);
  TrainOptions o = Quick(1);
  ASSERT_TRUE(Train(train, validation, o, &model).ok());
  ASSERT_TRUE(Train(train, validation, o, &other).ok());
  EXPECT_NE(ComputeModelId(model), ComputeModelId(other));
}

TEST(TrainerTest, BadInputsAreErrors) {
  const Dataset train = Bars(100, 1), validation = Bars(50, 2);
  v1::Model model = BarsModel(PatternKind::kRandom, 1);
  TrainOptions o = Quick(1);
  o.batch_size = 0;
  EXPECT_EQ(Train(train, validation, o, &model).status().code(),
            absl::StatusCode::kInvalidArgument);
  for (float bad : {0.0f, -1e-3f, std::numeric_limits<float>::quiet_NaN()}) {
    o = Quick(1);
    o.learning_rate = bad;
    EXPECT_EQ(Train(train, validation, o, &model).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  o = Quick(1);
  o.l2 = -1;
  EXPECT_EQ(Train(train, validation, o, &model).status().code(),
            absl::StatusCode::kInvalidArgument);
  Dataset wide = train;
  wide.width = 65;
  EXPECT_FALSE(Train(wide, validation, Quick(1), &model).ok());
  Dataset more_classes = train;
  more_classes.labels[7] = 5;  // the model has 3 outputs
  EXPECT_NE(Train(more_classes, validation, Quick(1), &model)
                .status()
                .message()
                .find("label 5, the model's classifier has 3 outputs"),
            absl::string_view::npos);
  o = Quick(1);
  o.learning_rate = 1e30f;  // diverges at once
  const absl::Status diverged = Train(train, validation, o, &model).status();
  EXPECT_EQ(diverged.code(), absl::StatusCode::kInternal);
  EXPECT_NE(diverged.message().find("diverged"), absl::string_view::npos);
}

}  // namespace
}  // namespace spex
