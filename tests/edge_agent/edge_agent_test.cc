// The edge agent's logic in process, without sockets: EdgeAgent with a real
// CloudCore behind the NextStage seam (InProcessStage), or a stage scripted
// to fail (ScriptedStage). Each answer is checked against the model run
// here: the exit rule, the next stage's answer, and every fallback's reason.
#include "edge_agent/edge_agent.h"

#include <future>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cloud_service/cloud_test_support.h"
#include "tests/support/in_process_stage.h"

namespace spex {
namespace {

using Behavior = ScriptedStage::Behavior;
using ::testing::HasSubstr;

class EdgeAgentCoreTest : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(served_.ok());
    core_ = &served_.core();
    model_ = served_.model();
    cloud_ = std::make_unique<InProcessStage>(core_, model_->id());
  }

  static v1::ClassifyRequest Request(int sample, uint32_t top_k = 0) {
    const Dataset& data = FashionTestSet();
    v1::ClassifyRequest request;
    request.set_request_id(static_cast<uint64_t>(sample) + 1);
    request.set_top_k(top_k);
    request.set_pixels(data.PixelBytes(sample));
    return request;
  }

  // The agent's answer to one sample, waited for.
  static v1::ClassifyResponse Ask(EdgeAgent& agent,
                                  const v1::ClassifyRequest& request) {
    std::promise<v1::ClassifyResponse> answer;
    const absl::Status accepted =
        agent.Classify(request, [&answer](v1::ClassifyResponse response) {
          answer.set_value(std::move(response));
        });
    EXPECT_TRUE(accepted.ok()) << accepted;
    if (!accepted.ok()) return {};
    return answer.get_future().get();
  }

  // What the head's exit decides for a sample under the model's rules.
  LocalResult Exit(int sample) {
    const Dataset& data = FashionTestSet();
    const std::vector<ExitRule> rules =
        ExitRulesFor(model_->head(), std::nullopt);
    return classifier_->Run(
        RawInput::Values(absl::MakeConstSpan(data.sample(sample), data.width)),
        rules);
  }
  void MakeClassifier() {
    classifier_ = std::make_unique<LocalClassifier>(model_, true);
  }

  // The full network's label for a sample, on the int8 split as the agent
  // sends it (the cloud's path).
  int CloudLabel(const LocalResult& exit) {
    const v1::InferRequest request = MakeRequest(
        *model_, model_->split_after(), v1::ENCODING_INT8,
        std::vector<float>(exit.split.begin(), exit.split.end()), 0);
    const std::vector<float> p = ReferenceProbabilities(*model_, request);
    return static_cast<int>(std::max_element(p.begin(), p.end()) - p.begin());
  }

  TestCloud served_{"edge_agent_core", DefaultModelPath()};
  CloudCore* core_ = nullptr;
  std::shared_ptr<const Model> model_;
  std::unique_ptr<InProcessStage> cloud_;
  std::unique_ptr<LocalClassifier> classifier_;
};

TEST_F(EdgeAgentCoreTest, AnswersLocallyOrFromTheNextStageAsTheModelDoes) {
  EdgeAgent agent(model_, EdgeAgentOptions(), cloud_.get(), nullptr);
  MakeClassifier();
  int local = 0, offloaded = 0;
  for (int i = 0; i < 400; ++i) {
    const v1::ClassifyResponse answer = Ask(agent, Request(i, 3));
    const LocalResult exit = Exit(i);
    EXPECT_EQ(answer.request_id(), static_cast<uint64_t>(i) + 1);
    EXPECT_EQ(answer.result().top_k_size(), 3);
    if (exit.decision.confident) {
      ++local;
      EXPECT_EQ(answer.path(), v1::ANSWER_PATH_LOCAL) << "sample " << i;
      EXPECT_EQ(answer.result().label(), static_cast<uint32_t>(exit.label));
      EXPECT_EQ(answer.result().stage(), 1u);
      EXPECT_EQ(answer.result().exit(), 1u);
      continue;
    }
    ++offloaded;
    ASSERT_EQ(answer.path(), v1::ANSWER_PATH_CLOUD) << "sample " << i;
    EXPECT_EQ(answer.result().stage(), 2u);
    EXPECT_EQ(answer.result().exit(), 0u);
    EXPECT_EQ(answer.result().label(), static_cast<uint32_t>(CloudLabel(exit)))
        << "sample " << i;
  }
  EXPECT_GT(local, 200);
  EXPECT_GT(offloaded, 40);
  EXPECT_EQ(cloud_->offloads(), offloaded);
  EXPECT_EQ(agent.queued(), 0);
}

// Each way the next stage can fail gives a fallback from the exit, with the
// failure's reason: refused at once, failed later, or silent until the
// deadline; and no next stage at all.
TEST_F(EdgeAgentCoreTest, FallbacksCarryTheNextStagesFailure) {
  MakeClassifier();
  struct Case {
    ScriptedStage::Script script;
    v1::FallbackReason expected;
  };
  const std::vector<Case> cases = {
      {{Behavior::kRefuse, v1::FALLBACK_REASON_BREAKER_OPEN},
       v1::FALLBACK_REASON_BREAKER_OPEN},
      {{Behavior::kRefuse, v1::FALLBACK_REASON_MODEL_MISMATCH},
       v1::FALLBACK_REASON_MODEL_MISMATCH},
      {{Behavior::kFail, v1::FALLBACK_REASON_CLOUD_REJECTED,
        absl::Milliseconds(5)},
       v1::FALLBACK_REASON_CLOUD_REJECTED},
      {{Behavior::kSilent}, v1::FALLBACK_REASON_DEADLINE},
      {{Behavior::kAnswer, v1::FALLBACK_REASON_UNSPECIFIED, absl::Seconds(2)},
       v1::FALLBACK_REASON_DEADLINE},
  };
  for (const Case& c : cases) {
    ScriptedStage next(cloud_.get(), c.script, absl::Milliseconds(50));
    EdgeAgent agent(model_, EdgeAgentOptions(), &next, nullptr);
    int fallbacks = 0;
    for (int i = 0; i < 60; ++i) {
      const LocalResult exit = Exit(i);
      if (exit.decision.confident) continue;
      const v1::ClassifyResponse answer = Ask(agent, Request(i));
      ++fallbacks;
      ASSERT_EQ(answer.path(), v1::ANSWER_PATH_FALLBACK) << "sample " << i;
      EXPECT_EQ(answer.fallback_reason(), c.expected);
      EXPECT_EQ(answer.result().fallback_reason(), c.expected);
      EXPECT_EQ(answer.result().label(), static_cast<uint32_t>(exit.label));
      EXPECT_EQ(answer.result().exit(), 1u);
    }
    EXPECT_GT(fallbacks, 5);
  }
  EdgeAgent alone(model_, EdgeAgentOptions(), nullptr, nullptr);
  for (int i = 0; i < 60; ++i) {
    if (Exit(i).decision.confident) continue;
    EXPECT_EQ(Ask(alone, Request(i)).fallback_reason(),
              v1::FALLBACK_REASON_CLOUD_UNREACHABLE);
  }
}

// With a stage to skip to, a sample the next stage refuses, or fails before
// its deadline, is answered by the stage after; one it holds past its
// deadline is not sent twice.
TEST_F(EdgeAgentCoreTest, TheSkipStageTakesWhatTheNextOneFails) {
  MakeClassifier();
  InProcessStage after(core_, model_->id());
  for (Behavior behavior : {Behavior::kRefuse, Behavior::kFail}) {
    ScriptedStage next(cloud_.get(),
                       {behavior, v1::FALLBACK_REASON_CLOUD_UNREACHABLE},
                       absl::Milliseconds(100));
    EdgeAgent agent(model_, EdgeAgentOptions(), &next, nullptr, &after);
    for (int i = 0; i < 80; ++i) {
      const LocalResult exit = Exit(i);
      if (exit.decision.confident) continue;
      const v1::ClassifyResponse answer = Ask(agent, Request(i));
      ASSERT_EQ(answer.path(), v1::ANSWER_PATH_CLOUD) << "sample " << i;
      EXPECT_EQ(answer.result().label(),
                static_cast<uint32_t>(CloudLabel(exit)));
    }
  }
  EXPECT_GT(after.offloads(), 20);
  ScriptedStage silent(cloud_.get(), {Behavior::kSilent},
                       absl::Milliseconds(30));
  ScriptedStage silent_after(cloud_.get(), {Behavior::kSilent},
                             absl::Milliseconds(30));
  EdgeAgent agent(model_, EdgeAgentOptions(), &silent, nullptr, &silent_after);
  for (int i = 0; i < 40; ++i) {
    if (Exit(i).decision.confident) continue;
    EXPECT_EQ(Ask(agent, Request(i)).fallback_reason(),
              v1::FALLBACK_REASON_DEADLINE);
  }
  EXPECT_GT(silent.offloads() + silent_after.offloads(), 0);
}

// Every local answer is audited at fraction 1: each sends the split on once
// more, and nothing else changes.
TEST_F(EdgeAgentCoreTest, AuditsSendLocalAnswersOnAsWell) {
  EdgeAgentOptions options;
  options.audit_fraction = 1.0;
  EdgeAgent agent(model_, options, cloud_.get(), nullptr);
  int local = 0, offloaded = 0;
  for (int i = 0; i < 200; ++i) {
    const v1::ClassifyResponse answer = Ask(agent, Request(i));
    (answer.path() == v1::ANSWER_PATH_LOCAL ? local : offloaded)++;
  }
  // Audits are answered in the background (inline here, by the core's
  // workers): wait for the count.
  for (int i = 0; i < 500 && cloud_->offloads() < local + offloaded; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_GT(local, 100);
  EXPECT_EQ(cloud_->offloads(), local + offloaded);
}

// An offload budget moves the threshold until about that fraction leaves.
TEST_F(EdgeAgentCoreTest, AControllerHoldsTheOffloadBudget) {
  EdgeAgentOptions options;
  ThresholdControllerOptions budget;
  budget.offload_budget = 0.05;
  budget.gain = 0.01;
  options.controller = budget;
  EdgeAgent agent(model_, options, cloud_.get(), nullptr);
  const double start = agent.threshold();
  int offloaded = 0;
  for (int i = 0; i < 3000; ++i) {
    const v1::ClassifyResponse answer = Ask(agent, Request(i));
    if (i >= 2000) offloaded += answer.path() != v1::ANSWER_PATH_LOCAL;
  }
  EXPECT_LT(agent.threshold(), start);
  EXPECT_NEAR(offloaded / 1000.0, 0.05, 0.04);
}

// Slots bound what waits: past max_queued, a refusal, or (local_when_full)
// the exit's answer at once; draining answers what is in flight and
// refuses the rest.
TEST_F(EdgeAgentCoreTest, QueueFullAndDrain) {
  ScriptedStage silent(cloud_.get(), {Behavior::kSilent},
                       absl::Milliseconds(400));
  EdgeAgentOptions options;
  options.max_queued = 2;
  options.threshold = 1.01f;  // no exit is ever sure: every sample waits
  auto agent = std::make_unique<EdgeAgent>(model_, options, &silent, nullptr);
  std::vector<std::promise<v1::ClassifyResponse>> answers(2);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(agent
                    ->Classify(Request(i),
                               [&answers, i](v1::ClassifyResponse r) {
                                 answers[i].set_value(std::move(r));
                               })
                    .ok());
  }
  EXPECT_EQ(agent->queued(), 2);
  const absl::Status full =
      agent->Classify(Request(2), [](v1::ClassifyResponse) { FAIL(); });
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(full.message(), HasSubstr("--max_queued"));
  agent->Drain();  // returns once both have their deadline's answer
  for (auto& answer : answers) {
    EXPECT_EQ(answer.get_future().get().fallback_reason(),
              v1::FALLBACK_REASON_DEADLINE);
  }
  EXPECT_EQ(
      agent->Classify(Request(3), [](v1::ClassifyResponse) { FAIL(); }).code(),
      absl::StatusCode::kUnavailable);

  options.local_when_full = true;
  agent = std::make_unique<EdgeAgent>(model_, options, &silent, nullptr);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(agent->Classify(Request(i), [](v1::ClassifyResponse) {}).ok());
  }
  const v1::ClassifyResponse overflow = Ask(*agent, Request(2));
  EXPECT_EQ(overflow.path(), v1::ANSWER_PATH_FALLBACK);
  EXPECT_EQ(overflow.fallback_reason(), v1::FALLBACK_REASON_QUEUE_FULL);
  EXPECT_EQ(overflow.result().exit(), 1u);

  // Without early exits every answer is the whole network's: the exit's
  // answer when full is a fallback even where it is sure.
  options.early_exit = false;
  options.threshold = 0.0f;
  agent = std::make_unique<EdgeAgent>(model_, options, &silent, nullptr);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(agent->Classify(Request(i), [](v1::ClassifyResponse) {}).ok());
  }
  const v1::ClassifyResponse sure = Ask(*agent, Request(2));
  EXPECT_EQ(sure.path(), v1::ANSWER_PATH_FALLBACK);
  EXPECT_EQ(sure.fallback_reason(), v1::FALLBACK_REASON_QUEUE_FULL);
}

// The placements a comparison needs: the whole network on the device, and
// the raw input to the cloud, 8-bit pixels as bytes and floats as floats.
TEST_F(EdgeAgentCoreTest, PlacementsRunTheWholeNetworkOnOneSide) {
  MakeClassifier();
  EdgeAgentOptions on_device;
  on_device.placement = Placement::kEdge;
  on_device.early_exit = false;
  EdgeAgent edge(model_, on_device, cloud_.get(), nullptr);
  EdgeAgentOptions in_cloud;
  in_cloud.placement = Placement::kCloud;
  EdgeAgent cloud(model_, in_cloud, cloud_.get(), nullptr);
  const Dataset& data = FashionTestSet();
  for (int i = 0; i < 50; ++i) {
    (void)Exit(i);
    const absl::Span<const float> full = classifier_->RunTail();
    const uint32_t label = static_cast<uint32_t>(
        std::max_element(full.begin(), full.end()) - full.begin());
    const v1::ClassifyResponse local = Ask(edge, Request(i));
    EXPECT_EQ(local.path(), v1::ANSWER_PATH_LOCAL);
    EXPECT_EQ(local.result().label(), label);
    EXPECT_EQ(local.result().exit(), 0u);

    const v1::ClassifyResponse by_pixels = Ask(cloud, Request(i));
    EXPECT_EQ(by_pixels.path(), v1::ANSWER_PATH_CLOUD);
    v1::ClassifyRequest as_floats = Request(i);
    for (int p = 0; p < data.width; ++p) {
      as_floats.mutable_values()->add_values(data.sample(i)[p]);
    }
    const v1::ClassifyResponse by_values = Ask(cloud, as_floats);
    EXPECT_EQ(by_values.result().label(), by_pixels.result().label());
    if (by_pixels.result().label() != label) {  // a tie: batch against one
      EXPECT_NEAR(by_pixels.result().confidence(), full[label], 1e-5);
    }
  }
  EXPECT_EQ(cloud_->byte_inputs(), 50);
  EXPECT_EQ(cloud_->offloads(), 100);
}

TEST_F(EdgeAgentCoreTest, RefusesWhatTheModelCannotTake) {
  EdgeAgent agent(model_, EdgeAgentOptions(), cloud_.get(), nullptr);
  const auto never = [](v1::ClassifyResponse) { FAIL(); };
  v1::ClassifyRequest request = Request(0);
  request.set_top_k(11);
  EXPECT_THAT(agent.Classify(request, never).message(), HasSubstr("top_k: 11"));
  request = Request(0);
  request.mutable_pixels()->pop_back();
  EXPECT_THAT(agent.Classify(request, never).message(),
              HasSubstr("pixels: input has 783 values, the model expects 784"));
  // Raw values outside the model's input range (pixels: [0, 255]).
  request.clear_pixels();
  for (int i = 0; i < 784; ++i) request.mutable_values()->add_values(0.5f);
  for (float bad : {std::nanf(""), -1.0f, 1e30f, 256.0f}) {
    request.mutable_values()->set_values(3, bad);
    EXPECT_THAT(agent.Classify(request, never).message(),
                HasSubstr(absl::StrFormat("values: input value 3 is %g, "
                                          "outside the model's input range "
                                          "[0, 255]",
                                          bad)));
  }
  EXPECT_THAT(agent.Classify(v1::ClassifyRequest(), never).message(),
              HasSubstr("input: missing"));
  EXPECT_EQ(agent.queued(), 0);
}

}  // namespace
}  // namespace spex
