// A stage of a chain without gRPC: where a stage's work ends for each cut an
// activation may come from, and CloudCore as the last stage of the
// three-stage model, continuing from any of its cuts (middle_stage_test.cc
// has the stage before it).
#include "cloud_service/cloud_core.h"
#include "cloud_service/split_request.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cloud_service/cloud_test_support.h"

namespace spex {
namespace {

using ::testing::HasSubstr;

TEST(StagePlacementTest, EachStageEndsAtItsCutOrFinishesTheNetwork) {
  auto model = Model::Load(ChainModelPath());
  ASSERT_TRUE(model.ok()) << model.status();
  const Model& m = **model;
  ASSERT_EQ(m.boundaries(), (std::vector<int>{0, 5, 8, 11}));
  const StagePlacement fog{2, true};
  EXPECT_EQ(StageNumber(m, fog), 2);
  EXPECT_EQ(StageEndLayer(m, 5, fog), 8);   // from the edge: its own range
  EXPECT_EQ(StageEndLayer(m, 0, fog), 8);   // a raw input: the same
  EXPECT_EQ(StageEndLayer(m, 8, fog), 11);  // from past its range: all of it
  const StagePlacement last{0, false};
  EXPECT_EQ(StageNumber(m, last), 3);
  EXPECT_EQ(StageEndLayer(m, 5, last), 11);
  // A stage number past the model's stages is its last stage; without a
  // next stage a middle stage's number still finishes the network.
  EXPECT_EQ(StageNumber(m, StagePlacement{7, true}), 3);
  EXPECT_EQ(StageEndLayer(m, 5, StagePlacement{7, true}), 11);
  EXPECT_EQ(StageEndLayer(m, 5, StagePlacement{2, false}), 11);
}

class LastStageTest : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cloud_.ok());
    core_ = &cloud_.core();
    model_ = cloud_.model();
  }

  // The activations after `layer` of test samples [0, count), as the stages
  // before would compute them.
  std::vector<float> ActivationsAfter(int layer, int count) {
    const ModelPart& part = *model_->Segment(0, layer);
    Workspace workspace(part);
    const std::vector<float> raw = RawSamples(0, count);
    std::vector<float> x(model_->input().width), y(part.output_width()), out;
    for (int s = 0; s < count; ++s) {
      EXPECT_TRUE(
          model_->input()
              .Apply(absl::MakeConstSpan(raw).subspan(
                         static_cast<size_t>(s) * model_->input().raw_width,
                         model_->input().raw_width),
                     x.data())
              .ok());
      part.Forward(x.data(), y.data(), nullptr, &workspace);
      out.insert(out.end(), y.begin(), y.end());
    }
    return out;
  }

  v1::InferRequest RequestFrom(int layer, const std::vector<float>& values) {
    v1::InferRequest request;
    request.set_request_id(5);
    request.set_model_id(model_->id());
    request.set_from_layer(static_cast<uint32_t>(layer));
    const int width = model_->WidthAfter(layer);
    EXPECT_TRUE(EncodeActivations(v1::ENCODING_FLOAT32, width,
                                  static_cast<int>(values.size()) / width,
                                  values, request.mutable_activation())
                    .ok());
    return request;
  }

  TestCloud cloud_{"last_stage", ChainModelPath()};
  CloudCore* core_ = nullptr;
  std::shared_ptr<const Model> model_;
};

// The last stage continues from either cut (the edge's, or the fog's) with
// the final classifier, whatever exits lie in between, and says so.
TEST_F(LastStageTest, ContinuesFromEveryCutWithTheFinalClassifier) {
  for (int cut : {5, 8}) {
    SCOPED_TRACE(cut);
    const std::vector<float> values = ActivationsAfter(cut, 20);
    const auto [status, response] = Ask(*core_, RequestFrom(cut, values));
    ASSERT_TRUE(status.ok()) << status;
    ASSERT_EQ(response.results_size(), 20);
    const ModelPart& rest = *model_->Segment(cut, model_->num_layers());
    Workspace workspace(rest);
    std::vector<float> y(model_->num_classes());
    const int width = model_->WidthAfter(cut);
    for (int s = 0; s < 20; ++s) {
      rest.Forward(values.data() + s * width, y.data(), nullptr, &workspace);
      const int label =
          static_cast<int>(std::max_element(y.begin(), y.end()) - y.begin());
      EXPECT_EQ(response.results(s).label(), static_cast<uint32_t>(label));
      EXPECT_NEAR(response.results(s).confidence(), y[label], 1e-5);
      EXPECT_EQ(response.results(s).stage(), 3u);
      EXPECT_EQ(response.results(s).exit(), 0u);
      EXPECT_EQ(response.results(s).fallback_reason(),
                v1::FALLBACK_REASON_UNSPECIFIED);
    }
  }
}

TEST_F(LastStageTest, AnActivationFromNoCutIsRefusedNamingTheCuts) {
  const std::vector<float> values = ActivationsAfter(8, 1);
  v1::InferRequest request = RequestFrom(8, values);
  request.set_from_layer(6);
  const auto [status, response] = Ask(*core_, request);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      std::string(status.message()),
      HasSubstr("from_layer: 6 is not served; model fashion-chain takes "
                "activations after layers 5, 8 (its cuts) or raw inputs (0)"));
  request.set_from_layer(11);  // the last layer: nothing left to run
  EXPECT_EQ(Ask(*core_, request).status.code(),
            absl::StatusCode::kInvalidArgument);
  request.set_from_layer(5);  // a cut, but the fog's width
  EXPECT_THAT(
      std::string(Ask(*core_, request).status.message()),
      HasSubstr("width 392, but model fashion-chain takes 196 values per "
                "sample at from_layer 5"));
}

TEST_F(LastStageTest, ModelInfoNamesTheCutsAndThisStage) {
  const absl::StatusOr<v1::GetModelInfoResponse> info =
      core_->GetModelInfo(v1::GetModelInfoRequest());
  ASSERT_TRUE(info.ok()) << info.status();
  ASSERT_EQ(info->models_size(), 1);
  EXPECT_EQ(info->models(0).split_after(), 5u);
  EXPECT_THAT(info->models(0).later_cuts(), testing::ElementsAre(8u));
  EXPECT_EQ(info->models(0).stage(), 3u);
}

}  // namespace
}  // namespace spex
