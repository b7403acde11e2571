// spex-edge with spex-cloud, real processes on loopback, as an application
// on the device sees them (spex-replay's library over the Unix socket):
// answers equal the in-process model's, every sample is answered through
// cloud crashes, slow links, a cloud serving another model, a full queue,
// TLS with a token, and shutdown.
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "common/codec/activation_codec.h"
#include "common/model/model_file.h"
#include "edge_agent/local_classifier.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "spex/v1/edge_inference.grpc.pb.h"
#include "tests/cloud_service/cloud_test_support.h"
#include "tests/integration/daemon_process.h"
#include "tests/integration/delay_proxy.h"
#include "tests/tools/run_tool.h"
#include "tools/common/metrics_scrape.h"
#include "tools/replay/replay.h"

namespace spex {
namespace {

using ::testing::HasSubstr;

// spex-edge on a Unix socket in the test's directory (and an ephemeral TCP
// port, the port file's first line), offloading to `cloud`.
class EdgeProcess : public DaemonProcess {
 public:
  EdgeProcess(const std::string& socket, std::vector<std::string> flags)
      : DaemonProcess(SPEX_EDGE_BINARY, testing::TempDir(),
                      WithDefaults(socket, std::move(flags))),
        socket_(socket) {}
  std::string target() const { return "unix:" + socket_; }
  double Metric(const std::string& name) const {
    return ScrapeMetric("127.0.0.1:" + std::to_string(metrics_port()), name)
        .value_or(-1);
  }

 private:
  static std::vector<std::string> WithDefaults(const std::string& socket,
                                               std::vector<std::string> flags) {
    flags.insert(flags.begin(), {"--model=" + DefaultModelPath(),
                                 "--socket=" + socket,
                                 "--tcp_listen=127.0.0.1:0"});
    return flags;
  }
  std::string socket_;
};

// Waits (up to 5 s) until the agent has a cloud endpoint serving its model.
void WaitForCloud(const EdgeProcess& edge) {
  for (int i = 0; i < 250 && edge.Metric("spex_edge_cloud_up") < 0.5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string TestSocket(const std::string& name) {
  return testing::TempDir() + "/spex_" + name + "_" +
         std::to_string(::getpid()) + ".sock";
}

Dataset FirstSamples(int count) {
  Dataset data = FashionTestSet();
  data.labels.resize(count);
  data.pixels.resize(static_cast<size_t>(count) * data.width);
  return data;
}

std::vector<ReplayRecord> ReplayOrDie(const Dataset& data,
                                      const std::string& target,
                                      int streams = 4, double rate = 0) {
  ReplayOptions options;
  options.target = target;
  options.streams = streams;
  options.rate = rate;
  absl::StatusOr<std::vector<ReplayRecord>> records =
      Replay(data, options, nullptr);
  EXPECT_TRUE(records.ok()) << records.status();
  return records.ok() ? *records : std::vector<ReplayRecord>();
}

int CountPath(const std::vector<ReplayRecord>& records, v1::AnswerPath path,
              v1::FallbackReason reason = v1::FALLBACK_REASON_UNSPECIFIED) {
  int count = 0;
  for (const ReplayRecord& r : records) {
    count += r.path == path &&
             (reason == v1::FALLBACK_REASON_UNSPECIFIED || r.reason == reason);
  }
  return count;
}

void ExpectEveryAnswered(const std::vector<ReplayRecord>& records) {
  for (const ReplayRecord& r : records) {
    ASSERT_GE(r.predicted, 0) << "sample " << r.id << " unanswered "
                              << r.error;
  }
}

class EdgeAgentTest : public testing::Test {
 protected:
  void SetUp() override {
    model_ = *Model::Load(DefaultModelPath());
    models_ = ModelDirWithDefaultModel("edge_agent_models");
  }
  std::shared_ptr<const Model> model_;
  std::string models_;
};

TEST_F(EdgeAgentTest, AnswersEqualTheInProcessModel) {
  CloudProcess cloud(SPEX_CLOUD_BINARY, testing::TempDir(),
                     {"--plaintext", "--model_dir=" + models_});
  ASSERT_TRUE(cloud.ok()) << cloud.log();
  EdgeProcess edge(TestSocket("answers"),
                   {"--cloud=" + cloud.address(), "--cloud_plaintext",
                    "--deadline=5s"});
  ASSERT_TRUE(edge.ok()) << edge.log();
  WaitForCloud(edge);
  const Dataset data = FirstSamples(2000);
  const std::vector<ReplayRecord> records = ReplayOrDie(data, edge.target());
  ExpectEveryAnswered(records);

  LocalClassifier classifier(model_);
  const std::vector<ExitRule> rules = CalibratedRules(*model_);
  int local = 0, cloud_answers = 0;
  for (const ReplayRecord& r : records) {
    std::vector<float> raw(data.sample(r.id), data.sample(r.id) + data.width);
    absl::StatusOr<LocalResult> exit = classifier.Run(raw, rules);
    ASSERT_TRUE(exit.ok());
    if (exit->confident) {
      ++local;
      EXPECT_EQ(r.path, v1::ANSWER_PATH_LOCAL) << "sample " << r.id;
      EXPECT_EQ(r.predicted, exit->label) << "sample " << r.id;
      continue;
    }
    ++cloud_answers;
    ASSERT_EQ(r.path, v1::ANSWER_PATH_CLOUD) << "sample " << r.id;
    // The cloud runs the tail on the int8 split, as the agent encodes it.
    v1::InferRequest request = MakeRequest(
        *model_, model_->split_after(), v1::ENCODING_INT8,
        std::vector<float>(exit->split.begin(), exit->split.end()), 0);
    const std::vector<float> p = ReferenceProbabilities(*model_, request);
    const int label = static_cast<int>(std::max_element(p.begin(), p.end()) -
                                       p.begin());
    if (r.predicted != label) {  // only a tie may differ (batch vs single)
      EXPECT_NEAR(p[r.predicted], p[label], 1e-5) << "sample " << r.id;
    }
  }
  EXPECT_GT(local, 1000);
  EXPECT_GT(cloud_answers, 200);
  const ReplaySummary summary = Summarize(records, 1);
  EXPECT_GT(summary.accuracy, 0.85);
}

TEST_F(EdgeAgentTest, CloudKilledMidReplayEverySampleAnsweredThenReconnects) {
  auto cloud = std::make_unique<CloudProcess>(
      SPEX_CLOUD_BINARY, testing::TempDir(),
      std::vector<std::string>{"--plaintext", "--model_dir=" + models_});
  ASSERT_TRUE(cloud->ok()) << cloud->log();
  const int port = cloud->port();
  EdgeProcess edge(TestSocket("killed"),
                   {"--cloud=" + cloud->address(), "--cloud_plaintext",
                    "--deadline=300ms", "--breaker_open=200ms",
                    "--reconnect_backoff_max=300ms"});
  ASSERT_TRUE(edge.ok()) << edge.log();
  WaitForCloud(edge);
  const Dataset data = FirstSamples(5000);
  // 1,000 samples/s: the cloud dies after about 1 s and is back after 2 s
  // (plus its start-up), leaving 2 s of replay to reconnect and offload.
  auto replay = std::async(std::launch::async, [&] {
    return ReplayOrDie(data, edge.target(), 4, 1000);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  cloud->Signal(SIGKILL);
  cloud->WaitForExit();
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  cloud = std::make_unique<CloudProcess>(
      SPEX_CLOUD_BINARY, testing::TempDir(),
      std::vector<std::string>{"--plaintext", "--model_dir=" + models_,
                               "--listen=127.0.0.1:" + std::to_string(port)});
  ASSERT_TRUE(cloud->ok()) << cloud->log();
  const std::vector<ReplayRecord> records = replay.get();
  ExpectEveryAnswered(records);
  EXPECT_GT(CountPath(records, v1::ANSWER_PATH_FALLBACK), 0);
  // Offloading came back: the last third has cloud answers again.
  int late_cloud = 0;
  for (size_t i = 2 * records.size() / 3; i < records.size(); ++i) {
    late_cloud += records[i].path == v1::ANSWER_PATH_CLOUD;
  }
  EXPECT_GT(late_cloud, 50);
  EXPECT_GT(edge.Metric("spex_edge_cloud_up"), 0.5);
  EXPECT_THAT(edge.log(), HasSubstr("disconnected"));
}

TEST_F(EdgeAgentTest, SlowLinkAnswersByTheDeadline) {
  CloudProcess cloud(SPEX_CLOUD_BINARY, testing::TempDir(),
                     {"--plaintext", "--model_dir=" + models_});
  ASSERT_TRUE(cloud.ok()) << cloud.log();
  DelayProxy proxy(cloud.port());
  EdgeProcess edge(TestSocket("slow"),
                   {"--cloud=" + proxy.address(), "--cloud_plaintext",
                    "--deadline=100ms", "--breaker_failures=20",
                    "--breaker_open=10s"});
  ASSERT_TRUE(edge.ok()) << edge.log();
  // Connect first (the model check), then slow the link beyond the deadline.
  WaitForCloud(edge);
  proxy.set_delay(std::chrono::milliseconds(300));
  const std::vector<ReplayRecord> records =
      ReplayOrDie(FirstSamples(300), edge.target());
  ExpectEveryAnswered(records);
  EXPECT_EQ(CountPath(records, v1::ANSWER_PATH_CLOUD), 0);
  const int late =
      CountPath(records, v1::ANSWER_PATH_FALLBACK, v1::FALLBACK_REASON_DEADLINE);
  EXPECT_GE(late, 20);
  // After 20 deadlines in a row the breaker stops offloading: the later
  // unsure samples (about a quarter of them all) are answered at once
  // instead of each waiting out the deadline.
  EXPECT_GT(CountPath(records, v1::ANSWER_PATH_FALLBACK,
                      v1::FALLBACK_REASON_BREAKER_OPEN),
            10);
  EXPECT_THAT(edge.log(), HasSubstr("circuit breaker open"));
  for (const ReplayRecord& r : records) {
    if (r.path == v1::ANSWER_PATH_FALLBACK) {
      EXPECT_LT(r.latency_us, 1000000) << "sample " << r.id;  // bounded
    }
  }
}

TEST_F(EdgeAgentTest, CloudServingAnotherModelGetsNoOffloads) {
  // Another model: the same network with other class names, so another id.
  v1::Model other = *ReadModelFile(DefaultModelPath());
  other.set_class_names(0, "something else");
  const std::string other_dir = testing::TempDir() + "/spex_other_model_" +
                                std::to_string(::getpid());
  std::filesystem::create_directories(other_dir);
  ASSERT_TRUE(WriteModelFile(other_dir + "/other.spex", &other).ok());
  CloudProcess cloud(SPEX_CLOUD_BINARY, testing::TempDir(),
                     {"--plaintext", "--model_dir=" + other_dir});
  ASSERT_TRUE(cloud.ok()) << cloud.log();
  EdgeProcess edge(TestSocket("mismatch"),
                   {"--cloud=" + cloud.address(), "--cloud_plaintext"});
  ASSERT_TRUE(edge.ok()) << edge.log();
  for (int i = 0; i < 100 && edge.Metric("spex_edge_model_mismatch") < 0.5;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const std::vector<ReplayRecord> records =
      ReplayOrDie(FirstSamples(500), edge.target());
  ExpectEveryAnswered(records);
  EXPECT_EQ(CountPath(records, v1::ANSWER_PATH_CLOUD), 0);
  EXPECT_GT(CountPath(records, v1::ANSWER_PATH_FALLBACK,
                      v1::FALLBACK_REASON_MODEL_MISMATCH),
            50);
  EXPECT_EQ(edge.Metric("spex_edge_model_mismatch"), 1);
  EXPECT_THAT(edge.log(), HasSubstr("serves another model"));
}

TEST_F(EdgeAgentTest, FullQueueIsResourceExhaustedOrAnsweredLocally) {
  // Every sample waits for a slow cloud, so the slots fill up.
  CloudProcess cloud(SPEX_CLOUD_BINARY, testing::TempDir(),
                     {"--plaintext", "--model_dir=" + models_});
  ASSERT_TRUE(cloud.ok()) << cloud.log();
  DelayProxy proxy(cloud.port());
  const Dataset& data = FashionTestSet();
  for (bool local_when_full : {false, true}) {
    SCOPED_TRACE(local_when_full ? "local when full" : "refuse when full");
    std::vector<std::string> flags = {
        "--cloud=" + proxy.address(), "--cloud_plaintext", "--threshold=1",
        "--max_queued=4", "--deadline=2s"};
    if (local_when_full) flags.push_back("--local_when_full");
    EdgeProcess edge(TestSocket(local_when_full ? "full_local" : "full"), flags);
    ASSERT_TRUE(edge.ok()) << edge.log();
    WaitForCloud(edge);
    proxy.set_delay(std::chrono::milliseconds(200));
    auto stub = v1::EdgeInference::NewStub(grpc::CreateChannel(
        edge.target(), grpc::InsecureChannelCredentials()));
    std::vector<std::future<std::pair<grpc::Status, v1::ClassifyResponse>>>
        calls;
    for (int i = 0; i < 16; ++i) {
      calls.push_back(std::async(std::launch::async, [&, i] {
        grpc::ClientContext context;
        v1::ClassifyRequest request;
        request.set_pixels(data.sample(i), data.width);
        v1::ClassifyResponse response;
        grpc::Status status = stub->Classify(&context, request, &response);
        return std::make_pair(status, response);
      }));
    }
    int exhausted = 0, cloud_answers = 0, queue_full = 0;
    for (auto& call : calls) {
      const auto [status, response] = call.get();
      if (!status.ok()) {
        EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
        EXPECT_THAT(status.error_message(), HasSubstr("queue full"));
        ++exhausted;
        continue;
      }
      cloud_answers += response.path() == v1::ANSWER_PATH_CLOUD;
      queue_full += response.fallback_reason() == v1::FALLBACK_REASON_QUEUE_FULL;
    }
    EXPECT_LE(cloud_answers, 16);
    EXPECT_GT(cloud_answers, 0);
    if (local_when_full) {
      EXPECT_EQ(exhausted, 0);
      EXPECT_GT(queue_full, 0);
    } else {
      EXPECT_GT(exhausted, 0);
    }
    proxy.set_delay(std::chrono::milliseconds(0));
  }
}

TEST_F(EdgeAgentTest, BadInputIsNamed) {
  EdgeProcess edge(TestSocket("bad_input"), {});
  ASSERT_TRUE(edge.ok()) << edge.log();
  auto stub = v1::EdgeInference::NewStub(grpc::CreateChannel(
      edge.target(), grpc::InsecureChannelCredentials()));
  auto classify = [&](const v1::ClassifyRequest& request) {
    grpc::ClientContext context;
    v1::ClassifyResponse response;
    return stub->Classify(&context, request, &response);
  };
  v1::ClassifyRequest short_input;
  short_input.set_pixels(std::string(783, '\0'));
  grpc::Status status = classify(short_input);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("783 values"));
  v1::ClassifyRequest nan_input;
  for (int i = 0; i < 784; ++i) {
    nan_input.mutable_values()->add_values(i == 9 ? NAN : 0.5f);
  }
  status = classify(nan_input);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("entry 9 is nan"));
  status = classify(v1::ClassifyRequest());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("input: missing"));
}

TEST_F(EdgeAgentTest, WithoutACloudEverySampleIsAnsweredLocallyOrByFallback) {
  EdgeProcess edge(TestSocket("alone"), {});
  ASSERT_TRUE(edge.ok()) << edge.log();
  const std::vector<ReplayRecord> records =
      ReplayOrDie(FirstSamples(500), edge.target());
  ExpectEveryAnswered(records);
  EXPECT_EQ(CountPath(records, v1::ANSWER_PATH_CLOUD), 0);
  EXPECT_EQ(CountPath(records, v1::ANSWER_PATH_LOCAL) +
                CountPath(records, v1::ANSWER_PATH_FALLBACK,
                          v1::FALLBACK_REASON_CLOUD_UNREACHABLE),
            500);
}

TEST_F(EdgeAgentTest, AuditCountsMatchADirectComputation) {
  CloudProcess cloud(SPEX_CLOUD_BINARY, testing::TempDir(),
                     {"--plaintext", "--model_dir=" + models_});
  ASSERT_TRUE(cloud.ok()) << cloud.log();
  EdgeProcess edge(TestSocket("audit"),
                   {"--cloud=" + cloud.address(), "--cloud_plaintext",
                    "--audit_fraction=1", "--deadline=5s"});
  ASSERT_TRUE(edge.ok()) << edge.log();
  WaitForCloud(edge);
  const Dataset data = FirstSamples(1000);
  const std::vector<ReplayRecord> records = ReplayOrDie(data, edge.target());
  ExpectEveryAnswered(records);
  // Every local answer is audited: the cloud's full-network label on the
  // same int8 split against the exit's.
  LocalClassifier classifier(model_);
  const std::vector<ExitRule> rules = CalibratedRules(*model_);
  int agree = 0, disagree = 0;
  for (const ReplayRecord& r : records) {
    if (r.path != v1::ANSWER_PATH_LOCAL) continue;
    std::vector<float> raw(data.sample(r.id), data.sample(r.id) + data.width);
    absl::StatusOr<LocalResult> exit = classifier.Run(raw, rules);
    const v1::InferRequest request = MakeRequest(
        *model_, model_->split_after(), v1::ENCODING_INT8,
        std::vector<float>(exit->split.begin(), exit->split.end()), 0);
    const std::vector<float> p = ReferenceProbabilities(*model_, request);
    const int full = static_cast<int>(std::max_element(p.begin(), p.end()) -
                                      p.begin());
    (full == exit->label ? agree : disagree)++;
  }
  // Audits finish in the background: wait for the counts to settle.
  for (int i = 0; i < 200; ++i) {
    const double counted =
        edge.Metric("spex_edge_audit_total{agree=\"true\"}") +
        edge.Metric("spex_edge_audit_total{agree=\"false\"}");
    if (counted >= agree + disagree) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_NEAR(edge.Metric("spex_edge_audit_total{agree=\"true\"}"), agree, 1);
  EXPECT_NEAR(edge.Metric("spex_edge_audit_total{agree=\"false\"}"), disagree,
              1);
}

TEST_F(EdgeAgentTest, SigtermAnswersEverySampleInFlightAndExitsZero) {
  CloudProcess cloud(SPEX_CLOUD_BINARY, testing::TempDir(),
                     {"--plaintext", "--model_dir=" + models_});
  ASSERT_TRUE(cloud.ok()) << cloud.log();
  // Everything goes to the cloud, and the queue holds every sample sent
  // (a full queue is another test's subject).
  EdgeProcess edge(TestSocket("sigterm"),
                   {"--cloud=" + cloud.address(), "--cloud_plaintext",
                    "--threshold=1", "--max_queued=1024"});
  ASSERT_TRUE(edge.ok()) << edge.log();
  WaitForCloud(edge);
  auto stub = v1::EdgeInference::NewStub(grpc::CreateChannel(
      edge.target(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  auto stream = stub->ClassifyStream(&context);
  const Dataset& data = FashionTestSet();
  constexpr int kSamples = 300;
  for (int i = 0; i < kSamples; ++i) {
    v1::ClassifyRequest request;
    request.set_request_id(i);
    request.set_pixels(data.sample(i), data.width);
    ASSERT_TRUE(stream->Write(request));
  }
  edge.Signal(SIGTERM);
  int answered = 0, refused = 0;
  v1::ClassifyResponse response;
  while (stream->Read(&response)) {
    if (response.has_status()) {
      EXPECT_EQ(response.status().code(), grpc::StatusCode::UNAVAILABLE);
      ++refused;
    } else {
      ++answered;
    }
  }
  // Every sample the agent read is answered; one it had not read when it
  // drained is refused, or covered by the stream's UNAVAILABLE end, so the
  // application knows to send it again.
  const grpc::Status end = stream->Finish();
  EXPECT_GT(answered, 0);
  if (answered + refused < kSamples) {
    EXPECT_EQ(end.error_code(), grpc::StatusCode::UNAVAILABLE);
  }
  EXPECT_EQ(edge.WaitForExit(), 0) << edge.log();
}

TEST_F(EdgeAgentTest, TlsMutualTlsAndTokenEndToEnd) {
  const std::string dir = testing::TempDir() + "/spex_edge_tls_" +
                          std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  const ToolRun made = RunTool(
      "bash", "-c 'cd " + dir +
                  " && ec=\"-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
                  "-nodes\" && openssl req -x509 $ec -keyout ca.key -out ca.pem "
                  "-days 2 -subj /CN=ca && printf "
                  "\"subjectAltName=IP:127.0.0.1\\n\" > ext && openssl req $ec "
                  "-keyout server.key -out server.csr -subj /CN=127.0.0.1 && "
                  "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key "
                  "-CAcreateserial -days 2 -extfile ext -out server.pem && "
                  "openssl req $ec -keyout edge.key -out edge.csr -subj "
                  "/CN=edge-1 && openssl x509 -req -in edge.csr -CA ca.pem "
                  "-CAkey ca.key -CAcreateserial -days 2 -out edge.pem'");
  ASSERT_EQ(made.exit_code, 0) << made.output;
  std::ofstream(dir + "/tokens") << "fleet-token\n";
  std::ofstream(dir + "/edge-token") << "fleet-token\n";
  std::ofstream(dir + "/wrong-token") << "guess\n";
  CloudProcess cloud(SPEX_CLOUD_BINARY, testing::TempDir(),
                     {"--tls_cert=" + dir + "/server.pem",
                      "--tls_key=" + dir + "/server.key",
                      "--token_file=" + dir + "/tokens",
                      "--model_dir=" + models_});
  ASSERT_TRUE(cloud.ok()) << cloud.log();
  {
    EdgeProcess edge(TestSocket("tls"),
                     {"--cloud=" + cloud.address(), "--cloud_ca=" + dir + "/ca.pem",
                      "--cloud_token_file=" + dir + "/edge-token",
                      "--deadline=5s"});
    ASSERT_TRUE(edge.ok()) << edge.log();
    WaitForCloud(edge);
    const std::vector<ReplayRecord> records =
        ReplayOrDie(FirstSamples(300), edge.target());
    ExpectEveryAnswered(records);
    EXPECT_GT(CountPath(records, v1::ANSWER_PATH_CLOUD), 30);
  }
  {
    // Mutual TLS: the cloud asks for a client certificate from its CA.
    CloudProcess mtls_cloud(SPEX_CLOUD_BINARY, testing::TempDir(),
                            {"--tls_cert=" + dir + "/server.pem",
                             "--tls_key=" + dir + "/server.key",
                             "--tls_client_ca=" + dir + "/ca.pem",
                             "--model_dir=" + models_});
    ASSERT_TRUE(mtls_cloud.ok()) << mtls_cloud.log();
    EdgeProcess edge(TestSocket("mtls"),
                     {"--cloud=" + mtls_cloud.address(),
                      "--cloud_ca=" + dir + "/ca.pem",
                      "--cloud_cert=" + dir + "/edge.pem",
                      "--cloud_key=" + dir + "/edge.key", "--deadline=5s"});
    ASSERT_TRUE(edge.ok()) << edge.log();
    WaitForCloud(edge);
    const std::vector<ReplayRecord> records =
        ReplayOrDie(FirstSamples(300), edge.target());
    ExpectEveryAnswered(records);
    EXPECT_GT(CountPath(records, v1::ANSWER_PATH_CLOUD), 30);
  }
  EdgeProcess wrong(TestSocket("tls_wrong"),
                    {"--cloud=" + cloud.address(), "--cloud_ca=" + dir + "/ca.pem",
                     "--cloud_token_file=" + dir + "/wrong-token"});
  ASSERT_TRUE(wrong.ok()) << wrong.log();
  const std::vector<ReplayRecord> records =
      ReplayOrDie(FirstSamples(200), wrong.target());
  ExpectEveryAnswered(records);
  EXPECT_EQ(CountPath(records, v1::ANSWER_PATH_CLOUD), 0);
  EXPECT_GT(wrong.Metric("spex_edge_cloud_errors_total{code=\"UNAUTHENTICATED\"}"),
            0);
}

TEST_F(EdgeAgentTest, MetricsPassPromtoolAndTheSocketIsGroupOnly) {
  EdgeProcess edge(TestSocket("metrics"), {});
  ASSERT_TRUE(edge.ok()) << edge.log();
  ReplayOrDie(FirstSamples(50), edge.target());
  const ToolRun page = RunTool(
      "curl", "-sf http://127.0.0.1:" + std::to_string(edge.metrics_port()) +
                  "/metrics");
  ASSERT_EQ(page.exit_code, 0);
  for (const char* name :
       {"spex_edge_requests_total", "spex_edge_fallbacks_total",
        "spex_edge_latency_seconds_bucket", "spex_edge_head_seconds_bucket",
        "spex_edge_confidence_bucket", "spex_edge_offload_bytes_total",
        "spex_edge_threshold", "spex_edge_queue_depth", "spex_edge_cloud_up",
        "spex_edge_cloud_rtt_seconds_bucket", "spex_edge_model_mismatch",
        "spex_edge_audit_total", "spex_build_info{component=\"edge\""}) {
    EXPECT_THAT(page.output, HasSubstr(name));
  }
  const std::string file = testing::TempDir() + "/edge_metrics.txt";
  std::ofstream(file) << page.output;
  const ToolRun promtool = RunTool("promtool", "check metrics < " + file);
  EXPECT_EQ(promtool.exit_code, 0) << promtool.output;
  struct stat info;
  ASSERT_EQ(::stat(TestSocket("metrics").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0660u);
}

}  // namespace
}  // namespace spex

namespace spex {
namespace {

TEST_F(EdgeAgentTest, SighupReloadsTheModelWithoutFailingASample) {
  CloudProcess cloud(SPEX_CLOUD_BINARY, testing::TempDir(),
                     {"--plaintext", "--model_dir=" + models_});
  ASSERT_TRUE(cloud.ok()) << cloud.log();
  EdgeProcess edge(TestSocket("reload"),
                   {"--cloud=" + cloud.address(), "--cloud_plaintext"});
  ASSERT_TRUE(edge.ok()) << edge.log();
  WaitForCloud(edge);
  const Dataset data = FirstSamples(2000);
  auto replay = std::async(std::launch::async, [&] {
    return ReplayOrDie(data, edge.target(), 4, 2000);
  });
  for (int i = 0; i < 4; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    edge.Signal(SIGHUP);
  }
  const std::vector<ReplayRecord> records = replay.get();
  ExpectEveryAnswered(records);
  for (const ReplayRecord& r : records) EXPECT_EQ(r.error, "") << r.id;
  EXPECT_GT(CountPath(records, v1::ANSWER_PATH_CLOUD), 100);
  EXPECT_THAT(edge.log(), HasSubstr("SIGHUP: reloading"));
}

}  // namespace
}  // namespace spex

namespace spex {
namespace {

TEST_F(EdgeAgentTest, AdaptiveThresholdHoldsAnOffloadBudget) {
  CloudProcess cloud(SPEX_CLOUD_BINARY, testing::TempDir(),
                     {"--plaintext", "--model_dir=" + models_});
  ASSERT_TRUE(cloud.ok()) << cloud.log();
  // The calibrated threshold offloads about 27 % of Fashion-MNIST; the
  // budget asks for 10 %.
  EdgeProcess edge(TestSocket("budget"),
                   {"--cloud=" + cloud.address(), "--cloud_plaintext",
                    "--offload_budget=0.1", "--controller_gain=0.005"});
  ASSERT_TRUE(edge.ok()) << edge.log();
  WaitForCloud(edge);
  const std::vector<ReplayRecord> records =
      ReplayOrDie(FirstSamples(6000), edge.target());
  ExpectEveryAnswered(records);
  int offloaded = 0, counted = 0;
  for (size_t i = records.size() / 2; i < records.size(); ++i) {
    offloaded += records[i].path != v1::ANSWER_PATH_LOCAL;
    ++counted;
  }
  // Stated tolerance: within 3 points of the budget over the second half.
  EXPECT_NEAR(static_cast<double>(offloaded) / counted, 0.10, 0.03);
  EXPECT_LT(edge.Metric("spex_edge_threshold"),
            model_->description().exits(0).threshold());
  EXPECT_THAT(edge.log(), HasSubstr("threshold moved"));
}

TEST_F(EdgeAgentTest, AdaptiveThresholdFallsWhenTheLinkSlowsDown) {
  CloudProcess cloud(SPEX_CLOUD_BINARY, testing::TempDir(),
                     {"--plaintext", "--model_dir=" + models_});
  ASSERT_TRUE(cloud.ok()) << cloud.log();
  DelayProxy proxy(cloud.port());
  EdgeProcess edge(TestSocket("latency"),
                   {"--cloud=" + proxy.address(), "--cloud_plaintext",
                    "--latency_objective=40ms", "--latency_quantile=0.95",
                    "--controller_gain=0.005", "--deadline=1s"});
  ASSERT_TRUE(edge.ok()) << edge.log();
  WaitForCloud(edge);
  // A fast link: no answer is late, the threshold stays up.
  ReplayOrDie(FirstSamples(1500), edge.target(), 4, 3000);
  const double fast = edge.Metric("spex_edge_threshold");
  // A slow link: every cloud answer misses the objective, so more samples
  // must leave at the exit.
  proxy.set_delay(std::chrono::milliseconds(80));
  const std::vector<ReplayRecord> slow_records =
      ReplayOrDie(FirstSamples(3000), edge.target(), 4, 3000);
  ExpectEveryAnswered(slow_records);
  const double slow = edge.Metric("spex_edge_threshold");
  EXPECT_LT(slow, fast - 0.1) << "fast link " << fast << ", slow " << slow;
  int late = 0, counted = 0;
  for (size_t i = slow_records.size() / 2; i < slow_records.size(); ++i) {
    late += slow_records[i].latency_us > 40000;
    ++counted;
  }
  // The objective holds again once the threshold has moved (with slack for
  // the replay's own view of latency).
  EXPECT_LT(static_cast<double>(late) / counted, 0.10);
}

}  // namespace
}  // namespace spex

namespace spex {
namespace {

TEST_F(EdgeAgentTest, SpreadsOverEndpointsAndFailsOverWhenOneDies) {
  auto first = std::make_unique<CloudProcess>(
      SPEX_CLOUD_BINARY, testing::TempDir(),
      std::vector<std::string>{"--plaintext", "--model_dir=" + models_});
  CloudProcess second(SPEX_CLOUD_BINARY, testing::TempDir(),
                      {"--plaintext", "--model_dir=" + models_});
  ASSERT_TRUE(first->ok()) << first->log();
  ASSERT_TRUE(second.ok()) << second.log();
  auto served = [](const DaemonProcess& cloud) {
    return ScrapeMetric("127.0.0.1:" + std::to_string(cloud.metrics_port()),
                        "spex_cloud_samples_total{model=\"fashion-default\"}")
        .value_or(0);
  };
  EdgeProcess edge(TestSocket("endpoints"),
                   {"--cloud=" + first->address() + "," + second.address(),
                    "--cloud_plaintext", "--deadline=2s"});
  ASSERT_TRUE(edge.ok()) << edge.log();
  for (int i = 0; i < 250 && edge.Metric("spex_edge_cloud_up") < 0.5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // both up
  const std::vector<ReplayRecord> spread =
      ReplayOrDie(FirstSamples(1000), edge.target());
  ExpectEveryAnswered(spread);
  const double first_served = served(*first), second_served = served(second);
  EXPECT_GT(first_served, 50);
  EXPECT_GT(second_served, 50);
  // One replica dies in the middle of a replay: nothing is lost, and the
  // other takes all the offloads.
  auto replay = std::async(std::launch::async, [&] {
    return ReplayOrDie(FirstSamples(3000), edge.target(), 4, 1500);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  first->Signal(SIGKILL);
  first->WaitForExit();
  const std::vector<ReplayRecord> records = replay.get();
  ExpectEveryAnswered(records);
  int late_cloud = 0;
  for (size_t i = records.size() / 2; i < records.size(); ++i) {
    late_cloud += records[i].path == v1::ANSWER_PATH_CLOUD;
  }
  EXPECT_GT(late_cloud, 100);
  EXPECT_GT(served(second), second_served + 100);
}

}  // namespace
}  // namespace spex
