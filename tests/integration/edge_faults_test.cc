// spex-edge when the cloud fails it: killed and restarted, behind a slow
// link, serving another model, behind TLS with tokens, one of two replicas
// gone. Every sample is answered in each case.
#include "tests/integration/edge_test_support.h"

namespace spex {
namespace {

using ::testing::HasSubstr;

TEST_F(EdgeAgentTest, CloudKilledMidReplayEverySampleAnsweredThenReconnects) {
  auto cloud = std::make_unique<CloudProcess>(
      SPEX_CLOUD_BINARY, testing::TempDir(),
      std::vector<std::string>{"--plaintext", "--model_dir=" + models_});
  ASSERT_TRUE(cloud->ok()) << cloud->log();
  const int port = cloud->port();
  EdgeProcess edge(
      TestSocket("killed"),
      {"--cloud=" + cloud->address(), "--cloud_plaintext", "--deadline=300ms",
       "--breaker_open=200ms", "--reconnect_backoff_max=300ms"});
  ASSERT_TRUE(edge.ok()) << edge.log();
  WaitForCloud(edge);
  const Dataset data = FirstSamples(5000);
  // 1,000 samples/s: the cloud dies after about 1 s and is back after 2 s
  // (plus its start-up), leaving 2 s of replay to reconnect and offload.
  auto replay = std::async(std::launch::async,
                           [&] { return ReplayOrDie(data, edge, 4, 1000); });
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
  std::unique_ptr<TcpProxy> proxy = StartProxy(cloud.port());
  EdgeProcess edge(
      TestSocket("slow"),
      {"--cloud=" + proxy->address(), "--cloud_plaintext", "--deadline=100ms",
       "--breaker_failures=20", "--breaker_open=10s"});
  ASSERT_TRUE(edge.ok()) << edge.log();
  // Connect first (the model check), then slow the link beyond the deadline.
  WaitForCloud(edge);
  proxy->set_delay(absl::Milliseconds(300));
  const std::vector<ReplayRecord> records =
      ReplayOrDie(FirstSamples(300), edge);
  ExpectEveryAnswered(records);
  EXPECT_EQ(CountPath(records, v1::ANSWER_PATH_CLOUD), 0);
  const int late = CountPath(records, v1::ANSWER_PATH_FALLBACK,
                             v1::FALLBACK_REASON_DEADLINE);
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
  const std::string other_dir =
      testing::TempDir() + "/spex_other_model_" + std::to_string(::getpid());
  std::filesystem::create_directories(other_dir);
  ASSERT_TRUE(WriteModelFile(other_dir + "/other.spex", &other).ok());
  CloudProcess cloud(SPEX_CLOUD_BINARY, testing::TempDir(),
                     {"--plaintext", "--model_dir=" + other_dir});
  ASSERT_TRUE(cloud.ok()) << cloud.log();
  EdgeProcess edge(TestSocket("mismatch"),
                   {"--cloud=" + cloud.address(), "--cloud_plaintext"});
  ASSERT_TRUE(edge.ok()) << edge.log();
  WaitForMetric(edge, "spex_edge_model_mismatch", 1);
  const std::vector<ReplayRecord> records =
      ReplayOrDie(FirstSamples(500), edge);
  ExpectEveryAnswered(records);
  EXPECT_EQ(CountPath(records, v1::ANSWER_PATH_CLOUD), 0);
  EXPECT_GT(CountPath(records, v1::ANSWER_PATH_FALLBACK,
                      v1::FALLBACK_REASON_MODEL_MISMATCH),
            50);
  EXPECT_EQ(edge.Metric("spex_edge_model_mismatch"), 1);
  EXPECT_THAT(edge.log(), HasSubstr("serves another model"));
}

TEST_F(EdgeAgentTest, TlsMutualTlsAndTokenEndToEnd) {
  const std::string dir = Certificates().dir;
  std::ofstream(dir + "/tokens") << "fleet-token\n";
  std::ofstream(dir + "/edge-token") << "fleet-token\n";
  std::ofstream(dir + "/wrong-token") << "guess\n";
  CloudProcess cloud(
      SPEX_CLOUD_BINARY, testing::TempDir(),
      {"--tls_cert=" + dir + "/server.pem", "--tls_key=" + dir + "/server.key",
       "--token_file=" + dir + "/tokens", "--model_dir=" + models_});
  ASSERT_TRUE(cloud.ok()) << cloud.log();
  {
    EdgeProcess edge(
        TestSocket("tls"),
        {"--cloud=" + cloud.address(), "--cloud_ca=" + dir + "/ca.pem",
         "--cloud_token_file=" + dir + "/edge-token", "--deadline=5s"});
    ASSERT_TRUE(edge.ok()) << edge.log();
    WaitForCloud(edge);
    const std::vector<ReplayRecord> records =
        ReplayOrDie(FirstSamples(300), edge);
    ExpectEveryAnswered(records);
    EXPECT_GT(CountPath(records, v1::ANSWER_PATH_CLOUD), 30);
  }
  {
    // Mutual TLS: the cloud asks for a client certificate from its CA.
    CloudProcess mtls_cloud(
        SPEX_CLOUD_BINARY, testing::TempDir(),
        {"--tls_cert=" + dir + "/server.pem",
         "--tls_key=" + dir + "/server.key",
         "--tls_client_ca=" + dir + "/ca.pem", "--model_dir=" + models_});
    ASSERT_TRUE(mtls_cloud.ok()) << mtls_cloud.log();
    EdgeProcess edge(
        TestSocket("mtls"),
        {"--cloud=" + mtls_cloud.address(), "--cloud_ca=" + dir + "/ca.pem",
         "--cloud_cert=" + dir + "/client.pem",
         "--cloud_key=" + dir + "/client.key", "--deadline=5s"});
    ASSERT_TRUE(edge.ok()) << edge.log();
    WaitForCloud(edge);
    const std::vector<ReplayRecord> records =
        ReplayOrDie(FirstSamples(300), edge);
    ExpectEveryAnswered(records);
    EXPECT_GT(CountPath(records, v1::ANSWER_PATH_CLOUD), 30);
  }
  EdgeProcess wrong(
      TestSocket("tls_wrong"),
      {"--cloud=" + cloud.address(), "--cloud_ca=" + dir + "/ca.pem",
       "--cloud_token_file=" + dir + "/wrong-token"});
  ASSERT_TRUE(wrong.ok()) << wrong.log();
  // Once the cloud has refused the token, the fallbacks say so.
  WaitForMetric(wrong, "spex_edge_cloud_errors_total{code=\"UNAUTHENTICATED\"}",
                1);
  const std::vector<ReplayRecord> records =
      ReplayOrDie(FirstSamples(200), wrong);
  ExpectEveryAnswered(records);
  EXPECT_EQ(CountPath(records, v1::ANSWER_PATH_CLOUD), 0);
  for (const ReplayRecord& r : records) {
    if (r.path != v1::ANSWER_PATH_FALLBACK) continue;
    EXPECT_EQ(r.reason, v1::FALLBACK_REASON_CLOUD_REJECTED)
        << "sample " << r.id;
  }
  EXPECT_GT(
      wrong.Metric("spex_edge_cloud_errors_total{code=\"UNAUTHENTICATED\"}"),
      0);
}

// Scaling out: the agent spreads its offloads over every replica it is
// given, and when one replica dies mid-replay the others take its share
// with no answer lost (deploy/k8s runs the cloud as such replicas).
TEST_F(EdgeAgentTest, SpreadsOverReplicasAndFailsOverWhenOneDies) {
  constexpr int kReplicas = 3;
  std::vector<std::unique_ptr<CloudProcess>> replicas;
  std::string endpoints;
  for (int r = 0; r < kReplicas; ++r) {
    replicas.push_back(std::make_unique<CloudProcess>(
        SPEX_CLOUD_BINARY, testing::TempDir(),
        std::vector<std::string>{"--plaintext", "--model_dir=" + models_}));
    ASSERT_TRUE(replicas.back()->ok()) << replicas.back()->log();
    endpoints += (r == 0 ? "" : ",") + replicas.back()->address();
  }
  auto served = [](const DaemonProcess& cloud) {
    return ScrapeMetric("127.0.0.1:" + std::to_string(cloud.metrics_port()),
                        "spex_cloud_samples_total{model=\"fashion-default\"}")
        .value_or(0);
  };
  EdgeProcess edge(
      TestSocket("endpoints"),
      {"--cloud=" + endpoints, "--cloud_plaintext", "--deadline=2s"});
  ASSERT_TRUE(edge.ok()) << edge.log();
  WaitForCloud(edge);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // all up
  const std::vector<ReplayRecord> spread =
      ReplayOrDie(FirstSamples(1500), edge);
  ExpectEveryAnswered(spread);
  const int offloaded = CountPath(spread, v1::ANSWER_PATH_CLOUD);
  std::vector<double> before;
  for (const auto& replica : replicas) {
    before.push_back(served(*replica));
    // Round robin: each replica gets about a third; a fifth is the floor.
    EXPECT_GT(before.back(), offloaded / 5.0) << replica->address();
  }
  // One replica dies in the middle of a replay: nothing is lost, and the
  // other two take all the offloads.
  auto replay = std::async(std::launch::async, [&] {
    return ReplayOrDie(FirstSamples(3000), edge, 4, 1500);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  replicas[0]->Signal(SIGKILL);
  replicas[0]->WaitForExit();
  const std::vector<ReplayRecord> records = replay.get();
  ExpectEveryAnswered(records);
  int late_cloud = 0;
  for (size_t i = records.size() / 2; i < records.size(); ++i) {
    late_cloud += records[i].path == v1::ANSWER_PATH_CLOUD;
  }
  EXPECT_GT(late_cloud, 100);
  for (int r = 1; r < kReplicas; ++r) {
    EXPECT_GT(served(*replicas[r]), before[r] + 50) << replicas[r]->address();
  }
}

}  // namespace
}  // namespace spex
