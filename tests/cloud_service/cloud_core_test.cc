// CloudCore driven directly, without gRPC: answers against the in-process
// model, every refusal named, batching, the bounded queue, reloads.
#include "cloud_service/cloud_core.h"

#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <limits>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cloud_service/cloud_test_support.h"
#include "tests/common/model/cnn_test_model.h"

namespace spex {
namespace {

using ::testing::HasSubstr;

using Answer = CoreAnswer;

class CloudCoreTest : public testing::Test {
 protected:
  void SetUp() override { Start(CloudCoreOptions()); }

  void Start(const CloudCoreOptions& options) {
    cloud_.reset();
    cloud_ = std::make_unique<TestCloud>("cloud_core_test", DefaultModelPath(),
                                         options);
    ASSERT_TRUE(cloud_->ok());
    core_ = &cloud_->core();
    registry_ = &cloud_->registry();
    model_ = cloud_->model();
    dir_ = cloud_->dir();
  }

  Answer Call(const v1::InferRequest& request,
              const std::string& default_model = "") {
    return Ask(*core_, request, default_model);
  }

  std::unique_ptr<TestCloud> cloud_;
  CloudCore* core_ = nullptr;
  ModelRegistry* registry_ = nullptr;
  std::shared_ptr<const Model> model_;
  std::string dir_;
};

TEST_F(CloudCoreTest, TailAnswersEqualTheInProcessModelForEveryEncoding) {
  const std::vector<float> split = SplitActivations(*model_, RawSamples(0, 40));
  for (v1::Encoding encoding :
       {v1::ENCODING_FLOAT32, v1::ENCODING_FLOAT16, v1::ENCODING_INT8}) {
    SCOPED_TRACE(EncodingName(encoding));
    const v1::InferRequest request = MakeRequest(
        *model_, model_->split_after(), encoding, split, 7, /*top_k=*/10);
    const Answer answer = Call(request);
    ASSERT_TRUE(answer.status.ok()) << answer.status;
    EXPECT_EQ(answer.response.request_id(), 7u);
    ASSERT_EQ(answer.response.results_size(), 40);
    EXPECT_EQ(answer.response.results(0).top_k_size(), 10);
    ExpectMatchesReference(ReferenceProbabilities(*model_, request),
                           model_->num_classes(), answer.response);
  }
}

TEST_F(CloudCoreTest, RawInputRunsTheWholeModel) {
  const std::vector<float> raw = RawSamples(100, 9);
  for (v1::Encoding encoding : {v1::ENCODING_UINT8, v1::ENCODING_FLOAT32}) {
    const v1::InferRequest request = MakeRequest(*model_, 0, encoding, raw, 1);
    const Answer answer = Call(request);
    ASSERT_TRUE(answer.status.ok()) << answer.status;
    ExpectMatchesReference(ReferenceProbabilities(*model_, request),
                           model_->num_classes(), answer.response);
  }
  // The whole model and head-then-tail agree on the label.
  const Answer whole =
      Call(MakeRequest(*model_, 0, v1::ENCODING_UINT8, raw, 1));
  const Answer split =
      Call(MakeRequest(*model_, model_->split_after(), v1::ENCODING_FLOAT32,
                       SplitActivations(*model_, raw), 2));
  for (int s = 0; s < 9; ++s) {
    EXPECT_EQ(whole.response.results(s).label(),
              split.response.results(s).label());
  }
}

TEST_F(CloudCoreTest, ConcurrentRequestsBatchAndEachGetsItsOwnAnswer) {
  CloudCoreOptions options;
  options.engine.workers = 2;
  options.engine.batch_window = absl::Milliseconds(2);
  Start(options);
  constexpr int kRequests = 300;
  const std::vector<float> raw = RawSamples(0, kRequests);
  const std::vector<float> split = SplitActivations(*model_, raw);
  const int width = model_->split_width();
  std::vector<v1::InferRequest> requests;
  for (int r = 0; r < kRequests; ++r) {
    requests.push_back(
        MakeRequest(*model_, model_->split_after(), v1::ENCODING_INT8,
                    std::vector<float>(split.begin() + r * width,
                                       split.begin() + (r + 1) * width),
                    1000 + r));
  }
  std::vector<std::promise<Answer>> promises(kRequests);
  for (int r = 0; r < kRequests; ++r) {
    core_->Infer(
        requests[r], "",
        [&promises, r](absl::Status status, v1::InferResponse response) {
          promises[r].set_value({std::move(status), std::move(response)});
        });
  }
  for (int r = 0; r < kRequests; ++r) {
    const Answer answer = promises[r].get_future().get();
    ASSERT_TRUE(answer.status.ok()) << answer.status;
    EXPECT_EQ(answer.response.request_id(), 1000u + r);
    ExpectMatchesReference(ReferenceProbabilities(*model_, requests[r]),
                           model_->num_classes(), answer.response);
  }
}

TEST_F(CloudCoreTest, LargeRequestsRunInSeveralPasses) {
  // 64 + 64 + 52: the last pass runs a padded 64-column tile.
  const std::vector<float> raw = RawSamples(0, 180);
  const v1::InferRequest request =
      MakeRequest(*model_, 0, v1::ENCODING_UINT8, raw, 3, 0);
  const Answer answer = Call(request);
  ASSERT_TRUE(answer.status.ok()) << answer.status;
  EXPECT_EQ(answer.response.results(0).top_k_size(), 0);
  ExpectMatchesReference(ReferenceProbabilities(*model_, request),
                         model_->num_classes(), answer.response);
}

TEST_F(CloudCoreTest, ModelNamedByTheStreamOrTheCall) {
  v1::InferRequest request =
      MakeRequest(*model_, model_->split_after(), v1::ENCODING_INT8,
                  SplitActivations(*model_, RawSamples(0, 1)), 4);
  request.clear_model_id();
  EXPECT_TRUE(Call(request, model_->id()).status.ok());
  const Answer missing = Call(request);
  EXPECT_EQ(missing.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(missing.status.message()),
              HasSubstr("model_id: missing"));
  EXPECT_EQ(missing.response.request_id(), 4u);
}

TEST_F(CloudCoreTest, EveryRefusalNamesTheProblem) {
  const std::vector<float> split = SplitActivations(*model_, RawSamples(0, 2));
  const v1::InferRequest good = MakeRequest(*model_, model_->split_after(),
                                            v1::ENCODING_FLOAT32, split, 9);
  struct Case {
    std::string name;
    v1::InferRequest request;
    absl::StatusCode code;
    std::string message;
  };
  std::vector<Case> cases;
  {
    v1::InferRequest r = good;
    r.set_model_id(std::string(64, 'a'));
    cases.push_back({"unknown model", r, absl::StatusCode::kFailedPrecondition,
                     model_->id()});
  }
  {
    v1::InferRequest r = good;
    r.set_from_layer(2);
    cases.push_back({"from_layer", r, absl::StatusCode::kInvalidArgument,
                     "from_layer: 2 is not served"});
  }
  {
    v1::InferRequest r = good;
    r.mutable_activation()->set_width(63);
    r.mutable_activation()->mutable_data()->resize(2 * 63 * 4);
    cases.push_back({"width", r, absl::StatusCode::kInvalidArgument,
                     "width 63, but model fashion-default takes 196"});
  }
  {
    v1::InferRequest r = good;
    r.mutable_activation()->set_data("garbage bytes");
    cases.push_back(
        {"garbage", r, absl::StatusCode::kInvalidArgument, "13 data bytes"});
  }
  {
    v1::InferRequest r = good;
    const float nan = std::numeric_limits<float>::quiet_NaN();
    std::memcpy(r.mutable_activation()->mutable_data()->data() + 8, &nan, 4);
    cases.push_back({"NaN", r, absl::StatusCode::kInvalidArgument,
                     "sample 0, index 2 is nan"});
  }
  {
    v1::InferRequest r = good;
    const float inf = std::numeric_limits<float>::infinity();
    // The first value of the second sample.
    std::memcpy(r.mutable_activation()->mutable_data()->data() +
                    4 * model_->split_width(),
                &inf, 4);
    cases.push_back({"Inf", r, absl::StatusCode::kInvalidArgument,
                     "sample 1, index 0 is inf"});
  }
  {
    v1::InferRequest r = good;
    r.set_top_k(11);
    cases.push_back({"top_k", r, absl::StatusCode::kInvalidArgument,
                     "top_k: 11, but model fashion-default has 10 classes"});
  }
  {
    v1::InferRequest r = good;
    r.mutable_activation()->set_samples(0);
    cases.push_back(
        {"no samples", r, absl::StatusCode::kInvalidArgument, "0 samples"});
  }
  {
    v1::InferRequest r =
        MakeRequest(*model_, 0, v1::ENCODING_UINT8, RawSamples(0, 1025), 9);
    cases.push_back({"too many samples", r, absl::StatusCode::kInvalidArgument,
                     "1025 samples; a request carries 1 to 1024"});
  }
  {
    v1::InferRequest r = good;
    r.mutable_activation()->set_encoding(static_cast<v1::Encoding>(99));
    cases.push_back(
        {"unknown encoding", r, absl::StatusCode::kInvalidArgument, "unknown"});
  }
  // Finite values beyond the bound on what crosses the network, which would
  // overflow the tail's float32 sums into NaN.
  {
    v1::InferRequest r = good;
    const float huge = 3e38f;
    std::memcpy(r.mutable_activation()->mutable_data()->data() + 4, &huge, 4);
    cases.push_back({"extreme float32", r, absl::StatusCode::kInvalidArgument,
                     "sample 0, index 1 is 3e+38, beyond +-65504"});
  }
  {
    v1::InferRequest r = MakeRequest(*model_, model_->split_after(),
                                     v1::ENCODING_INT8, split, 9);
    r.mutable_activation()->set_scales(1, 1e36f);
    cases.push_back({"extreme int8 scale", r,
                     absl::StatusCode::kInvalidArgument,
                     "sample 1 has scale 1e+36"});
  }
  {
    std::vector<float> raw = RawSamples(0, 2);
    raw[784 + 5] = -1.0f;
    cases.push_back({"raw value outside the input range",
                     MakeRequest(*model_, 0, v1::ENCODING_FLOAT32, raw, 9),
                     absl::StatusCode::kInvalidArgument,
                     "sample 1: input value 5 is -1, outside the model's "
                     "input range [0, 255]"});
  }
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const Answer answer = Call(c.request);
    EXPECT_EQ(answer.status.code(), c.code) << answer.status;
    EXPECT_THAT(std::string(answer.status.message()), HasSubstr(c.message));
    EXPECT_EQ(answer.response.results_size(), 0);
  }
  EXPECT_TRUE(Call(good).status.ok());  // nothing broke on the way
}

// At the bound on what crosses the network the answer is finite, and a
// sample gets the same answer alone as in a request with others.
TEST_F(CloudCoreTest, ExtremeActivationsAnswerTheSameAloneOrBatched) {
  const int width = model_->split_width();
  std::vector<float> extreme(width, 65504.0f);
  for (int i = 1; i < width; i += 2) extreme[i] = -65504.0f;
  std::vector<float> batch = SplitActivations(*model_, RawSamples(0, 2));
  batch.insert(batch.begin() + width, extreme.begin(), extreme.end());
  for (v1::Encoding encoding :
       {v1::ENCODING_FLOAT32, v1::ENCODING_FLOAT16, v1::ENCODING_INT8}) {
    SCOPED_TRACE(EncodingName(encoding));
    const Answer alone =
        Call(MakeRequest(*model_, model_->split_after(), encoding, extreme, 1));
    const Answer together =
        Call(MakeRequest(*model_, model_->split_after(), encoding, batch, 2));
    ASSERT_TRUE(alone.status.ok()) << alone.status;
    ASSERT_TRUE(together.status.ok()) << together.status;
    const v1::SampleResult& a = alone.response.results(0);
    const v1::SampleResult& b = together.response.results(1);
    EXPECT_TRUE(std::isfinite(a.confidence()));
    EXPECT_EQ(a.label(), b.label());
    EXPECT_FLOAT_EQ(a.confidence(), b.confidence());
  }
}

// A convolutional model: the engine lays a batch out channel-major (the
// image at from_layer 0, a 14x14x4 feature map at the cut) and answers each
// sample as the model does one at a time, in single and batched passes.
TEST(CloudCoreCnnTest, AnswersEqualTheModelAtTheInputAndAtAMapCut) {
  v1::Model proto = MakeTestCnn(28, 5);
  const std::string path = ::testing::TempDir() + "/fashion-cnn-test.spex";
  ASSERT_TRUE(WriteModelFile(path, &proto).ok());
  TestCloud cloud("cloud_core_cnn_test", path);
  ASSERT_TRUE(cloud.ok());
  const Model& model = *cloud.model();
  ASSERT_EQ(model.split_width(), 14 * 14 * 4);
  for (int samples : {1, 5, 40}) {
    SCOPED_TRACE(absl::StrCat(samples, " samples"));
    const std::vector<float> raw = RawSamples(0, samples);
    for (const v1::InferRequest& request :
         {MakeRequest(model, 0, v1::ENCODING_UINT8, raw, 1),
          MakeRequest(model, model.split_after(), v1::ENCODING_FLOAT32,
                      SplitActivations(model, raw), 2)}) {
      const CoreAnswer answer = Ask(cloud.core(), request);
      ASSERT_TRUE(answer.status.ok()) << answer.status;
      ExpectMatchesReference(ReferenceProbabilities(model, request),
                             model.num_classes(), answer.response);
    }
  }
}

TEST_F(CloudCoreTest, BeyondTheQueueBoundIsResourceExhausted) {
  CloudCoreOptions options;
  options.engine.max_queued_samples = 8;
  Start(options);
  const Answer answer =
      Call(MakeRequest(*model_, 0, v1::ENCODING_UINT8, RawSamples(0, 9), 1));
  EXPECT_EQ(answer.status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(answer.status.message()), HasSubstr("overloaded"));
  EXPECT_TRUE(
      Call(MakeRequest(*model_, 0, v1::ENCODING_UINT8, RawSamples(0, 8), 2))
          .status.ok());
}

TEST_F(CloudCoreTest, ModelInfoDescribesTheServedModel) {
  absl::StatusOr<v1::GetModelInfoResponse> all = core_->GetModelInfo({});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->models_size(), 1);
  const v1::ModelInfo& info = all->models(0);
  EXPECT_EQ(info.model_id(), model_->id());
  EXPECT_EQ(info.name(), "fashion-default");
  EXPECT_EQ(info.split_after(), 5u);
  EXPECT_EQ(info.split_width(), 196u);
  EXPECT_THAT(info.split_shape(), testing::ElementsAre(4, 7, 7));  // NCHW
  EXPECT_EQ(info.input_width(), 784u);
  EXPECT_EQ(info.num_classes(), 10u);
  EXPECT_EQ(info.class_names_size(), 10);
  EXPECT_EQ(info.encodings_size(), 4);
  EXPECT_EQ(info.tail_macs(), model_->tail().backbone_cost().macs);
  EXPECT_EQ(info.exit_measure(), model_->description().exits(0).confidence());
  EXPECT_GT(info.exit_threshold(), 0.0f);
  v1::GetModelInfoRequest unknown;
  unknown.set_model_id("nope");
  EXPECT_EQ(core_->GetModelInfo(unknown).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(CloudCoreTest, ReloadSkipsBadFilesAndKeepsWhatWasGood) {
  const std::string path = dir_ + "/fashion-default.spex";
  // A new bad file: reported, skipped.
  std::ofstream(dir_ + "/broken.spex") << "not a model";
  ASSERT_TRUE(registry_->Reload().ok());
  EXPECT_EQ(registry_->Snapshot()->all().size(), 1u);
  // The good file overwritten with garbage: its model stays served.
  std::ofstream(path, std::ios::trunc) << "garbage";
  ASSERT_TRUE(registry_->Reload().ok());
  ASSERT_EQ(registry_->Snapshot()->all().size(), 1u);
  EXPECT_EQ(registry_->Snapshot()->all()[0].model->id(), model_->id());
  // Removed: no longer served, and requests say what is.
  std::filesystem::remove(path);
  ASSERT_TRUE(registry_->Reload().ok());
  EXPECT_TRUE(registry_->Snapshot()->all().empty());
  const Answer answer =
      Call(MakeRequest(*model_, 0, v1::ENCODING_UINT8, RawSamples(0, 1), 1));
  EXPECT_EQ(answer.status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(answer.status.message()), HasSubstr("served: none"));
  // An unreadable directory is an error and changes nothing.
  std::filesystem::remove_all(dir_);
  EXPECT_EQ(registry_->Reload().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace spex
