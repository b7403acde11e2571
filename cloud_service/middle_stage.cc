#include "cloud_service/middle_stage.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "common/codec/activation_codec.h"
#include "common/model/exit_rule.h"
#include "common/rpc/sample_result.h"

namespace spex {

// A middle stage's request on its way: the layers' output for every sample,
// and the answers as they come (from an exit here, from the next stage, or
// from a fallback). The last sample answered finishes the request. Shared
// by the callbacks of its samples.
class StageAnswer {
 public:
  StageAnswer(RequestRecord record, std::string name, int stage, int top_k,
              SplitJob plan, v1::InferResponse response, InferDone done)
      : arrived_(absl::Now()),
        record_(record),
        name_(std::move(name)),
        stage_(stage),
        top_k_(top_k),
        plan_(std::move(plan)),
        response_(std::move(response)),
        done_(std::move(done)) {
    for (int s = 0; s < plan_.job.samples; ++s) response_.add_results();
    remaining_ = plan_.job.samples;
  }

  const Model& model() const { return *plan_.job.model; }
  const ModelPart& part() const { return *plan_.job.part; }
  const SplitJob& plan() const { return plan_; }
  const std::string& name() const { return name_; }
  int stage() const { return stage_; }
  int top_k() const { return top_k_; }
  int samples() const { return plan_.job.samples; }
  void set_output(JobOutput output) { output_ = std::move(output); }
  // Sample s's activation after the stage's layers.
  absl::Span<const float> activation(int s) const {
    const size_t width = static_cast<size_t>(part().output_width());
    return absl::MakeConstSpan(output_.values).subspan(s * width, width);
  }
  // Sample s's exit probabilities (exits x classes).
  const float* exits(int s) const {
    const size_t values = part().exits().size() * model().num_classes();
    return output_.exit_probabilities.data() + s * values;
  }
  // Sample s's answer by this stage's exit `exit` (an index in
  // part().exits()) or, for -1, the classifier at the end of `probs`.
  void Answer(CloudMetrics* metrics, ThresholdController* controller, int s,
              int exit, const float* probs, v1::FallbackReason reason) {
    const int number = exit < 0 ? 0 : part().exits()[exit].index + 1;
    v1::SampleResult result;
    FillSampleResult(probs, model().num_classes(),
                     static_cast<uint32_t>(top_k_),
                     Answerer{stage_, number, reason}, &result);
    Set(metrics, controller, s, std::move(result));
  }

  // Sample s's answer; the last one finishes the request. `controller`
  // (may be null) observes the sample's latency through this stage.
  void Set(CloudMetrics* metrics, ThresholdController* controller, int s,
           v1::SampleResult result) {
    if (result.stage() == static_cast<uint32_t>(stage_)) {
      metrics->RecordStageAnswer(name_, stage_, static_cast<int>(result.exit()),
                                 result.fallback_reason());
    }
    if (controller != nullptr)
      controller->ObserveLatency(absl::Now() - arrived_);
    v1::InferResponse answered;
    {
      absl::MutexLock lock(&mutex_);
      *response_.mutable_results(s) = std::move(result);
      if (--remaining_ > 0) return;
      answered = std::move(response_);
    }
    record_.Finish(name_, absl::OkStatus(), samples());
    done_(absl::OkStatus(), std::move(answered));
  }

 private:
  const absl::Time arrived_;
  const RequestRecord record_;
  const std::string name_;
  const int stage_;
  const int top_k_;
  const SplitJob plan_;
  JobOutput output_;  // set once, before any sample is routed
  absl::Mutex mutex_;
  v1::InferResponse response_ ABSL_GUARDED_BY(mutex_);
  int remaining_ ABSL_GUARDED_BY(mutex_) = 0;
  InferDone done_;
};

namespace {

// Where a controller starts: --threshold, else the calibrated threshold of
// the first exit this stage runs in the models served now.
double InitialThreshold(const StageOptions& options,
                        const StagePlacement& placement,
                        const ServedModels& served) {
  if (options.threshold.has_value()) return *options.threshold;
  for (const ServedModel& model : served.all()) {
    const Model& m = *model.model;
    const int stage = StageNumber(m, placement);
    const ModelPart* part =
        m.Segment(m.boundaries()[stage - 1], m.boundaries()[stage]);
    if (part != nullptr && !part->exits().empty()) {
      return part->exits().front().threshold;
    }
  }
  return options.controller->max_threshold;
}

}  // namespace

MiddleStage::MiddleStage(const StageOptions& options,
                         const StagePlacement& placement, int workers,
                         NextStages* next, InferenceEngine* engine,
                         CloudMetrics* metrics, const ServedModels& served)
    : options_(options),
      workers_(workers),
      next_(next),
      engine_(engine),
      metrics_(metrics) {
  if (options_.adaptive) {
    RouteChooserOptions routes;
    routes.can_compute_here = true;
    routes.workers = workers_;
    router_ = std::make_unique<RouteChooser>(routes);
  }
  if (options_.controller.has_value()) {
    controller_ = std::make_unique<ThresholdController>(
        *options_.controller, InitialThreshold(options_, placement, served));
  }
  if (options_.accuracy.has_value()) {
    accuracy_ = std::make_unique<AccuracyController>(
        *options_.accuracy, InitialThreshold(options_, placement, served));
    audit_random_.seed(std::random_device{}());
    NoteAccuracy();
  }
}

MiddleStage::~MiddleStage() = default;

void MiddleStage::Attach(SplitJob* plan, RequestRecord record, std::string name,
                         int stage, int top_k, v1::InferResponse response,
                         InferDone done) {
  // The routing keeps what it needs of the plan (the job's inputs go to the
  // engine); the model stays alive with it.
  SplitJob kept;
  kept.job.model = plan->job.model;
  kept.job.part = plan->job.part;
  kept.job.samples = plan->job.samples;
  kept.from_layer = plan->from_layer;
  kept.to_layer = plan->to_layer;
  auto answer = std::make_shared<StageAnswer>(
      record, std::move(name), stage, top_k, std::move(kept),
      std::move(response), std::move(done));
  plan->job.done = [this, answer](JobOutput output) {
    answer->set_output(std::move(output));
    Route(answer);
  };
}

std::optional<float> MiddleStage::StageThreshold() const {
  if (accuracy_ != nullptr) {
    // As at the edge (exit_policy.h): the accuracy objective wins over the
    // latency objective; alone, it goes wherever its bound allows.
    const double kept = accuracy_->threshold();
    return static_cast<float>(controller_ == nullptr
                                  ? kept
                                  : std::max(kept, controller_->threshold()));
  }
  if (controller_ != nullptr) {
    return static_cast<float>(controller_->threshold());
  }
  return options_.threshold;
}

void MiddleStage::Route(const std::shared_ptr<StageAnswer>& answer) {
  const ModelPart& part = answer->part();
  const int classes = answer->model().num_classes();
  const std::vector<ExitRule> rules = ExitRulesFor(part, StageThreshold());
  if ((controller_ != nullptr || accuracy_ != nullptr) && metrics_ != nullptr) {
    for (size_t e = 0; e < rules.size(); ++e) {
      metrics_->SetExitThreshold(answer->name(), part.exits()[e].index + 1,
                                 rules[e].threshold);
    }
  }
  for (int s = 0; s < answer->samples(); ++s) {
    const ExitDecision decision = DecideExit(rules, answer->exits(s), classes);
    ExitSeen seen;
    if (accuracy_ != nullptr && decision.exit >= 0) {
      accuracy_->ObserveSample(decision.confidence, !decision.confident);
      const float* probs = answer->exits(s) + decision.exit * classes;
      seen.confidence = decision.confidence;
      seen.label =
          static_cast<int>(std::max_element(probs, probs + classes) - probs);
    }
    if (decision.confident) {
      answer->Answer(metrics_, controller_.get(), s, decision.exit,
                     answer->exits(s) + decision.exit * classes,
                     v1::FALLBACK_REASON_UNSPECIFIED);
      if (accuracy_ != nullptr) {
        const double rate = accuracy_->audit_rate();
        if (DrawAudit(rate)) Audit(answer, s, seen, rate);
      }
    } else if (router_ != nullptr &&
               router_->Choose(engine_->queued_samples()) ==
                   RouteChooser::Route::kHere) {
      ComputeRest(answer, s, seen, v1::FALLBACK_REASON_NEXT_SLOWER);
    } else {
      Forward(answer, s, seen);
    }
  }
  if (accuracy_ != nullptr) NoteAccuracy();
}

void MiddleStage::Learn(ExitSeen seen, const v1::SampleResult& result,
                        double probability) {
  if (accuracy_ == nullptr || seen.label < 0 || !IsReferenceAnswer(result)) {
    return;
  }
  accuracy_->ObserveLabel(seen.confidence,
                          result.label() == static_cast<uint32_t>(seen.label),
                          probability);
}

bool MiddleStage::DrawAudit(double rate) {
  if (rate <= 0.0) return false;
  absl::MutexLock lock(&audit_mutex_);
  std::uniform_real_distribution<double> draw(0.0, 1.0);
  return draw(audit_random_) < rate;
}

void MiddleStage::Audit(const std::shared_ptr<StageAnswer>& answer, int sample,
                        ExitSeen seen, double rate) {
  v1::ActivationPayload payload;
  const absl::Span<const float> activation = answer->activation(sample);
  if (!EncodeActivations(options_.encoding, static_cast<int>(activation.size()),
                         1, activation, &payload)
           .ok()) {
    return;
  }
  metrics_->AddAuditBytes(static_cast<int64_t>(payload.ByteSizeLong()));
  // The answer went out already; an audit the next stage cannot take
  // (busy, down) is simply not counted.
  (void)next_->For(answer->model().id())
      .Offload(std::move(payload),
               static_cast<uint32_t>(answer->plan().to_layer), 0,
               [this, seen, rate](OffloadOutcome outcome) {
                 if (!outcome.ok || !IsReferenceAnswer(outcome.result)) return;
                 metrics_->RecordAudit(outcome.result.label() ==
                                       static_cast<uint32_t>(seen.label));
                 Learn(seen, outcome.result, rate);
               });
}

void MiddleStage::NoteAccuracy() {
  const AccuracyController::State state = accuracy_->state();
  metrics_->SetAccuracy(accuracy_->options().objective, state.loss.estimate,
                        state.loss.upper, state.audit_rate, state.changes);
}

void MiddleStage::Forward(const std::shared_ptr<StageAnswer>& answer,
                          int sample, ExitSeen seen) {
  v1::ActivationPayload payload;
  const absl::Span<const float> activation = answer->activation(sample);
  absl::Status encoded =
      EncodeActivations(options_.encoding, static_cast<int>(activation.size()),
                        1, activation, &payload);
  if (!encoded.ok()) {
    // An activation the encoding cannot carry (float16 overflow).
    return Fallback(answer, sample, seen, v1::FALLBACK_REASON_CLOUD_REJECTED);
  }
  metrics_->AddForwarded(1);
  std::optional<v1::FallbackReason> refused =
      next_->For(answer->model().id())
          .Offload(std::move(payload),
                   static_cast<uint32_t>(answer->plan().to_layer),
                   static_cast<uint32_t>(answer->top_k()),
                   [this, answer, sample, seen](OffloadOutcome outcome) {
                     // What the sample paid (a deadline: the deadline).
                     if (router_ != nullptr) {
                       router_->ObserveNext(outcome.round_trip);
                     }
                     if (outcome.ok) {
                       Learn(seen, outcome.result, 1.0);
                       answer->Set(metrics_, controller_.get(), sample,
                                   std::move(outcome.result));
                     } else {
                       Fallback(answer, sample, seen, outcome.reason);
                     }
                   });
  if (refused.has_value()) Fallback(answer, sample, seen, *refused);
}

void MiddleStage::Fallback(const std::shared_ptr<StageAnswer>& answer,
                           int sample, ExitSeen seen,
                           v1::FallbackReason reason) {
  if (options_.fallback_to_exit && !answer->part().exits().empty()) {
    return AnswerWithLastExit(answer, sample, reason);
  }
  ComputeRest(answer, sample, seen, reason);
}

void MiddleStage::AnswerWithLastExit(const std::shared_ptr<StageAnswer>& answer,
                                     int sample, v1::FallbackReason reason) {
  const int classes = answer->model().num_classes();
  const int last = static_cast<int>(answer->part().exits().size()) - 1;
  answer->Answer(metrics_, controller_.get(), sample, last,
                 answer->exits(sample) + last * classes, reason);
}

void MiddleStage::ComputeRest(const std::shared_ptr<StageAnswer>& answer,
                              int sample, ExitSeen seen,
                              v1::FallbackReason reason) {
  const ModelPart& part = answer->part();
  const Model& model = answer->model();
  const ModelPart* rest =
      model.Segment(answer->plan().to_layer, model.num_layers());
  const absl::Span<const float> activation = answer->activation(sample);
  const int classes = model.num_classes();
  const auto finish = [this, answer, sample, seen, reason,
                       classes](const float* probs) {
    // The whole network's answer: a label for the accuracy objective.
    if (seen.label >= 0) {
      v1::SampleResult full;
      full.set_label(static_cast<uint32_t>(
          std::max_element(probs, probs + classes) - probs));
      Learn(seen, full, 1.0);
    }
    answer->Answer(metrics_, controller_.get(), sample, -1, probs, reason);
  };
  InferenceJob job;
  job.model = answer->plan().job.model;
  job.part = rest;
  job.samples = 1;
  job.inputs.assign(activation.begin(), activation.end());
  const absl::Time submitted_at = absl::Now();
  // Per sample, as if nothing had been queued ahead (the chooser scales
  // by the queue itself).
  const double ahead = 1.0 + static_cast<double>(engine_->queued_samples()) /
                                 std::max(1, workers_);
  job.done = [this, finish, submitted_at, ahead](JobOutput output) {
    if (router_ != nullptr) {
      router_->ObserveHere((absl::Now() - submitted_at) / ahead);
    }
    finish(output.values.data());
  };
  absl::Status submitted = engine_->Submit(std::move(job));
  if (submitted.ok()) return;
  // The queue is full (or the engine stops): the exit answers if this
  // stage ran one, else the layers run on this thread, so that the sample
  // still gets its one answer.
  if (!part.exits().empty()) {
    return AnswerWithLastExit(answer, sample, v1::FALLBACK_REASON_QUEUE_FULL);
  }
  Workspace workspace(*rest);
  std::vector<float> probabilities(model.num_classes());
  rest->Forward(activation.data(), probabilities.data(), nullptr, &workspace);
  finish(probabilities.data());
}

}  // namespace spex
