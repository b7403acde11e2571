// The chain's reference: what the in-process model answers for one sample,
// stage by stage, for the tests of the chain in process and as processes.
#ifndef SPEX_TESTS_SUPPORT_CHAIN_REFERENCE_H_
#define SPEX_TESTS_SUPPORT_CHAIN_REFERENCE_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "common/codec/activation_codec.h"
#include "common/model/confidence.h"
#include "common/model/exit_rule.h"
#include "common/model/model.h"
#include "gtest/gtest.h"

namespace spex {

// What the in-process model answers for one sample, the chain as deployed:
// each stage runs its segment and its exits in order, the first sure exit
// answers, and the activation crosses each cut as int8. `margin` is how
// near the decision came to going another way (a confidence against its
// threshold, the top two probabilities of the answer): below about 1e-5,
// the different summation order of the daemons' batch kernels may flip it.
struct ChainAnswer {
  int label = 0;
  int stage = 0;
  int exit = 0;
  double margin = 1;
};

inline ChainAnswer AnswerInProcess(const Model& model, const float* sample) {
  ChainAnswer answer;
  const std::vector<float> raw(sample, sample + model.input().raw_width);
  std::vector<float> x(model.input().width);
  EXPECT_TRUE(model.input().Apply(raw, x.data()).ok());
  const int classes = model.num_classes();
  const auto settle = [&](const float* p, int stage, int exit) {
    std::vector<float> sorted(p, p + classes);
    std::sort(sorted.begin(), sorted.end(), std::greater<float>());
    answer.label = static_cast<int>(std::max_element(p, p + classes) - p);
    answer.stage = stage;
    answer.exit = exit;
    answer.margin =
        std::min(answer.margin, static_cast<double>(sorted[0] - sorted[1]));
  };
  for (int stage = 1; stage <= model.num_stages(); ++stage) {
    const ModelPart& part = *model.Segment(model.boundaries()[stage - 1],
                                           model.boundaries()[stage]);
    Workspace workspace(part);
    std::vector<float> y(part.output_width());
    std::vector<float> exits(part.exits().size() * classes);
    part.Forward(x.data(), y.data(), exits.empty() ? nullptr : exits.data(),
                 &workspace);
    const std::vector<ExitRule> rules = ExitRulesFor(part, std::nullopt);
    const ExitDecision decision = DecideExit(rules, exits.data(), classes);
    // The exits the rule tried: up to the one that answered.
    for (int e = 0; e < static_cast<int>(rules.size()) &&
                    (!decision.confident || e <= decision.exit);
         ++e) {
      const float confidence =
          Confidence(rules[e].measure,
                     absl::MakeConstSpan(exits.data() + e * classes, classes));
      answer.margin = std::min(
          answer.margin,
          std::fabs(static_cast<double>(confidence) - rules[e].threshold));
    }
    if (decision.confident) {
      settle(exits.data() + decision.exit * classes, stage,
             part.exits()[decision.exit].index + 1);
      return answer;
    }
    if (stage == model.num_stages()) {
      settle(y.data(), stage, 0);
      return answer;
    }
    v1::ActivationPayload payload;
    EXPECT_TRUE(EncodeActivations(v1::ENCODING_INT8, part.output_width(), 1, y,
                                  &payload)
                    .ok());
    x.assign(part.output_width(), 0.0f);
    EXPECT_TRUE(DecodeActivationsInto(payload, absl::MakeSpan(x)).ok());
  }
  return answer;
}

}  // namespace spex

#endif  // SPEX_TESTS_SUPPORT_CHAIN_REFERENCE_H_
