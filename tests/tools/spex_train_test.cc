// spex-train end to end, as an operator runs it: train on the real
// Fashion-MNIST (one short epoch), calibrate, and check every file it
// promises.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "common/model/model.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/tools/run_tool.h"

namespace spex {
namespace {

using ::testing::HasSubstr;

ToolRun RunTrainer(const std::string& arguments) {
  return RunTool(SPEX_TRAIN_BINARY, arguments);
}

TEST(SpexTrainToolTest, TrainsCalibratesAndReports) {
  const std::filesystem::path dir =
      std::filesystem::path(testing::TempDir()) /
      ("spex_train_tool_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string model = (dir / "m.spex").string();
  ToolRun run = RunTrainer(
      "train --dataset fashion-mnist --config '784 32 64 10' --fo '4 16 10' "
      "--split-after 1 --exits 1 --epochs 1 --validation 2000 --out " +
      model);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("epoch 1/1"));
  EXPECT_THAT(run.output, HasSubstr("test accuracy"));
  // The report carries every field docs/TRAINING.md promises.
  const std::string report = (dir / "m.report.json").string();
  EXPECT_EQ(
      std::system(
          ("python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); "
           "keys = [\"dataset\", \"topology\", \"pattern\", \"fan_out\", "
           "\"density\", "
           "\"density_overall\", \"params\", \"params_dense_equivalent\", "
           "\"macs\", "
           "\"model_bytes\", \"split_width\", \"split_bytes\", \"exits\", "
           "\"final_test_accuracy\", \"epoch_seconds\", \"model_id\"]; "
           "missing = [k for k in keys if k not in r]; "
           "assert not missing, missing; "
           "assert r[\"final_test_accuracy\"] > 0.6, "
           "r[\"final_test_accuracy\"]; "
           "assert r[\"split_bytes\"][\"int8\"] == 38' " +
           report)
              .c_str()),
      0);

  run = RunTrainer("calibrate --model " + model + " --max-drop 1");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("calibrated " + model));
  for (const char* suffix :
       {".calibration.json", ".calibration.max_softmax.csv",
        ".calibration.normalized_entropy.csv", ".tradeoff.svg"}) {
    EXPECT_TRUE(std::filesystem::exists(dir / (std::string("m") + suffix)))
        << suffix;
  }
  // The threshold is now the model's default, and the file still loads.
  auto loaded = Model::Load(model);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const v1::ExitBranch& exit = (*loaded)->description().exits(0);
  EXPECT_NE(exit.confidence(), v1::CONFIDENCE_MEASURE_UNSPECIFIED);
  EXPECT_GT(exit.threshold(), 0.0f);
  EXPECT_THAT((*loaded)->description().training().calibration(),
              HasSubstr("validation"));

  EXPECT_EQ(RunTrainer("train --config '784 10'").exit_code, 2);
  EXPECT_EQ(RunTrainer("calibrate --model " + (dir / "missing.spex").string() +
                       " --max-drop 1")
                .exit_code,
            1);
  EXPECT_EQ(RunTrainer("frobnicate").exit_code, 2);
  std::filesystem::remove_all(dir);
}

// A convolutional network from --layers, with augmentation and the cosine
// schedule, its exit a pooling and a classifier (--exit-layers): trained,
// reported as a CNN with its cut on a feature map, and calibrated like any
// model.
TEST(SpexTrainToolTest, TrainsAConvolutionalNetwork) {
  const std::filesystem::path dir =
      std::filesystem::path(testing::TempDir()) /
      ("spex_train_cnn_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string model = (dir / "c.spex").string();
  ToolRun run = RunTrainer(
      "train --dataset fashion-mnist --layers 'conv3x3 8, maxpool2, conv3x3 "
      "16 fo 4, maxpool2, conv1x1 4, conv3x3 16 fo 8, maxpool2, fc 10' "
      "--pattern tile4 "
      "--split-after 5 --exits 5 --exit-layers 'maxpool2, fc 10' --epochs 1 "
      "--threads 2 --schedule cosine "
      "--shift 1 --flip --lr 0.003 --validation 2000 --out " +
      model);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("conv3x3 16 fo 4"));
  const std::string report = (dir / "c.report.json").string();
  EXPECT_EQ(
      std::system(("python3 -c 'import json, sys; r = "
                   "json.load(open(sys.argv[1])); "
                   "assert r[\"family\"] == \"cnn\", r[\"family\"]; "
                   "assert r[\"split_width\"] == 196, r[\"split_width\"]; "
                   "assert r[\"final_test_accuracy\"] > 0.5, "
                   "r[\"final_test_accuracy\"]; "
                   "assert r[\"params\"] < r[\"params_dense_equivalent\"]' " +
                   report)
                      .c_str()),
      0);
  run = RunTrainer("calibrate --model " + model + " --max-drop 1");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  auto loaded = Model::Load(model);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->description().format_version(), 4u);
  const v1::ExitBranch& exit = (*loaded)->description().exits(0);
  ASSERT_EQ(exit.layers_size(), 2);
  EXPECT_EQ(exit.layers(0).kind(), v1::LAYER_KIND_MAX_POOL);
  EXPECT_EQ(exit.layers(1).n_in(), 3u * 3 * 4);  // the 7x7x4 cut pooled
  // Mistakes in --layers and --exit-layers are named before anything runs.
  run = RunTrainer(
      "train --dataset fashion-mnist --layers 'conv3x3 8, pool2, fc 10' "
      "--out " +
      model);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.output, HasSubstr("layer 2 (\"pool2\"): unknown layer"));
  run = RunTrainer(
      "train --dataset fashion-mnist --layers 'fc 10' --config '784 10' "
      "--out " +
      model);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.output, HasSubstr("either --config with --fo, or --layers"));
  const std::string layers =
      "--layers 'conv3x3 8, maxpool2, conv1x1 4, fc 10' --split-after 3 ";
  run = RunTrainer("train --dataset fashion-mnist " + layers +
                   "--exits 3 --exit-layers 'maxpool2, fc 7' --out " + model);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.output,
              HasSubstr("--exit-layers (exit 1): the classifier has 7 "
                        "outputs, fashion-mnist has 10 classes"));
  run = RunTrainer("train --dataset fashion-mnist " + layers +
                   "--exits 3 --exit-layers 'fc 10; fc 10' --out " + model);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.output, HasSubstr("--exit-layers: 2 lists for 1 exits"));
  run = RunTrainer("train --dataset fashion-mnist " + layers +
                   "--exits 3 --exit-layers 'avgpool2 pad 1, fc 10' --out " +
                   model);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.output,
              HasSubstr("--exit-layers (exit 1): layer 1 (\"avgpool2 pad 1\"): "
                        "option pad does not apply here"));
  std::filesystem::remove_all(dir);
}

// A chain of three stages: cuts after layers 1 and 2, an exit in each of the
// first two stages with its own loss weight, both thresholds calibrated
// together, the per-stage figures reported.
TEST(SpexTrainToolTest, TrainsAndCalibratesAChain) {
  const std::filesystem::path dir =
      std::filesystem::path(testing::TempDir()) /
      ("spex_train_chain_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string model = (dir / "c.spex").string();
  ToolRun run = RunTrainer(
      "train --dataset fashion-mnist --config '784 32 64 32 10' --fo '4 16 16 "
      "10' "
      "--split-after 1 --later-cuts 2 --exits '1 2' --exit-weight '0.5 1' "
      "--epochs 1 --validation 2000 --out " +
      model);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  auto trained = Model::Load(model);
  ASSERT_TRUE(trained.ok()) << trained.status();
  EXPECT_EQ((*trained)->num_stages(), 3);
  EXPECT_EQ((*trained)->description().format_version(), 3u);
  EXPECT_FLOAT_EQ((*trained)->description().exits(0).loss_weight(), 0.5f);

  run = RunTrainer("calibrate --model " + model + " --exit all --max-drop 1");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("exit 1 >= "));
  EXPECT_THAT(run.output, HasSubstr("exit 2 >= "));
  EXPECT_THAT(run.output, HasSubstr("mean stage"));
  EXPECT_EQ(
      std::system(
          ("python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); "
           "stages = r[\"test\"][\"stages\"]; "
           "assert len(stages) == 3, stages; "
           "assert abs(sum(s[\"answered_fraction\"] for s in stages) - 1) < "
           "1e-9; "
           "assert \"bytes_per_sample\" in stages[0]; "
           "assert len(r[\"exits\"]) == 2' " +
           (dir / "c.calibration.json").string())
              .c_str()),
      0);
  auto calibrated = Model::Load(model);
  ASSERT_TRUE(calibrated.ok()) << calibrated.status();
  for (const v1::ExitBranch& exit : (*calibrated)->description().exits()) {
    EXPECT_NE(exit.confidence(), v1::CONFIDENCE_MEASURE_UNSPECIFIED);
  }
  run = RunTrainer("calibrate --model " + model +
                   " --exit all --stage-budget '0.5 0.2'");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  // One budget per cut, and no exit fraction with --exit all.
  EXPECT_EQ(RunTrainer("calibrate --model " + model +
                       " --exit all --stage-budget 0.5")
                .exit_code,
            2);
  EXPECT_EQ(RunTrainer("calibrate --model " + model +
                       " --exit all --exit-fraction 0.5")
                .exit_code,
            2);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace spex
