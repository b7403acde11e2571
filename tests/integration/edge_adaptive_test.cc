// The adaptive exit threshold on the running pair: it holds an offload
// budget, and falls when the link to the cloud slows down.
#include "tests/integration/edge_test_support.h"

namespace spex {
namespace {

using ::testing::HasSubstr;

TEST_F(EdgeAgentTest, AdaptiveThresholdHoldsAnOffloadBudget) {
  CloudProcess cloud(SPEX_CLOUD_BINARY, testing::TempDir(),
                     {"--plaintext", "--model_dir=" + models_});
  ASSERT_TRUE(cloud.ok()) << cloud.log();
  // The calibrated threshold offloads about 21 % of Fashion-MNIST; the
  // budget asks for 10 %.
  EdgeProcess edge(TestSocket("budget"),
                   {"--cloud=" + cloud.address(), "--cloud_plaintext",
                    "--offload_budget=0.1", "--controller_gain=0.005"});
  ASSERT_TRUE(edge.ok()) << edge.log();
  WaitForCloud(edge);
  const std::vector<ReplayRecord> records =
      ReplayOrDie(FirstSamples(6000), edge);
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
  // The sparse MLP, whose head costs microseconds in every build: with the
  // CNN's head under ASan the agent itself queues at this rate, local
  // answers are late too, and no threshold could meet the objective. The
  // controller sees only confidences and latencies, whatever the model.
  const std::string mlp_models =
      ModelDirWith("edge_adaptive_mlp", MlpModelPath());
  CloudProcess cloud(SPEX_CLOUD_BINARY, testing::TempDir(),
                     {"--plaintext", "--model_dir=" + mlp_models});
  ASSERT_TRUE(cloud.ok()) << cloud.log();
  std::unique_ptr<TcpProxy> proxy = StartProxy(cloud.port());
  EdgeProcess edge(
      TestSocket("latency"),
      {"--model=" + MlpModelPath(), "--cloud=" + proxy->address(),
       "--cloud_plaintext", "--latency_objective=40ms",
       "--latency_quantile=0.95", "--controller_gain=0.005", "--deadline=1s"});
  ASSERT_TRUE(edge.ok()) << edge.log();
  WaitForCloud(edge);
  constexpr double kRate = 3000;
  // A fast link: no answer is late, the threshold stays up.
  ReplayOrDie(FirstSamples(1500), edge, 4, kRate);
  const double fast = edge.Metric("spex_edge_threshold");
  // A slow link: every cloud answer misses the objective, so more samples
  // must leave at the exit.
  proxy->set_delay(absl::Milliseconds(80));
  const std::vector<ReplayRecord> slow_records =
      ReplayOrDie(FirstSamples(3000), edge, 4, kRate);
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
