// spex-edge with spex-cloud, real processes on loopback, as an application
// on the device sees them (spex-replay's library over the Unix socket):
// answers equal the in-process model's; the local API's refusals, queue,
// audit, metrics, reload and shutdown.
#include "tests/integration/edge_test_support.h"

namespace spex {
namespace {

using ::testing::HasSubstr;

TEST_F(EdgeAgentTest, AnswersEqualTheInProcessModel) {
  CloudProcess cloud(SPEX_CLOUD_BINARY, testing::TempDir(),
                     {"--plaintext", "--model_dir=" + models_});
  ASSERT_TRUE(cloud.ok()) << cloud.log();
  EdgeProcess edge(
      TestSocket("answers"),
      {"--cloud=" + cloud.address(), "--cloud_plaintext", "--deadline=5s"});
  ASSERT_TRUE(edge.ok()) << edge.log();
  WaitForCloud(edge);
  const Dataset data = FirstSamples(2000);
  const std::vector<ReplayRecord> records = ReplayOrDie(data, edge);
  ExpectEveryAnswered(records);

  LocalClassifier classifier(model_);
  const std::vector<ExitRule> rules =
      ExitRulesFor(model_->head(), std::nullopt);
  int local = 0, cloud_answers = 0;
  for (const ReplayRecord& r : records) {
    const LocalResult local_result = classifier.Run(
        RawInput::Values(absl::MakeConstSpan(data.sample(r.id), data.width)),
        rules);
    const LocalResult* exit = &local_result;
    if (exit->decision.confident) {
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
    const int label =
        static_cast<int>(std::max_element(p.begin(), p.end()) - p.begin());
    if (r.predicted != label) {  // only a tie may differ (batch vs single)
      EXPECT_NEAR(p[r.predicted], p[label], 1e-5) << "sample " << r.id;
    }
  }
  EXPECT_GT(local, 1000);
  EXPECT_GT(cloud_answers, 200);
  const ReplaySummary summary = Summarize(records, 1);
  EXPECT_GT(summary.accuracy, 0.85);
}

// The baselines a comparison needs: the whole network on the device
// (--placement=edge), the raw input to the cloud (--placement=cloud), and
// every sample offloaded at the cut (--early_exit=false). Each answers with
// the whole network's label.
TEST_F(EdgeAgentTest, PlacementsAnswerWithTheWholeNetwork) {
  CloudProcess cloud(SPEX_CLOUD_BINARY, testing::TempDir(),
                     {"--plaintext", "--model_dir=" + models_});
  ASSERT_TRUE(cloud.ok()) << cloud.log();
  const Dataset data = FirstSamples(400);
  Workspace workspace(model_->full());
  std::vector<float> x(model_->input().width), y(model_->full().output_width());
  std::vector<int> whole_network(data.size());
  for (int i = 0; i < data.size(); ++i) {
    const std::vector<float> raw(data.sample(i), data.sample(i) + data.width);
    ASSERT_TRUE(model_->input().Apply(raw, x.data()).ok());
    model_->full().Forward(x.data(), y.data(), nullptr, &workspace);
    whole_network[i] =
        static_cast<int>(std::max_element(y.begin(), y.end()) - y.begin());
  }
  struct Case {
    std::string name;
    std::vector<std::string> flags;
    v1::AnswerPath path;
  };
  const std::vector<Case> cases = {
      {"edge",
       {"--placement=edge", "--early_exit=false"},
       v1::ANSWER_PATH_LOCAL},
      {"cloud",
       {"--placement=cloud", "--cloud=" + cloud.address(), "--cloud_plaintext",
        "--deadline=5s"},
       v1::ANSWER_PATH_CLOUD},
      {"split",
       {"--early_exit=false", "--encoding=float32",
        "--cloud=" + cloud.address(), "--cloud_plaintext", "--deadline=5s"},
       v1::ANSWER_PATH_CLOUD},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EdgeProcess edge(TestSocket("placement_" + c.name), c.flags);
    ASSERT_TRUE(edge.ok()) << edge.log();
    if (c.path == v1::ANSWER_PATH_CLOUD) WaitForCloud(edge);
    const std::vector<ReplayRecord> records = ReplayOrDie(data, edge);
    ExpectEveryAnswered(records);
    EXPECT_EQ(CountPath(records, c.path), data.size());
    int same = 0;
    for (const ReplayRecord& r : records)
      same += r.predicted == whole_network[r.id];
    // Batched passes in the cloud may round a near tie the other way.
    EXPECT_GE(same, data.size() - 2);
  }
  // The edge placement with its exit: confident samples answer from it, the
  // rest from the tail computed on the device; nothing leaves it.
  EdgeProcess edge(TestSocket("placement_edge_exit"), {"--placement=edge"});
  ASSERT_TRUE(edge.ok()) << edge.log();
  const std::vector<ReplayRecord> records = ReplayOrDie(data, edge);
  ExpectEveryAnswered(records);
  EXPECT_EQ(CountPath(records, v1::ANSWER_PATH_LOCAL), data.size());
  EXPECT_EQ(edge.Metric("spex_edge_offload_bytes_total"), 0);
}

TEST_F(EdgeAgentTest, FullQueueIsResourceExhaustedOrAnsweredLocally) {
  // Every sample waits for a slow cloud, so the slots fill up.
  CloudProcess cloud(SPEX_CLOUD_BINARY, testing::TempDir(),
                     {"--plaintext", "--model_dir=" + models_});
  ASSERT_TRUE(cloud.ok()) << cloud.log();
  std::unique_ptr<TcpProxy> proxy = StartProxy(cloud.port());
  const Dataset& data = FashionTestSet();
  for (bool local_when_full : {false, true}) {
    SCOPED_TRACE(local_when_full ? "local when full" : "refuse when full");
    std::vector<std::string> flags = {"--cloud=" + proxy->address(),
                                      "--cloud_plaintext", "--threshold=1",
                                      "--max_queued=4", "--deadline=2s"};
    if (local_when_full) flags.push_back("--local_when_full");
    EdgeProcess edge(TestSocket(local_when_full ? "full_local" : "full"),
                     flags);
    ASSERT_TRUE(edge.ok()) << edge.log();
    WaitForCloud(edge);
    proxy->set_delay(absl::Milliseconds(200));
    auto stub = v1::EdgeInference::NewStub(
        grpc::CreateChannel(edge.target(), grpc::InsecureChannelCredentials()));
    std::vector<std::future<std::pair<grpc::Status, v1::ClassifyResponse>>>
        calls;
    for (int i = 0; i < 16; ++i) {
      calls.push_back(std::async(std::launch::async, [&, i] {
        grpc::ClientContext context;
        v1::ClassifyRequest request;
        request.set_pixels(data.PixelBytes(i));
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
      queue_full +=
          response.fallback_reason() == v1::FALLBACK_REASON_QUEUE_FULL;
    }
    EXPECT_LE(cloud_answers, 16);
    EXPECT_GT(cloud_answers, 0);
    if (local_when_full) {
      EXPECT_EQ(exhausted, 0);
      EXPECT_GT(queue_full, 0);
    } else {
      EXPECT_GT(exhausted, 0);
    }
    // Every refusal is counted, by its reason.
    EXPECT_EQ(edge.Metric("spex_edge_refused_total{reason=\"queue_full\"}"),
              exhausted);
    proxy->set_delay(absl::Milliseconds(0));
  }
}

TEST_F(EdgeAgentTest, BadInputIsNamed) {
  EdgeProcess edge(TestSocket("bad_input"), {});
  ASSERT_TRUE(edge.ok()) << edge.log();
  auto stub = v1::EdgeInference::NewStub(
      grpc::CreateChannel(edge.target(), grpc::InsecureChannelCredentials()));
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
  v1::ClassifyRequest out_of_range;
  for (int i = 0; i < 784; ++i) {
    out_of_range.mutable_values()->add_values(i == 9 ? -1.0f : 0.5f);
  }
  status = classify(out_of_range);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(),
              HasSubstr("input value 9 is -1, outside the model's input "
                        "range [0, 255]"));
  status = classify(v1::ClassifyRequest());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("input: missing"));
  EXPECT_EQ(edge.Metric("spex_edge_refused_total{reason=\"bad_input\"}"), 3);
  EXPECT_EQ(edge.Metric("spex_edge_refused_total{reason=\"queue_full\"}"), 0);
}

TEST_F(EdgeAgentTest, WithoutACloudEverySampleIsAnsweredLocallyOrByFallback) {
  EdgeProcess edge(TestSocket("alone"), {});
  ASSERT_TRUE(edge.ok()) << edge.log();
  const std::vector<ReplayRecord> records =
      ReplayOrDie(FirstSamples(500), edge);
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
  const std::vector<ReplayRecord> records = ReplayOrDie(data, edge);
  ExpectEveryAnswered(records);
  // Every local answer is audited: the cloud's full-network label on the
  // same int8 split against the exit's.
  LocalClassifier classifier(model_);
  const std::vector<ExitRule> rules =
      ExitRulesFor(model_->head(), std::nullopt);
  int agree = 0, disagree = 0;
  for (const ReplayRecord& r : records) {
    if (r.path != v1::ANSWER_PATH_LOCAL) continue;
    const LocalResult local = classifier.Run(
        RawInput::Values(absl::MakeConstSpan(data.sample(r.id), data.width)),
        rules);
    const LocalResult* exit = &local;
    const v1::InferRequest request = MakeRequest(
        *model_, model_->split_after(), v1::ENCODING_INT8,
        std::vector<float>(exit->split.begin(), exit->split.end()), 0);
    const std::vector<float> p = ReferenceProbabilities(*model_, request);
    const int full =
        static_cast<int>(std::max_element(p.begin(), p.end()) - p.begin());
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
  auto stub = v1::EdgeInference::NewStub(
      grpc::CreateChannel(edge.target(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  auto stream = stub->ClassifyStream(&context);
  const Dataset& data = FashionTestSet();
  constexpr int kSamples = 300;
  for (int i = 0; i < kSamples; ++i) {
    v1::ClassifyRequest request;
    request.set_request_id(i);
    request.set_pixels(data.PixelBytes(i));
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

TEST_F(EdgeAgentTest, SighupReloadsTheModelWithoutFailingASample) {
  CloudProcess cloud(SPEX_CLOUD_BINARY, testing::TempDir(),
                     {"--plaintext", "--model_dir=" + models_});
  ASSERT_TRUE(cloud.ok()) << cloud.log();
  EdgeProcess edge(TestSocket("reload"),
                   {"--cloud=" + cloud.address(), "--cloud_plaintext"});
  ASSERT_TRUE(edge.ok()) << edge.log();
  WaitForCloud(edge);
  const Dataset data = FirstSamples(2000);
  auto replay = std::async(std::launch::async,
                           [&] { return ReplayOrDie(data, edge, 4, 2000); });
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

TEST_F(EdgeAgentTest, MetricsPassPromtoolAndTheSocketIsGroupOnly) {
  EdgeProcess edge(TestSocket("metrics"), {});
  ASSERT_TRUE(edge.ok()) << edge.log();
  ReplayOrDie(FirstSamples(50), edge);
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
