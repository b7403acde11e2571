// A middle stage in process: CloudCore at stage 2 of the three-stage model
// with the last stage (another CloudCore) behind the NextStage seam, or a
// next stage scripted to fail. Its answers are the chain's, sample by
// sample, and every failure of the next stage is answered here with its
// reason, by the remaining layers or by this stage's last exit.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cloud_service/cloud_core.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/metric_family.h"
#include "tests/cloud_service/cloud_test_support.h"
#include "tests/support/chain_reference.h"
#include "tests/support/in_process_stage.h"

namespace spex {
namespace {

using Behavior = ScriptedStage::Behavior;

// The same next stage for every model.
class OneNextStage : public NextStages {
 public:
  explicit OneNextStage(NextStage* stage) : stage_(stage) {}
  NextStage& For(const std::string&) override { return *stage_; }

 private:
  NextStage* const stage_;
};

class MiddleStageTest : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(last_.ok());
    model_ = last_.model();
    ASSERT_EQ(model_->num_stages(), 3);
  }

  // Stage 2 of the model, with `next` after it.
  static std::unique_ptr<TestCloud> Fog(NextStages* next,
                                        bool fallback_to_exit) {
    CloudCoreOptions options;
    options.stage.placement.stage = 2;
    options.stage.fallback_to_exit = fallback_to_exit;
    auto fog =
        std::make_unique<TestCloud>("fog", ChainModelPath(), options, next);
    EXPECT_TRUE(fog->ok());
    return fog;
  }

  // What the edge sends for test samples [0, count): the activation at its
  // cut, int8.
  v1::InferRequest FromTheEdge(int count) {
    return MakeRequest(*model_, model_->split_after(), v1::ENCODING_INT8,
                       SplitActivations(*model_, RawSamples(0, count)), 9);
  }

  TestCloud last_{"last_stage", ChainModelPath()};
  std::shared_ptr<const Model> model_;
};

TEST_F(MiddleStageTest, AnswersAsTheChainDoes) {
  InProcessStages next(&last_.core());
  const std::unique_ptr<TestCloud> fog = Fog(&next, false);
  const int count = 400;
  const CoreAnswer answer = Ask(fog->core(), FromTheEdge(count));
  ASSERT_TRUE(answer.status.ok()) << answer.status;
  ASSERT_EQ(answer.response.results_size(), count);
  const Dataset& data = FashionTestSet();
  int at_fog = 0, at_cloud = 0;
  for (int i = 0; i < count; ++i) {
    const ChainAnswer expected = AnswerInProcess(*model_, data.sample(i));
    if (expected.stage == 1 || expected.margin < 1e-5) continue;
    const v1::SampleResult& result = answer.response.results(i);
    EXPECT_EQ(result.stage(), static_cast<uint32_t>(expected.stage)) << i;
    EXPECT_EQ(result.exit(), static_cast<uint32_t>(expected.exit)) << i;
    EXPECT_EQ(result.label(), static_cast<uint32_t>(expected.label)) << i;
    EXPECT_EQ(result.fallback_reason(), v1::FALLBACK_REASON_UNSPECIFIED);
    (expected.stage == 2 ? at_fog : at_cloud)++;
  }
  EXPECT_GT(at_fog, 20);
  EXPECT_GT(at_cloud, 5);
  EXPECT_EQ(next.For(model_->id()).deadline(), absl::Seconds(5));
}

// Each failure of the next stage is answered here, with its reason: by the
// remaining layers (the network's own label) or, with fallback_to_exit, by
// this stage's last exit.
TEST_F(MiddleStageTest, AnswersWhatTheNextStageFails) {
  InProcessStages answering(&last_.core());
  struct Case {
    ScriptedStage::Script script;
    bool fallback_to_exit;
    v1::FallbackReason expected;
  };
  const std::vector<Case> cases = {
      {{Behavior::kRefuse, v1::FALLBACK_REASON_BREAKER_OPEN},
       false,
       v1::FALLBACK_REASON_BREAKER_OPEN},
      {{Behavior::kFail, v1::FALLBACK_REASON_CLOUD_UNREACHABLE,
        absl::Milliseconds(2)},
       true,
       v1::FALLBACK_REASON_CLOUD_UNREACHABLE},
      {{Behavior::kSilent}, true, v1::FALLBACK_REASON_DEADLINE},
  };
  const int count = 120;
  const v1::InferRequest request = FromTheEdge(count);
  // What the fog computes: its layers, then its exits or the rest.
  InProcessStages healthy(&last_.core());
  const CoreAnswer reference = Ask(Fog(&healthy, false)->core(), request);
  ASSERT_TRUE(reference.status.ok());
  for (const Case& c : cases) {
    ScriptedStage failing(&answering.For(model_->id()), c.script,
                          absl::Milliseconds(40));
    OneNextStage next(&failing);
    const CoreAnswer answer =
        Ask(Fog(&next, c.fallback_to_exit)->core(), request);
    ASSERT_TRUE(answer.status.ok()) << answer.status;
    int fallbacks = 0;
    for (int i = 0; i < count; ++i) {
      const v1::SampleResult& result = answer.response.results(i);
      const v1::SampleResult& healthy_result = reference.response.results(i);
      EXPECT_EQ(result.stage(), 2u) << i;
      if (healthy_result.stage() == 2) {  // an exit here answered anyway
        EXPECT_EQ(result.label(), healthy_result.label()) << i;
        EXPECT_EQ(result.fallback_reason(), v1::FALLBACK_REASON_UNSPECIFIED);
        continue;
      }
      ++fallbacks;
      EXPECT_EQ(result.fallback_reason(), c.expected) << i;
      if (c.fallback_to_exit) {
        EXPECT_EQ(result.exit(), 2u) << i;  // the fog's exit
      } else {
        EXPECT_EQ(result.exit(), 0u) << i;
        if (result.label() != healthy_result.label()) {  // a tie, at most
          EXPECT_NEAR(result.confidence(), healthy_result.confidence(), 1e-2);
        }
      }
    }
    EXPECT_GT(fallbacks, 5);
  }
}

// Summed over a metric's children: what a scrape would show.
double MetricTotal(const CloudMetrics& metrics, const std::string& name) {
  double total = 0;
  for (const prometheus::MetricFamily& family : metrics.registry()->Collect()) {
    if (family.name != name) continue;
    for (const prometheus::ClientMetric& metric : family.metric) {
      total += metric.counter.value + metric.gauge.value;
    }
  }
  return total;
}

// With an accuracy objective the fog's exit answers only as far as the
// bound from the samples it sent on and its audits allows. The test set
// four times over (the bound needs audits, and audits come only from the
// exit's answers, at most a tenth of the bytes sent on): over the last two
// passes its exit's answers lose at most the objective (with half a point
// for chance) against the full network, it answers a good share itself
// (81 % at its calibrated threshold, losing 0.1 %), and its audits are
// counted.
TEST_F(MiddleStageTest, KeepsAnAccuracyObjectiveFromAudits) {
  InProcessStages next(&last_.core());
  CloudCoreOptions options;
  options.stage.placement.stage = 2;
  AccuracyObjectiveOptions objective;
  objective.objective = 0.01;
  options.stage.accuracy = objective;
  TestCloud fog("fog", ChainModelPath(), options, &next);
  ASSERT_TRUE(fog.ok());
  const int classes = model_->num_classes();
  const int total = FashionTestSet().size(), per_request = 250, passes = 4;
  // The requests and the full network's labels, computed once.
  std::vector<v1::InferRequest> requests;
  std::vector<std::vector<float>> full;
  for (int first = 0; first + per_request <= total; first += per_request) {
    requests.push_back(
        MakeRequest(*model_, model_->split_after(), v1::ENCODING_INT8,
                    SplitActivations(*model_, RawSamples(first, per_request)),
                    static_cast<uint64_t>(first)));
    full.push_back(ReferenceProbabilities(*model_, requests.back()));
  }
  int counted = 0, answered_here = 0, lost = 0;
  for (int pass = 0; pass < passes; ++pass) {
    for (size_t r = 0; r < requests.size(); ++r) {
      const CoreAnswer answer = Ask(fog.core(), requests[r]);
      ASSERT_TRUE(answer.status.ok()) << answer.status;
      ASSERT_EQ(answer.response.results_size(), per_request);
      if (pass < passes / 2) continue;
      for (int i = 0; i < per_request; ++i) {
        const v1::SampleResult& result = answer.response.results(i);
        ++counted;
        if (result.stage() != 2 || result.exit() == 0) continue;
        ++answered_here;
        const float* p = full[r].data() + static_cast<size_t>(i) * classes;
        lost += result.label() !=
                static_cast<uint32_t>(std::max_element(p, p + classes) - p);
      }
    }
  }
  const double loss = static_cast<double>(lost) / counted;
  const double here = static_cast<double>(answered_here) / counted;
  std::printf(
      "fog: answered %.1f %% with its exit, loss %.2f %% against the "
      "full network\n",
      100 * here, 100 * loss);
  EXPECT_LE(loss, 0.015);
  EXPECT_GT(here, 0.5);
  const double audits = MetricTotal(fog.metrics(), "spex_cloud_audit_total");
  EXPECT_GT(audits, 100);
  EXPECT_GT(MetricTotal(fog.metrics(), "spex_cloud_audit_bytes_total"),
            audits * 10);
  EXPECT_EQ(MetricTotal(fog.metrics(), "spex_cloud_accuracy_objective"), 0.01);
}

}  // namespace
}  // namespace spex
