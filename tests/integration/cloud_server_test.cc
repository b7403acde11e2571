// spex-cloud as a client sees it: the real binary over real gRPC channels on
// loopback. Answers equal the in-process model for every encoding, for raw
// inputs and through the Open Inference Protocol; a stream pipelines
// hundreds of requests; bad requests get their own named errors.
#include <atomic>
#include <cstring>
#include <future>
#include <map>
#include <set>
#include <thread>

#include "gmock/gmock.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "inference/open_inference_grpc.grpc.pb.h"
#include "spex/v1/split_inference.grpc.pb.h"
#include "tests/cloud_service/cloud_test_support.h"
#include "tests/integration/daemon_process.h"
#include "tests/tools/run_tool.h"

namespace spex {
namespace {

using ::testing::HasSubstr;

class CloudServerTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    model_ = LoadTestModel(DefaultModelPath());
    server_ = new CloudProcess(
        SPEX_CLOUD_BINARY, testing::TempDir(),
        {"--plaintext",
         "--model_dir=" + ModelDirWithDefaultModel("cloud_server"),
         "--workers=2"});
    ASSERT_TRUE(server_->ok()) << server_->log();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  std::unique_ptr<v1::SplitInference::Stub> Stub() {
    return v1::SplitInference::NewStub(server_->Channel());
  }

  static inline CloudProcess* server_ = nullptr;
  static inline std::shared_ptr<const Model> model_;
};

TEST_F(CloudServerTest, UnaryTailAnswersEqualTheInProcessModel) {
  auto stub = Stub();
  const std::vector<float> split = SplitActivations(*model_, RawSamples(0, 17));
  for (v1::Encoding encoding :
       {v1::ENCODING_FLOAT32, v1::ENCODING_FLOAT16, v1::ENCODING_INT8}) {
    SCOPED_TRACE(EncodingName(encoding));
    const v1::InferRequest request =
        MakeRequest(*model_, model_->split_after(), encoding, split, 11);
    grpc::ClientContext context;
    v1::InferResponse response;
    const grpc::Status status = stub->Infer(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.request_id(), 11u);
    ExpectMatchesReference(ReferenceProbabilities(*model_, request),
                           model_->num_classes(), response);
  }
}

TEST_F(CloudServerTest, RawInputEqualsTheWholeModel) {
  auto stub = Stub();
  const v1::InferRequest request =
      MakeRequest(*model_, 0, v1::ENCODING_UINT8, RawSamples(500, 33), 5);
  grpc::ClientContext context;
  v1::InferResponse response;
  ASSERT_TRUE(stub->Infer(&context, request, &response).ok());
  ExpectMatchesReference(ReferenceProbabilities(*model_, request),
                         model_->num_classes(), response);
}

TEST_F(CloudServerTest, StreamPipelinesHundredsOfRequestsNamingTheModelOnce) {
  auto stub = Stub();
  grpc::ClientContext context;
  context.AddMetadata("spex-model-id", model_->id());
  auto stream = stub->InferStream(&context);
  constexpr int kRequests = 600;
  const std::vector<float> split =
      SplitActivations(*model_, RawSamples(0, kRequests));
  const int width = model_->split_width();
  std::map<uint64_t, v1::InferRequest> sent;
  // Every request goes out before any answer is read: all are in flight.
  for (int r = 0; r < kRequests; ++r) {
    v1::InferRequest request =
        MakeRequest(*model_, model_->split_after(), v1::ENCODING_INT8,
                    std::vector<float>(split.begin() + r * width,
                                       split.begin() + (r + 1) * width),
                    100000 + r);
    request.clear_model_id();                    // named once, in the metadata
    if (r % 50 == 7) request.set_from_layer(3);  // a bad one now and then
    ASSERT_TRUE(stream->Write(request));
    sent[request.request_id()] = request;
  }
  stream->WritesDone();
  v1::InferResponse response;
  int answers = 0, errors = 0;
  std::set<uint64_t> seen;
  while (stream->Read(&response)) {
    ++answers;
    ASSERT_TRUE(seen.insert(response.request_id()).second)
        << "two answers for " << response.request_id();
    const v1::InferRequest& request = sent.at(response.request_id());
    if (request.from_layer() == 3) {
      ++errors;
      EXPECT_EQ(response.status().code(), grpc::StatusCode::INVALID_ARGUMENT);
      EXPECT_THAT(response.status().message(), HasSubstr("from_layer: 3"));
      continue;
    }
    EXPECT_EQ(response.status().code(), 0);
    ExpectMatchesReference(ReferenceProbabilities(*model_, request),
                           model_->num_classes(), response);
  }
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(answers, kRequests);
  EXPECT_EQ(errors, kRequests / 50);
}

TEST_F(CloudServerTest, StreamWithoutAModelGetsANamedErrorPerRequest) {
  auto stub = Stub();
  grpc::ClientContext context;
  auto stream = stub->InferStream(&context);
  v1::InferRequest request =
      MakeRequest(*model_, model_->split_after(), v1::ENCODING_INT8,
                  SplitActivations(*model_, RawSamples(0, 1)), 1);
  request.clear_model_id();
  ASSERT_TRUE(stream->Write(request));
  v1::InferResponse response;
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_EQ(response.status().code(), grpc::StatusCode::INVALID_ARGUMENT);
  // The first request that names the model names it for the stream.
  request.set_model_id(model_->id());
  request.set_request_id(2);
  ASSERT_TRUE(stream->Write(request));
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_EQ(response.status().code(), 0);
  request.clear_model_id();
  request.set_request_id(3);
  ASSERT_TRUE(stream->Write(request));
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_EQ(response.request_id(), 3u);
  EXPECT_EQ(response.status().code(), 0);
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(CloudServerTest, BadRequestsGetNamedErrors) {
  auto stub = Stub();
  const v1::InferRequest good =
      MakeRequest(*model_, model_->split_after(), v1::ENCODING_INT8,
                  SplitActivations(*model_, RawSamples(0, 1)), 1);
  auto call = [&](const v1::InferRequest& request) {
    grpc::ClientContext context;
    v1::InferResponse response;
    return stub->Infer(&context, request, &response);
  };
  v1::InferRequest unknown = good;
  unknown.set_model_id(std::string(64, '0'));
  grpc::Status status = call(unknown);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr(model_->id()));

  v1::InferRequest wrong_width = good;
  wrong_width.mutable_activation()->set_width(65);
  status = call(wrong_width);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("width 65"));

  v1::InferRequest wrong_layer = good;
  wrong_layer.set_from_layer(2);
  status = call(wrong_layer);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("from_layer: 2"));

  v1::InferRequest garbage = good;
  garbage.mutable_activation()->set_data("\xff\x00garbage", 9);
  status = call(garbage);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("9 data bytes"));
  EXPECT_TRUE(call(good).ok());
}

TEST_F(CloudServerTest, GarbageMessageBytesAreRejectedAndTheServerLives) {
  grpc::GenericStub generic(server_->Channel());
  for (const std::string& bytes : {std::string("\xff\xff\xff\xff\x0f garbage"),
                                   std::string(100, '\x0a')}) {
    grpc::ClientContext context;
    grpc::Slice slice(bytes);
    grpc::ByteBuffer request(&slice, 1), response;
    std::promise<grpc::Status> done;
    generic.UnaryCall(&context, "/spex.v1.SplitInference/Infer", {}, &request,
                      &response,
                      [&done](grpc::Status s) { done.set_value(s); });
    const grpc::Status status = done.get_future().get();
    EXPECT_FALSE(status.ok());
  }
  auto stub = Stub();
  grpc::ClientContext context;
  v1::GetModelInfoResponse info;
  EXPECT_TRUE(stub->GetModelInfo(&context, {}, &info).ok());
}

TEST_F(CloudServerTest, OversizedMessageIsResourceExhausted) {
  auto stub = Stub();
  v1::InferRequest request =
      MakeRequest(*model_, model_->split_after(), v1::ENCODING_INT8,
                  SplitActivations(*model_, RawSamples(0, 1)), 1);
  request.mutable_activation()->mutable_data()->resize(5 << 20);
  grpc::ClientContext context;
  v1::InferResponse response;
  const grpc::Status status = stub->Infer(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("larger than max"));
}

TEST_F(CloudServerTest, ModelInfoAndTheOpenInferenceProtocol) {
  auto stub = Stub();
  grpc::ClientContext info_context;
  v1::GetModelInfoResponse info;
  ASSERT_TRUE(stub->GetModelInfo(&info_context, {}, &info).ok());
  ASSERT_EQ(info.models_size(), 1);
  EXPECT_EQ(info.models(0).model_id(), model_->id());
  EXPECT_EQ(info.models(0).name(), "fashion-default");

  auto oip = inference::GRPCInferenceService::NewStub(server_->Channel());
  {
    grpc::ClientContext context;
    inference::ServerReadyResponse ready;
    ASSERT_TRUE(oip->ServerReady(&context, {}, &ready).ok());
    EXPECT_TRUE(ready.ready());
  }
  const std::vector<float> raw = RawSamples(42, 4);
  inference::ModelInferRequest request;
  request.set_model_name("fashion-default");
  auto* input = request.add_inputs();
  input->set_name("input");
  input->set_datatype("UINT8");
  for (int d : {4, 28, 28}) input->add_shape(d);
  std::string bytes;
  for (float v : raw)
    bytes.push_back(static_cast<char>(static_cast<uint8_t>(v)));
  request.add_raw_input_contents(bytes);
  grpc::ClientContext context;
  inference::ModelInferResponse response;
  ASSERT_TRUE(oip->ModelInfer(&context, request, &response).ok());
  const std::vector<float> reference = ReferenceProbabilities(
      *model_, MakeRequest(*model_, 0, v1::ENCODING_UINT8, raw, 1));
  ASSERT_EQ(response.raw_output_contents_size(), 2);
  const std::string& probabilities = response.raw_output_contents(0);
  ASSERT_EQ(probabilities.size(), reference.size() * 4);
  for (size_t i = 0; i < reference.size(); ++i) {
    float p;
    std::memcpy(&p, probabilities.data() + 4 * i, 4);
    EXPECT_NEAR(p, reference[i], 1e-5);
  }
}

}  // namespace
}  // namespace spex

namespace spex {
namespace {

TEST_F(CloudServerTest, PythonClientWithStubsGeneratedFromTheProtos) {
  const std::string work =
      testing::TempDir() + "/spex_python_client_" + std::to_string(::getpid());
  std::filesystem::create_directories(work);
  const ToolRun python = RunTool(
      "/usr/bin/python3",
      std::string(SPEX_SOURCE_DIR) + "/tests/integration/python_client.py " +
          server_->address() + " " + SPEX_SOURCE_DIR + "/proto " + work);
  EXPECT_EQ(python.exit_code, 0) << python.output;
  EXPECT_THAT(python.output, HasSubstr("OIP labels equal SplitInference's"));
}

}  // namespace
}  // namespace spex
