#include "tools/train/chain_calibration.h"

#include <algorithm>
#include <cmath>
#include <tuple>

#include "absl/strings/str_format.h"
#include "absl/types/span.h"
#include "common/model/confidence.h"
#include "common/model/exit_rule.h"

namespace spex {
namespace {

constexpr int kSteps = 200;  // thresholds 0, 0.005, ..., 1
constexpr int kMaxRounds = 20;

// The stage (from 1) whose layers hold each exit.
std::vector<int> ExitStages(const Model& model) {
  std::vector<int> stages;
  for (const ExitBranchRuntime& exit : model.full().exits()) {
    int stage = 1;
    while (model.boundaries()[stage] < exit.after_layer) ++stage;
    stages.push_back(stage);
  }
  return stages;
}

// Per sample and exit, what the policy needs, computed once per measure.
struct Table {
  int samples = 0;
  int exits = 0;
  std::vector<float> confidence;  // [i * exits + e]
  std::vector<uint8_t> exit_right;
  std::vector<uint8_t> final_right;
};

Table TableFor(const Predictions& p, v1::ConfidenceMeasure measure) {
  Table t;
  t.samples = p.samples;
  t.exits = static_cast<int>(p.exit_probs.size());
  t.confidence.resize(static_cast<size_t>(t.samples) * t.exits);
  t.exit_right.resize(t.confidence.size());
  t.final_right.resize(t.samples);
  for (int i = 0; i < t.samples; ++i) {
    t.final_right[i] = p.FinalLabel(i) == p.labels[i];
    for (int e = 0; e < t.exits; ++e) {
      const auto probs = absl::MakeConstSpan(
          &p.exit_probs[e][static_cast<size_t>(i) * p.classes], p.classes);
      t.confidence[static_cast<size_t>(i) * t.exits + e] =
          Confidence(measure, probs);
      t.exit_right[static_cast<size_t>(i) * t.exits + e] =
          p.ExitLabel(e, i) == p.labels[i];
    }
  }
  return t;
}

ChainPoint Evaluate(const Table& t, const std::vector<int>& exit_stage,
                    int stages, v1::ConfidenceMeasure measure,
                    const std::vector<double>& thresholds) {
  ChainPoint point;
  point.measure = measure;
  point.thresholds = thresholds;
  point.exit_fraction.assign(t.exits, 0);
  std::vector<int> stage_answers(stages, 0), stage_right(stages, 0);
  int overall = 0, full = 0;
  double d_sum = 0, d_square = 0, stage_sum = 0;
  for (int i = 0; i < t.samples; ++i) {
    int stage = stages;
    bool right = t.final_right[i];
    const size_t row = static_cast<size_t>(i) * t.exits;
    const int e = FirstConfidentExit(
        absl::MakeConstSpan(t.confidence).subspan(row, t.exits), thresholds);
    if (e >= 0) {
      stage = exit_stage[e];
      right = t.exit_right[row + e];
      point.exit_fraction[e] += 1;
    }
    ++stage_answers[stage - 1];
    stage_right[stage - 1] += right;
    overall += right;
    full += t.final_right[i];
    stage_sum += stage;
    const double d = static_cast<double>(t.final_right[i]) - right;
    d_sum += d;
    d_square += d * d;
  }
  const double n = t.samples;
  for (double& f : point.exit_fraction) f /= n;
  double crossing = 1.0;
  for (int s = 0; s < stages; ++s) {
    point.stage_fraction.push_back(stage_answers[s] / n);
    point.stage_accuracy.push_back(stage_answers[s] > 0
                                       ? static_cast<double>(stage_right[s]) /
                                             stage_answers[s]
                                       : 1.0);
    crossing -= stage_answers[s] / n;
    if (s + 1 < stages) point.crossing.push_back(std::max(0.0, crossing));
  }
  point.overall_accuracy = overall / n;
  point.full_accuracy = full / n;
  point.drop = (full - overall) / n;
  const double mean = d_sum / n;
  point.drop_stderr = std::sqrt(std::max(0.0, d_square / n - mean * mean) / n);
  point.mean_stage = stage_sum / n;
  return point;
}

}  // namespace

ChainPoint EvaluateChain(const Model& model, const Predictions& predictions,
                         v1::ConfidenceMeasure measure,
                         const std::vector<double>& thresholds) {
  return Evaluate(TableFor(predictions, measure), ExitStages(model),
                  model.num_stages(), measure, thresholds);
}

absl::StatusOr<ChainPoint> ChooseChainThresholds(const Model& model,
                                                 const Predictions& validation,
                                                 const ChainTarget& target) {
  const int stages = model.num_stages();
  const bool budget = target.max_drop_points < 0;
  if (budget && static_cast<int>(target.stage_budget.size()) != stages - 1) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%d stage budgets for a chain of %d stages: give one per cut",
        target.stage_budget.size(), stages));
  }
  if (!std::isfinite(target.z) || target.z < 0 || target.judged_samples < 1) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "margin z %g must be finite and >= 0, judged samples %d at least 1",
        target.z, target.judged_samples));
  }
  const std::vector<int> exit_stage = ExitStages(model);
  const int exits = static_cast<int>(exit_stage.size());
  if (exits == 0) return absl::FailedPreconditionError("the model has no exit");
  // As calibration.h: the margin covers the validation and judging noise.
  const double noise = std::sqrt(1.0 + static_cast<double>(validation.samples) /
                                           target.judged_samples);
  // Lexicographic: how far the target is missed, then what it optimises
  // (the mean stage, or minus the accuracy).
  const auto score = [&](const ChainPoint& p) {
    double violation = 0;
    if (budget) {
      for (size_t c = 0; c < p.crossing.size(); ++c) {
        violation += std::max(0.0, p.crossing[c] - target.stage_budget[c]);
      }
      return std::make_tuple(violation, -p.overall_accuracy);
    }
    violation = std::max(0.0, p.drop + target.z * p.drop_stderr * noise -
                                  target.max_drop_points / 100.0);
    return std::make_tuple(violation, p.mean_stage);
  };
  bool found = false;
  ChainPoint best;
  for (v1::ConfidenceMeasure measure :
       {v1::CONFIDENCE_MEASURE_MAX_SOFTMAX,
        v1::CONFIDENCE_MEASURE_NORMALIZED_ENTROPY}) {
    const Table table = TableFor(validation, measure);
    std::vector<double> thresholds(exits, 1.0);  // start: no exit answers
    ChainPoint current =
        Evaluate(table, exit_stage, stages, measure, thresholds);
    for (int round = 0; round < kMaxRounds; ++round) {
      bool moved = false;
      for (int e = 0; e < exits; ++e) {
        for (int s = 0; s <= kSteps; ++s) {
          std::vector<double> trial = current.thresholds;
          trial[e] = static_cast<double>(s) / kSteps;
          ChainPoint point =
              Evaluate(table, exit_stage, stages, measure, trial);
          if (score(point) < score(current)) {
            current = std::move(point);
            moved = true;
          }
        }
      }
      if (!moved) break;
    }
    if (std::get<0>(score(current)) == 0 &&
        (!found || score(current) < score(best))) {
      best = current;
      found = true;
    }
  }
  if (!found) {
    return absl::NotFoundError("no thresholds meet the target on validation");
  }
  return best;
}

}  // namespace spex
