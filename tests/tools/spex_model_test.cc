// Runs the spex-model binary as an operator would and checks what it says.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/model/test_models.h"
#include "tests/tools/run_tool.h"
#include "tools/common/json.h"

namespace spex {
namespace {

using ::testing::HasSubstr;

ToolRun RunSpexModel(const std::string& arguments, bool with_stderr = true) {
  return RunTool(SPEX_MODEL_BINARY, arguments, with_stderr);
}

class SpexModelToolTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(testing::TempDir()) /
           ("spex_model_tool_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    model_ =
        *InitializeModel(TestTopologies(PatternKind::kBlock)[1].topology, 5);
    model_.mutable_exits(1)->set_confidence(v1::CONFIDENCE_MEASURE_MAX_SOFTMAX);
    model_.mutable_exits(1)->set_threshold(0.875f);
    path_ = (dir_ / "model.spex").string();
    ASSERT_TRUE(WriteModelFile(path_, &model_).ok());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
  v1::Model model_;
  std::string path_;
};

TEST_F(SpexModelToolTest, InspectPrintsTheSummaryTable) {
  const ToolRun run = RunSpexModel("inspect " + path_);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("model_id  " + model_.model_id()));
  EXPECT_THAT(run.output,
              HasSubstr("split     after layer 2: 32 values per sample = "
                        "128 B float32; 64 B float16; 38 B int8"));
  EXPECT_THAT(run.output, HasSubstr("block"));
  EXPECT_THAT(run.output, HasSubstr("max_softmax"));
  EXPECT_THAT(run.output, HasSubstr("0.8750"));
  // Head MACs: 64 x 24 + 32 x 8.
  EXPECT_THAT(run.output, HasSubstr("head   edge   "));
  EXPECT_THAT(run.output, HasSubstr("1,792"));
}

TEST_F(SpexModelToolTest, InspectJsonCarriesTheSameFacts) {
  // stdout alone: the log line on stderr is not part of the document.
  const ToolRun run = RunSpexModel("inspect --json " + path_, false);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output,
              HasSubstr("\"model_id\": \"" + model_.model_id() + "\""));
  EXPECT_THAT(run.output, HasSubstr("\"split_width\": 32"));
  EXPECT_THAT(run.output, HasSubstr("\"head\": {\n      \"macs\": 1792"));
  EXPECT_THAT(run.output, HasSubstr("\"threshold\": 0.875"));
  // Valid JSON as far as Python's parser is concerned.
  const std::string json_path = (dir_ / "summary.json").string();
  std::ofstream(json_path) << run.output;
  EXPECT_EQ(std::system(
                ("python3 -c 'import json,sys; json.load(open(sys.argv[1]))' " +
                 json_path)
                    .c_str()),
            0);
}

// A chain: a table of stages with their layers, costs and cut sizes, each
// exit with its stage, and the same in JSON.
TEST_F(SpexModelToolTest, InspectShowsAChainsStages) {
  ModelTopology chain = TestTopologies(PatternKind::kRandom)[1].topology;
  chain.split_after = 1;
  chain.later_cuts = {3};
  chain.exits = {{1, {7}, {7}, 0.5f}, {3, {7}, {7}, 1.0f}};
  v1::Model model = *InitializeModel(chain, 5);
  const std::string path = (dir_ / "chain.spex").string();
  ASSERT_TRUE(WriteModelFile(path, &model).ok());
  ToolRun run = RunSpexModel("inspect " + path);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("stage  runs on  layers"));
  EXPECT_THAT(run.output, HasSubstr("exit  after layer  stage"));
  // Stage 2 (layers 2-3): 64 x 4 and 32 x 16 MACs, plus exit 2's 64 x 7.
  EXPECT_THAT(run.output, HasSubstr("1,216"));
  run = RunSpexModel("inspect --json " + path, false);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const std::string json_path = (dir_ / "chain.json").string();
  std::ofstream(json_path) << run.output;
  EXPECT_EQ(
      std::system(("python3 -c 'import json, sys; s = "
                   "json.load(open(sys.argv[1]))[\"stages\"]; "
                   "assert [x[\"last_layer\"] for x in s] == [1, 3, 5], s; "
                   "assert s[1][\"runs_on\"] == \"fog\" and "
                   "s[1][\"cut_bytes_int8\"] == 70, s; "
                   "assert s[1][\"cost\"][\"macs\"] == 1216 and "
                   "s[2][\"runs_on\"] == \"cloud\", s' " +
                   json_path)
                      .c_str()),
      0);
}

TEST_F(SpexModelToolTest, VerifyAcceptsGoodAndRejectsBadFiles) {
  ToolRun run = RunSpexModel("verify " + path_);
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("OK " + path_));

  v1::Model bad = model_;
  bad.mutable_layers(1)->set_d_out(5);
  const std::string bad_path = (dir_ / "bad.spex").string();
  ASSERT_TRUE(WriteModelFile(bad_path, &bad).ok());
  run = RunSpexModel("verify " + bad_path);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.output,
              HasSubstr("INVALID: " + bad_path + ": layer 2: d_out"));

  std::ofstream(bad_path, std::ios::binary | std::ios::trunc) << "garbage";
  run = RunSpexModel("verify " + bad_path);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.output, HasSubstr("not a spex model"));
  EXPECT_EQ(RunSpexModel("inspect " + bad_path).exit_code, 1);
}

// `pattern` gives exactly what spex-train stores: the same indices and
// pattern seed for a backbone layer and an exit's layer of a model
// initialised with a seed, and the same again from that pattern seed.
TEST_F(SpexModelToolTest, PatternIsTheOneTheTrainerStores) {
  const auto expect_stored = [&](const v1::Layer& layer,
                                 const std::string& which) {
    SCOPED_TRACE(which);
    ASSERT_EQ(layer.pattern(), v1::PATTERN_KIND_BLOCK);
    const std::string sizes = absl::StrFormat(
        "pattern --n_in=%d --n_out=%d --fan_out=%d --kind=block ", layer.n_in(),
        layer.n_out(), layer.d_out());
    const std::string indices =
        "\"indices\":[" + absl::StrJoin(layer.indices(), ",") + "]";
    const ToolRun derived =
        RunSpexModel(sizes + "--model_seed=5 " + which, false);
    ASSERT_EQ(derived.exit_code, 0) << derived.output;
    EXPECT_THAT(derived.output, HasSubstr("\"kind\":\"block\""));
    EXPECT_THAT(derived.output, HasSubstr(indices));
    EXPECT_THAT(derived.output,
                HasSubstr(absl::StrCat("\"seed\":\"", layer.pattern_seed())));
    const ToolRun direct = RunSpexModel(
        sizes + "--seed=" + std::to_string(layer.pattern_seed()), false);
    ASSERT_EQ(direct.exit_code, 0) << direct.output;
    EXPECT_EQ(direct.output, derived.output);
  };
  expect_stored(model_.layers(0), "--layer=1");
  expect_stored(model_.exits(0).layers(0), "--layer=1 --exit=1");
}

TEST_F(SpexModelToolTest, PatternNamesWhatIsWrong) {
  const ToolRun uneven =
      RunSpexModel("pattern --n_in=1 --n_out=8 --fan_out=4 --seed=1");
  EXPECT_EQ(uneven.exit_code, 2);
  EXPECT_THAT(uneven.output, HasSubstr("valid out-degrees: 8"));
  const ToolRun no_seed =
      RunSpexModel("pattern --n_in=8 --n_out=8 --fan_out=2");
  EXPECT_EQ(no_seed.exit_code, 2);
  EXPECT_THAT(no_seed.output, HasSubstr("--model_seed is needed"));
  const ToolRun kind =
      RunSpexModel("pattern --n_in=8 --n_out=8 --fan_out=2 --seed=1 --kind=x");
  EXPECT_THAT(kind.output, HasSubstr("unknown pattern kind 'x'"));
  const ToolRun option = RunSpexModel("pattern --n_in=8 --colour=red");
  EXPECT_THAT(option.output, HasSubstr("unknown option --colour for pattern"));
  // A kind that does not fit falls back to random, as in spex-train.
  const ToolRun fallback = RunSpexModel(
      "pattern --n_in=12 --n_out=6 --fan_out=2 --kind=block --seed=3", false);
  ASSERT_EQ(fallback.exit_code, 0) << fallback.output;
  EXPECT_THAT(fallback.output, HasSubstr("\"kind\":\"random\""));
  EXPECT_THAT(fallback.output, HasSubstr("\"d_in\":4"));
}

// `import` names the file and the problem; usage errors exit 2. (What it
// imports is tested in tests/tools/onnx/ and tests/python/.)
TEST_F(SpexModelToolTest, ImportNamesTheFileAndTheProblem) {
  const std::string out = (dir_ / "imported.spex").string();
  const ToolRun not_onnx =
      RunSpexModel("import " + path_ + " --split-after 1 -o " + out);
  EXPECT_EQ(not_onnx.exit_code, 1);
  EXPECT_THAT(not_onnx.output, HasSubstr(path_ + ": not an ONNX model"));
  EXPECT_FALSE(std::filesystem::exists(out));
  const ToolRun missing = RunSpexModel(
      "import " + (dir_ / "none.onnx").string() + " --split-after 1 -o " + out);
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.output, HasSubstr("none.onnx"));
  EXPECT_EQ(RunSpexModel("import " + path_ + " -o " + out).exit_code, 2);
  const ToolRun exit_spec =
      RunSpexModel("import " + path_ + " --split-after 1 --exit e:x -o " + out);
  EXPECT_EQ(exit_spec.exit_code, 2);
  EXPECT_THAT(exit_spec.output,
              HasSubstr("OUTPUT:LAYER or OUTPUT:LAYER:THRESHOLD"));
}

TEST_F(SpexModelToolTest, UsageErrorsExitTwo) {
  EXPECT_EQ(RunSpexModel("").exit_code, 2);
  EXPECT_EQ(RunSpexModel("frobnicate " + path_).exit_code, 2);
  EXPECT_EQ(RunSpexModel("verify --json " + path_).exit_code, 2);
  EXPECT_EQ(RunSpexModel("inspect").exit_code, 2);
  EXPECT_EQ(RunSpexModel("--help").exit_code, 0);
}

TEST(JsonTest, EscapesAndFormats) {
  Json json = Json::Object()
                  .Set("text", "a \"quoted\"\nline\x01")
                  .Set("n", 3)
                  .Set("x", 0.5)
                  .Set("nan", std::numeric_limits<double>::quiet_NaN())
                  .Set("list", Json::Array().Push(1).Push(true).Push(Json()));
  EXPECT_EQ(json.Dump(0),
            "{\"text\":\"a \\\"quoted\\\"\\nline\\u0001\",\"n\":3,\"x\":0.5,"
            "\"nan\":null,\"list\":[1,true,null]}");
}

}  // namespace
}  // namespace spex
