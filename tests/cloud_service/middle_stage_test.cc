// A middle stage in process: CloudCore at stage 2 of the three-stage model
// with the last stage (another CloudCore) behind the NextStage seam, or a
// next stage scripted to fail. Its answers are the chain's, sample by
// sample, and every failure of the next stage is answered here with its
// reason, by the remaining layers or by this stage's last exit.
#include <memory>
#include <vector>

#include "cloud_service/cloud_core.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
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

}  // namespace
}  // namespace spex
