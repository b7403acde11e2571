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
#include "tools/train/input_from_data.h"

namespace spex {
namespace {

// A table's columns in different units each come out with mean 0 and
// standard deviation 1 through the model's input transform; images get one
// scale for every pixel and, as 8-bit pixels, the range [0, 255].
TEST(InputFromDataTest, TablesPerFeatureImagesPerTensor) {
  Dataset table;
  table.shape = {3};
  table.width = 3;
  std::mt19937 rng(std::random_device{}());
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int i = 0; i < 500; ++i) {
    table.values.push_back(1000.0f + 300.0f * normal(rng));  // proline, mg/l
    table.values.push_back(0.05f + 0.01f * normal(rng));     // a small ratio
    table.values.push_back(7.0f);                            // a constant
    table.labels.push_back(static_cast<uint8_t>(i % 2));
  }
  ModelTopology topology;
  SetInputFromData(table, &topology);
  EXPECT_FALSE(topology.input_range.has_value());
  ASSERT_EQ(topology.feature_scale.size(), 3u);
  InputTransform transform;
  transform.shape = {3};
  transform.raw_width = transform.width = 3;
  transform.feature_scale = topology.feature_scale;
  transform.feature_offset = topology.feature_offset;
  double sum[3] = {0, 0, 0}, squares[3] = {0, 0, 0};
  for (int i = 0; i < table.size(); ++i) {
    float x[3];
    transform.Transform(absl::MakeConstSpan(table.sample(i), 3), x);
    for (int f = 0; f < 3; ++f) {
      sum[f] += x[f];
      squares[f] += double{x[f]} * x[f];
    }
  }
  for (int f = 0; f < 2; ++f) {
    EXPECT_NEAR(sum[f] / table.size(), 0.0, 1e-4) << f;
    EXPECT_NEAR(squares[f] / table.size(), 1.0, 1e-3) << f;
  }
  EXPECT_EQ(topology.feature_scale[2], 1.0f);  // a constant is left alone
  EXPECT_NEAR(sum[2] / table.size(), 0.0, 1e-4);

  const Dataset images = BarImages(20, 3, 8);
  SetInputFromData(images, &topology);
  EXPECT_TRUE(topology.feature_scale.empty());
  float largest = 0;
  for (float v : images.values) largest = std::max(largest, v);
  EXPECT_EQ(topology.input_scale, 1.0f / largest);
  ASSERT_TRUE(topology.input_range.has_value());
  EXPECT_EQ(topology.input_range->second, 255.0f);
}

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
