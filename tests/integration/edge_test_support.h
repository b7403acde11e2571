// What the edge agent's integration tests share: spex-edge started the one
// way tests start daemons (DaemonProcess) on a Unix socket, replays through
// spex-replay's library, and counting answers by path.
#ifndef SPEX_TESTS_INTEGRATION_EDGE_TEST_SUPPORT_H_
#define SPEX_TESTS_INTEGRATION_EDGE_TEST_SUPPORT_H_

#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/codec/activation_codec.h"
#include "common/model/model_file.h"
#include "edge_agent/local_classifier.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "spex/v1/edge_inference.grpc.pb.h"
#include "tests/cloud_service/cloud_test_support.h"
#include "tests/integration/daemon_process.h"
#include "tests/support/test_certificates.h"
#include "tests/tools/run_tool.h"
#include "tools/common/metrics_scrape.h"
#include "tools/proxy/tcp_proxy.h"
#include "tools/replay/replay.h"

namespace spex {

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
    flags.insert(flags.begin(),
                 {"--model=" + DefaultModelPath(), "--socket=" + socket,
                  "--tcp_listen=127.0.0.1:0"});
    return flags;
  }
  std::string socket_;
};

// Waits (up to 5 s) until one of the agent's metrics reaches `at_least`.
inline void WaitForMetric(const EdgeProcess& edge, const std::string& name,
                          double at_least) {
  for (int i = 0; i < 250 && edge.Metric(name) < at_least; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// Waits (up to 5 s) until the agent has a cloud endpoint serving its model.
inline void WaitForCloud(const EdgeProcess& edge) {
  WaitForMetric(edge, "spex_edge_cloud_up", 1);
}

inline std::string TestSocket(const std::string& name) {
  return testing::TempDir() + "/spex_" + name + "_" +
         std::to_string(::getpid()) + ".sock";
}

// A proxy in front of a daemon on loopback (delays, cuts, byte counts).
inline std::unique_ptr<TcpProxy> StartProxy(int upstream_port) {
  absl::StatusOr<std::unique_ptr<TcpProxy>> proxy =
      TcpProxy::Start("127.0.0.1:" + std::to_string(upstream_port));
  EXPECT_TRUE(proxy.ok()) << proxy.status();
  return proxy.ok() ? *std::move(proxy) : nullptr;
}

inline Dataset FirstSamples(int count) {
  Dataset data = FashionTestSet();
  data.Truncate(count);
  return data;
}

// Replays `data` through the agent; a replay that fails says why, with the
// agent's log (a crash or a sanitizer report is there, not in the status).
inline std::vector<ReplayRecord> ReplayOrDie(const Dataset& data,
                                             const EdgeProcess& edge,
                                             int streams = 4, double rate = 0) {
  ReplayOptions options;
  options.target = edge.target();
  options.streams = streams;
  options.rate = rate;
  absl::StatusOr<std::vector<ReplayRecord>> records =
      Replay(data, options, nullptr);
  const auto log_tail = [&edge] {
    const std::string log = edge.log();
    return log.substr(log.size() > 8000 ? log.size() - 8000 : 0);
  };
  if (!records.ok()) {
    ADD_FAILURE() << records.status() << "\nthe end of the agent's log:\n"
                  << log_tail();
    return {};
  }
  // Samples with neither an answer nor an error (a stream that broke, or
  // ended short): every accepted sample gets exactly one answer.
  const auto silent = std::count_if(
      records->begin(), records->end(),
      [](const auto& r) { return r.predicted < 0 && r.error.empty(); });
  if (silent > 0) {
    ADD_FAILURE() << silent << " samples got no answer; the end of the "
                  << "agent's log:\n"
                  << log_tail();
  }
  return *std::move(records);
}

inline int CountPath(
    const std::vector<ReplayRecord>& records, v1::AnswerPath path,
    v1::FallbackReason reason = v1::FALLBACK_REASON_UNSPECIFIED) {
  int count = 0;
  for (const ReplayRecord& r : records) {
    count += r.path == path &&
             (reason == v1::FALLBACK_REASON_UNSPECIFIED || r.reason == reason);
  }
  return count;
}

inline void ExpectEveryAnswered(const std::vector<ReplayRecord>& records) {
  for (const ReplayRecord& r : records) {
    ASSERT_GE(r.predicted, 0) << "sample " << r.id << " unanswered " << r.error;
  }
}

class EdgeAgentTest : public testing::Test {
 protected:
  void SetUp() override {
    model_ = LoadTestModel(DefaultModelPath());
    ASSERT_NE(model_, nullptr);
    models_ = ModelDirWithDefaultModel("edge_agent_models");
  }
  std::shared_ptr<const Model> model_;
  std::string models_;
};

}  // namespace spex

#endif  // SPEX_TESTS_INTEGRATION_EDGE_TEST_SUPPORT_H_
