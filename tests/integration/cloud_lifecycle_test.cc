// spex-cloud over its life: hot reload under load with no request failed, a
// bad model file reported and skipped, SIGTERM with requests in flight (all
// answered, exit 0), health and reflection, and a metrics page that
// Prometheus's own promtool accepts.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "spex/v1/split_inference.grpc.pb.h"
#include "tests/cloud_service/cloud_test_support.h"
#include "tests/integration/daemon_process.h"
#include "tests/tools/run_tool.h"

namespace spex {
namespace {

using ::testing::HasSubstr;

std::string Scrape(int port) {
  return RunTool("curl",
                 "-sf http://127.0.0.1:" + std::to_string(port) + "/metrics")
      .output;
}

// Streams one-sample requests on `streams` streams until stopped; counts
// answers and failures.
class Load {
 public:
  Load(std::shared_ptr<grpc::Channel> channel, const Model& model, int streams)
      : model_(model) {
    for (int i = 0; i < streams; ++i) {
      threads_.emplace_back([this, channel, i] { Run(channel, i); });
    }
  }
  void Stop() {
    stop_ = true;
    for (std::thread& t : threads_) t.join();
    threads_.clear();
  }
  ~Load() { Stop(); }

  std::atomic<int> sent{0}, answered{0}, failed{0};
  std::atomic<bool> stream_broken{false};

 private:
  void Run(std::shared_ptr<grpc::Channel> channel, int index) {
    auto stub = v1::SplitInference::NewStub(channel);
    grpc::ClientContext context;
    context.AddMetadata("spex-model-id", model_.id());
    auto stream = stub->InferStream(&context);
    const v1::InferRequest base =
        MakeRequest(model_, model_.split_after(), v1::ENCODING_INT8,
                    SplitActivations(model_, RawSamples(index, 1)), 0);
    std::thread reader([&] {
      v1::InferResponse response;
      while (stream->Read(&response)) {
        (response.status().code() == 0 ? answered : failed)++;
      }
    });
    uint64_t id = 0;
    while (!stop_) {
      // Keep about 16 in flight.
      if (sent - answered - failed > 16 * static_cast<int>(threads_.size())) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        continue;
      }
      v1::InferRequest request = base;
      request.set_request_id(++id);
      if (!stream->Write(request)) break;
      ++sent;
    }
    stream->WritesDone();
    reader.join();
    if (!stream->Finish().ok()) stream_broken = true;
  }

  const Model& model_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

class CloudLifecycleTest : public testing::Test {
 protected:
  void SetUp() override {
    model_ = LoadTestModel(DefaultModelPath());
    ASSERT_NE(model_, nullptr);
    dir_ = ModelDirWithDefaultModel("cloud_lifecycle");
  }
  std::shared_ptr<const Model> model_;
  std::string dir_;
};

TEST_F(CloudLifecycleTest, HotReloadUnderLoadFailsNoRequest) {
  CloudProcess server(
      SPEX_CLOUD_BINARY, testing::TempDir(),
      {"--plaintext", "--model_dir=" + dir_, "--reload_debounce=100ms"});
  ASSERT_TRUE(server.ok()) << server.log();
  Load load(server.Channel(), *model_, 4);
  const std::string path = dir_ + "/fashion-default.spex";
  for (int round = 0; round < 4; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    // Replace the file the way an operator's deploy does: copy, rename.
    std::filesystem::copy_file(
        DefaultModelPath(), path + ".new",
        std::filesystem::copy_options::overwrite_existing);
    std::filesystem::rename(path + ".new", path);
    server.Signal(SIGHUP);
    // Add and remove a second copy (another name, the same model).
    std::filesystem::copy_file(
        DefaultModelPath(), dir_ + "/copy.spex",
        std::filesystem::copy_options::overwrite_existing);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::filesystem::remove(dir_ + "/copy.spex");
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  load.Stop();
  EXPECT_GT(load.answered, 100);
  EXPECT_EQ(load.failed, 0);
  EXPECT_EQ(load.sent, load.answered);
  EXPECT_FALSE(load.stream_broken);
  EXPECT_THAT(server.log(), HasSubstr("SIGHUP: reloading"));
}

TEST_F(CloudLifecycleTest, BadModelFileIsReportedAndSkipped) {
  std::ofstream(dir_ + "/broken.spex") << "definitely not a model";
  CloudProcess server(SPEX_CLOUD_BINARY, testing::TempDir(),
                      {"--plaintext", "--model_dir=" + dir_});
  ASSERT_TRUE(server.ok()) << server.log();
  EXPECT_THAT(server.log(), HasSubstr("skipped bad model file"));
  EXPECT_THAT(server.log(), HasSubstr("broken.spex"));
  const std::string metrics = Scrape(server.metrics_port());
  EXPECT_THAT(metrics, HasSubstr("spex_cloud_model_load_errors_total 1"));
  EXPECT_THAT(metrics, HasSubstr("spex_cloud_models_loaded 1"));
  // A second bad file arriving later is reported by the watcher.
  std::ofstream(dir_ + "/also-broken.spex") << "\x22";
  for (int i = 0;
       i < 100 && server.log().find("also-broken") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_THAT(server.log(), HasSubstr("also-broken.spex"));
  auto stub = v1::SplitInference::NewStub(server.Channel());
  grpc::ClientContext context;
  v1::GetModelInfoResponse info;
  ASSERT_TRUE(stub->GetModelInfo(&context, {}, &info).ok());
  EXPECT_EQ(info.models_size(), 1);
}

TEST_F(CloudLifecycleTest, SigtermAnswersEverythingInFlightAndExitsZero) {
  CloudProcess server(SPEX_CLOUD_BINARY, testing::TempDir(),
                      {"--plaintext", "--model_dir=" + dir_, "--workers=1",
                       // Each batch waits, so many requests are in flight.
                       "--batch_window=20ms"});
  ASSERT_TRUE(server.ok()) << server.log();
  auto stub = v1::SplitInference::NewStub(server.Channel());
  grpc::ClientContext context;
  context.AddMetadata("spex-model-id", model_->id());
  auto stream = stub->InferStream(&context);
  const v1::InferRequest base =
      MakeRequest(*model_, 0, v1::ENCODING_UINT8, RawSamples(0, 1), 0);
  constexpr int kRequests = 400;
  for (int r = 0; r < kRequests; ++r) {
    v1::InferRequest request = base;
    request.set_request_id(r);
    ASSERT_TRUE(stream->Write(request));
  }
  server.Signal(SIGTERM);
  int answered = 0, refused = 0;
  v1::InferResponse response;
  while (stream->Read(&response)) {
    if (response.status().code() == 0) {
      ++answered;
    } else {
      EXPECT_EQ(response.status().code(), grpc::StatusCode::UNAVAILABLE);
      ++refused;
    }
  }
  // Every request the server read got an answer; any it had not read yet
  // when it drained was refused with UNAVAILABLE, so the client knows.
  EXPECT_GT(answered, 0);
  const grpc::Status end = stream->Finish();
  if (answered + refused < kRequests) {
    EXPECT_EQ(end.error_code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_THAT(end.error_message(), HasSubstr("shutting down"));
  }
  EXPECT_EQ(server.WaitForExit(), 0) << server.log();
  EXPECT_THAT(server.log(), HasSubstr("drained"));
  // New calls are refused once it is gone.
  grpc::ClientContext after;
  v1::GetModelInfoResponse info;
  after.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(2));
  EXPECT_FALSE(stub->GetModelInfo(&after, {}, &info).ok());
}

TEST_F(CloudLifecycleTest, HealthFollowsTheModels) {
  std::filesystem::remove(dir_ + "/fashion-default.spex");
  CloudProcess server(
      SPEX_CLOUD_BINARY, testing::TempDir(),
      {"--plaintext", "--model_dir=" + dir_, "--reload_debounce=50ms"});
  ASSERT_TRUE(server.ok()) << server.log();
  auto health = grpc::health::v1::Health::NewStub(server.Channel());
  auto check = [&](const std::string& service) {
    grpc::ClientContext context;
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse response;
    EXPECT_TRUE(health->Check(&context, request, &response).ok());
    return response.status();
  };
  EXPECT_EQ(check(""), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  std::filesystem::copy_file(DefaultModelPath(), dir_ + "/m.spex");
  for (int i = 0; i < 100 && check("spex.v1.SplitInference") !=
                                 grpc::health::v1::HealthCheckResponse::SERVING;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(check("spex.v1.SplitInference"),
            grpc::health::v1::HealthCheckResponse::SERVING);
  EXPECT_EQ(check(""), grpc::health::v1::HealthCheckResponse::SERVING);
  // The probe containers and Kubernetes use says the same.
  ToolRun probe =
      RunTool(SPEX_HEALTH_BINARY, "--target=" + server.address() +
                                      " --service=spex.v1.SplitInference");
  EXPECT_EQ(probe.exit_code, 0) << probe.output;
  EXPECT_THAT(probe.output, HasSubstr("SERVING"));
  server.Signal(SIGTERM);
  EXPECT_EQ(server.WaitForExit(), 0);
  probe = RunTool(SPEX_HEALTH_BINARY,
                  "--timeout_ms=500 --target=" + server.address());
  EXPECT_EQ(probe.exit_code, 1) << probe.output;
  EXPECT_THAT(probe.output, HasSubstr("no answer"));
}

TEST_F(CloudLifecycleTest, ReflectionListsTheServices) {
  CloudProcess server(SPEX_CLOUD_BINARY, testing::TempDir(),
                      {"--plaintext", "--model_dir=" + dir_});
  ASSERT_TRUE(server.ok()) << server.log();
  auto stub =
      grpc::reflection::v1alpha::ServerReflection::NewStub(server.Channel());
  grpc::ClientContext context;
  auto stream = stub->ServerReflectionInfo(&context);
  grpc::reflection::v1alpha::ServerReflectionRequest request;
  request.set_list_services("");
  ASSERT_TRUE(stream->Write(request));
  grpc::reflection::v1alpha::ServerReflectionResponse response;
  ASSERT_TRUE(stream->Read(&response));
  std::vector<std::string> services;
  for (const auto& service : response.list_services_response().service()) {
    services.push_back(service.name());
  }
  EXPECT_THAT(services, testing::IsSupersetOf({"spex.v1.SplitInference",
                                               "inference.GRPCInferenceService",
                                               "grpc.health.v1.Health"}));
  stream->WritesDone();
  stream->Finish();
}

TEST_F(CloudLifecycleTest, MetricsCountRequestsAndPassPromtool) {
  CloudProcess server(SPEX_CLOUD_BINARY, testing::TempDir(),
                      {"--plaintext", "--model_dir=" + dir_});
  ASSERT_TRUE(server.ok()) << server.log();
  auto stub = v1::SplitInference::NewStub(server.Channel());
  const v1::InferRequest good =
      MakeRequest(*model_, model_->split_after(), v1::ENCODING_INT8,
                  SplitActivations(*model_, RawSamples(0, 3)), 1);
  for (int i = 0; i < 5; ++i) {
    grpc::ClientContext context;
    v1::InferResponse response;
    ASSERT_TRUE(stub->Infer(&context, good, &response).ok());
  }
  v1::InferRequest bad = good;
  bad.set_from_layer(9);
  grpc::ClientContext context;
  v1::InferResponse response;
  EXPECT_FALSE(stub->Infer(&context, bad, &response).ok());

  const std::string metrics = Scrape(server.metrics_port());
  EXPECT_THAT(metrics, HasSubstr("spex_cloud_requests_total{code=\"OK\","
                                 "model=\"fashion-default\"} 5"));
  EXPECT_THAT(metrics, HasSubstr("spex_cloud_requests_total{code=\"INVALID_"
                                 "ARGUMENT\",model=\"fashion-default\"} 1"));
  EXPECT_THAT(
      metrics,
      HasSubstr("spex_cloud_samples_total{model=\"fashion-default\"} 15"));
  EXPECT_THAT(metrics, HasSubstr("spex_cloud_request_seconds_count 6"));
  EXPECT_THAT(metrics, HasSubstr("spex_cloud_batch_size_bucket"));
  EXPECT_THAT(metrics, HasSubstr("spex_cloud_inflight 0"));
  EXPECT_THAT(metrics, HasSubstr("spex_build_info{component=\"cloud\""));
  const std::string page = testing::TempDir() + "/cloud_metrics.txt";
  std::ofstream(page) << metrics;
  const ToolRun promtool = RunTool("promtool", "check metrics < " + page);
  EXPECT_EQ(promtool.exit_code, 0) << promtool.output;
}

}  // namespace
}  // namespace spex
