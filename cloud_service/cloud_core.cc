#include "cloud_service/cloud_core.h"

#include <utility>

#include "absl/time/clock.h"
#include "cloud_service/oip_request.h"
#include "common/codec/activation_codec.h"
#include "common/model/confidence.h"
#include "common/rpc/sample_result.h"

namespace spex {
namespace {

constexpr char kUnknownModel[] = "unknown";

}  // namespace

// Counts a request from its arrival to its answer, in the metrics and in
// the core's in-flight count that draining waits on. Copied into the
// completion callback; exactly one copy calls Finish.
class RequestRecord {
 public:
  explicit RequestRecord(CloudCore* core) : core_(core), start_(absl::Now()) {
    core_->metrics_->AddInflight(1);
    absl::MutexLock lock(&core_->mutex_);
    ++core_->inflight_;
  }
  void Finish(const std::string& model, const absl::Status& status,
              int samples) {
    core_->metrics_->AddInflight(-1);
    core_->metrics_->RecordRequest(model, status.code(), samples,
                                   absl::ToDoubleSeconds(absl::Now() - start_));
    absl::MutexLock lock(&core_->mutex_);
    --core_->inflight_;
  }

 private:
  CloudCore* core_;
  absl::Time start_;
};

// A middle stage's request on its way: the layers' output for every sample,
// and the answers as they come (from an exit here, from the next stage, or
// from a fallback). The last sample answered finishes the request. Shared
// by the callbacks of its samples.
class StageAnswer {
 public:
  StageAnswer(RequestRecord record, std::string name, int stage, int top_k,
              SplitJob plan, v1::InferResponse response,
              CloudCore::InferDone done)
      : arrived_(absl::Now()),
        record_(std::move(record)),
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

  // Sample s's answer; the last one finishes the request. `controller`
  // (may be null) observes the sample's latency through this stage.
  void Set(CloudMetrics* metrics, ThresholdController* controller, int s,
           v1::SampleResult result) {
    if (result.stage() == static_cast<uint32_t>(stage_)) {
      metrics->RecordStageAnswer(name_, stage_, static_cast<int>(result.exit()),
                                 result.fallback_reason());
    }
    if (controller != nullptr) controller->ObserveLatency(absl::Now() - arrived_);
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
  RequestRecord record_;
  const std::string name_;
  const int stage_;
  const int top_k_;
  const SplitJob plan_;
  JobOutput output_;  // set once, before any sample is routed
  absl::Mutex mutex_;
  v1::InferResponse response_ ABSL_GUARDED_BY(mutex_);
  int remaining_ ABSL_GUARDED_BY(mutex_) = 0;
  CloudCore::InferDone done_;
};

namespace {

StagePlacement PlacementOf(const StageOptions& options, const NextStage* next) {
  StagePlacement placement = options.placement;
  placement.has_next = next != nullptr;
  return placement;
}

}  // namespace

CloudCore::CloudCore(const CloudCoreOptions& options, ModelRegistry* registry,
                     CloudMetrics* metrics, NextStage* next)
    : options_(options),
      registry_(registry),
      metrics_(metrics),
      next_(next),
      placement_(PlacementOf(options.stage, next)),
      engine_(options.engine, metrics) {
  if (next_ != nullptr && options_.stage.adaptive) {
    RouteChooserOptions routes;
    routes.can_compute_here = true;
    routes.workers = options_.engine.workers;
    router_ = std::make_unique<RouteChooser>(routes);
  }
  if (next_ != nullptr && options_.stage.controller.has_value()) {
    // Starting from --threshold, else the calibrated threshold of the first
    // exit this stage runs in the models served now.
    double initial = options_.stage.controller->max_threshold;
    for (const ServedModel& served : registry_->Snapshot()->all()) {
      const Model& m = *served.model;
      const int stage = StageNumber(m, placement_);
      const ModelPart* part =
          m.Segment(m.boundaries()[stage - 1], m.boundaries()[stage]);
      if (part != nullptr && !part->exits().empty()) {
        initial = part->exits().front().threshold;
        break;
      }
    }
    controller_ = std::make_unique<ThresholdController>(
        *options_.stage.controller, options_.stage.threshold.value_or(initial));
  }
}

void CloudCore::Infer(const v1::InferRequest& request,
                      const std::string& default_model_id, InferDone done) {
  metrics_->AddReceivedBytes(static_cast<int64_t>(request.ByteSizeLong()));
  RequestRecord record(this);
  v1::InferResponse response;
  response.set_request_id(request.request_id());
  auto refuse = [&](const std::string& model, absl::Status status) {
    record.Finish(model, status, 0);
    done(std::move(status), std::move(response));
  };
  if (absl::Status draining = DrainingStatus(); !draining.ok()) {
    return refuse(kUnknownModel, std::move(draining));
  }
  const std::shared_ptr<const ServedModels> served = registry_->Snapshot();
  absl::StatusOr<const ServedModel*> model = ResolveModel(
      *served,
      request.model_id().empty() ? default_model_id : request.model_id());
  if (!model.ok()) return refuse(kUnknownModel, model.status());
  const std::string& name = (*model)->name;
  absl::StatusOr<SplitJob> plan = PrepareSplitJob(
      request, **model, options_.max_samples_per_request, placement_);
  if (!plan.ok()) return refuse(name, plan.status());
  const Model& m = *(*model)->model;
  const int stage = StageNumber(m, placement_);
  const int top_k = static_cast<int>(request.top_k());
  InferenceJob job = std::move(plan->job);
  if (plan->to_layer == m.num_layers()) {
    // The job ends with the final classifier: it answers every sample.
    const int classes = m.num_classes();
    const int samples = job.samples;
    CloudMetrics* metrics = metrics_;
    job.done = [record, name, classes, top_k, samples, stage, done, metrics,
                response](JobOutput output) mutable {
      FillResults(output.values, classes, top_k, stage, &response);
      metrics->RecordStageAnswer(name, stage, 0,
                                 v1::FALLBACK_REASON_UNSPECIFIED, samples);
      record.Finish(name, absl::OkStatus(), samples);
      done(absl::OkStatus(), std::move(response));
    };
  } else {
    // A middle stage: the job's activations and exits are routed sample by
    // sample once computed. The plan keeps the model alive.
    SplitJob kept;
    kept.job.model = job.model;
    kept.job.part = job.part;
    kept.job.samples = job.samples;
    kept.from_layer = plan->from_layer;
    kept.to_layer = plan->to_layer;
    auto answer = std::make_shared<StageAnswer>(record, name, stage, top_k,
                                                std::move(kept), response, done);
    job.done = [this, answer](JobOutput output) {
      answer->set_output(std::move(output));
      Route(answer);
    };
  }
  absl::Status submitted = engine_.Submit(std::move(job));
  if (!submitted.ok()) refuse(name, std::move(submitted));
}

int CloudCore::FirstConfidentExit(const ModelPart& part,
                                  const float* exit_probs) const {
  const int classes = part.exit_width();
  const bool replaced = controller_ != nullptr || options_.stage.threshold;
  for (size_t e = 0; e < part.exits().size(); ++e) {
    const ExitBranchRuntime& exit = part.exits()[e];
    v1::ConfidenceMeasure measure = exit.confidence;
    if (measure == v1::CONFIDENCE_MEASURE_UNSPECIFIED) {
      // An uncalibrated exit answers only under a threshold given here.
      if (!replaced) continue;
      measure = v1::CONFIDENCE_MEASURE_MAX_SOFTMAX;
    }
    const absl::Span<const float> probs(exit_probs + e * classes,
                                        static_cast<size_t>(classes));
    if (Confidence(measure, probs) >= ThresholdFor(exit)) {
      return static_cast<int>(e);
    }
  }
  return -1;
}

float CloudCore::ThresholdFor(const ExitBranchRuntime& exit) const {
  if (controller_ != nullptr) {
    return static_cast<float>(controller_->threshold());
  }
  return options_.stage.threshold.value_or(exit.threshold);
}

void CloudCore::Route(const std::shared_ptr<StageAnswer>& answer) {
  const ModelPart& part = answer->part();
  const int classes = answer->model().num_classes();
  if (controller_ != nullptr && metrics_ != nullptr) {
    for (const ExitBranchRuntime& exit : part.exits()) {
      metrics_->SetExitThreshold(answer->name(), exit.index + 1,
                                 ThresholdFor(exit));
    }
  }
  for (int s = 0; s < answer->samples(); ++s) {
    const int exit = FirstConfidentExit(part, answer->exits(s));
    if (exit < 0) {
      if (router_ != nullptr &&
          router_->Choose(engine_.queued_samples()) ==
              RouteChooser::Route::kHere) {
        ComputeRest(answer, s, v1::FALLBACK_REASON_NEXT_SLOWER);
      } else {
        Forward(answer, s);
      }
      continue;
    }
    v1::SampleResult result;
    FillSampleResult(answer->exits(s) + exit * classes, classes,
                     static_cast<uint32_t>(answer->top_k()), &result);
    result.set_stage(static_cast<uint32_t>(answer->stage()));
    result.set_exit(static_cast<uint32_t>(part.exits()[exit].index + 1));
    answer->Set(metrics_, controller_.get(), s, std::move(result));
  }
}

void CloudCore::Forward(const std::shared_ptr<StageAnswer>& answer,
                        int sample) {
  v1::ActivationPayload payload;
  const absl::Span<const float> activation = answer->activation(sample);
  absl::Status encoded =
      EncodeActivations(options_.stage.encoding,
                        static_cast<int>(activation.size()), 1, activation,
                        &payload);
  if (!encoded.ok()) {
    // An activation the encoding cannot carry (float16 overflow).
    return Fallback(answer, sample, v1::FALLBACK_REASON_CLOUD_REJECTED);
  }
  metrics_->AddForwarded(1);
  std::optional<v1::FallbackReason> refused =
      next_->For(answer->model().id())
          .Offload(std::move(payload),
                   static_cast<uint32_t>(answer->plan().to_layer),
                   static_cast<uint32_t>(answer->top_k()),
                   [this, answer, sample](OffloadOutcome outcome) {
                     // What the sample paid (a deadline: the deadline).
                     if (router_ != nullptr) {
                       router_->ObserveNext(outcome.round_trip);
                     }
                     if (outcome.ok) {
                       answer->Set(metrics_, controller_.get(), sample,
                                   std::move(outcome.result));
                     } else {
                       Fallback(answer, sample, outcome.reason);
                     }
                   });
  if (refused.has_value()) Fallback(answer, sample, *refused);
}

void CloudCore::Fallback(const std::shared_ptr<StageAnswer>& answer,
                         int sample, v1::FallbackReason reason) {
  if (options_.stage.fallback_to_exit && !answer->part().exits().empty()) {
    return AnswerWithLastExit(answer, sample, reason);
  }
  ComputeRest(answer, sample, reason);
}

void CloudCore::AnswerWithLastExit(const std::shared_ptr<StageAnswer>& answer,
                                   int sample, v1::FallbackReason reason) {
  const ModelPart& part = answer->part();
  const int classes = answer->model().num_classes();
  const int last = static_cast<int>(part.exits().size()) - 1;
  v1::SampleResult result;
  FillSampleResult(answer->exits(sample) + last * classes, classes,
                   static_cast<uint32_t>(answer->top_k()), &result);
  result.set_stage(static_cast<uint32_t>(answer->stage()));
  result.set_exit(static_cast<uint32_t>(part.exits()[last].index + 1));
  result.set_fallback_reason(reason);
  answer->Set(metrics_, controller_.get(), sample, std::move(result));
}

void CloudCore::ComputeRest(const std::shared_ptr<StageAnswer>& answer,
                            int sample, v1::FallbackReason reason) {
  const ModelPart& part = answer->part();
  const Model& model = answer->model();
  const int classes = model.num_classes();
  const ModelPart* rest =
      model.Segment(answer->plan().to_layer, model.num_layers());
  const absl::Span<const float> activation = answer->activation(sample);
  const auto finish = [this, answer, sample, reason,
                       classes](const float* probabilities) {
    v1::SampleResult result;
    FillSampleResult(probabilities, classes,
                     static_cast<uint32_t>(answer->top_k()), &result);
    result.set_stage(static_cast<uint32_t>(answer->stage()));
    result.set_fallback_reason(reason);
    answer->Set(metrics_, controller_.get(), sample, std::move(result));
  };
  InferenceJob job;
  job.model = answer->plan().job.model;
  job.part = rest;
  job.samples = 1;
  job.inputs.assign(activation.begin(), activation.end());
  const absl::Time submitted_at = absl::Now();
  // Per sample, as if nothing had been queued ahead (the chooser scales
  // by the queue itself).
  const double ahead =
      1.0 + static_cast<double>(engine_.queued_samples()) /
                std::max(1, options_.engine.workers);
  job.done = [this, finish, submitted_at, ahead](JobOutput output) {
    if (router_ != nullptr) {
      router_->ObserveHere((absl::Now() - submitted_at) / ahead);
    }
    finish(output.values.data());
  };
  absl::Status submitted = engine_.Submit(std::move(job));
  if (submitted.ok()) return;
  // The queue is full (or the engine stops): the exit answers if this
  // stage ran one, else the layers run on this thread, so that the sample
  // still gets its one answer.
  if (!part.exits().empty()) {
    return AnswerWithLastExit(answer, sample, v1::FALLBACK_REASON_QUEUE_FULL);
  }
  Workspace workspace(*rest);
  std::vector<float> probabilities(classes);
  rest->Forward(activation.data(), probabilities.data(), nullptr, &workspace);
  finish(probabilities.data());
}

absl::StatusOr<v1::GetModelInfoResponse> CloudCore::GetModelInfo(
    const v1::GetModelInfoRequest& request) const {
  const std::shared_ptr<const ServedModels> served = registry_->Snapshot();
  v1::GetModelInfoResponse response;
  if (request.model_id().empty()) {
    for (const ServedModel& model : served->all()) {
      *response.add_models() =
          DescribeModel(model, options_.max_samples_per_request, placement_);
    }
    return response;
  }
  absl::StatusOr<const ServedModel*> model =
      ResolveModel(*served, request.model_id());
  if (!model.ok()) return model.status();
  *response.add_models() =
      DescribeModel(**model, options_.max_samples_per_request, placement_);
  return response;
}

void CloudCore::ModelInfer(const inference::ModelInferRequest& request,
                           ModelInferDone done) {
  metrics_->AddReceivedBytes(static_cast<int64_t>(request.ByteSizeLong()));
  RequestRecord record(this);
  auto refuse = [&](const std::string& model, absl::Status status) {
    record.Finish(model, status, 0);
    done(std::move(status), inference::ModelInferResponse());
  };
  if (absl::Status draining = DrainingStatus(); !draining.ok()) {
    return refuse(kUnknownModel, std::move(draining));
  }
  const std::shared_ptr<const ServedModels> served = registry_->Snapshot();
  absl::StatusOr<OipModel> model =
      ResolveOipModel(*served, request.model_name(), request.model_version());
  if (!model.ok()) return refuse(kUnknownModel, model.status());
  const std::string name = model->served->name;
  absl::StatusOr<InferenceJob> job =
      PrepareOipJob(request, *model, options_.max_samples_per_request);
  if (!job.ok()) return refuse(name, job.status());
  const int samples = job->samples;
  // The request is copied only when it is accepted: the callback outlives
  // the caller's message.
  auto kept = std::make_shared<inference::ModelInferRequest>(request);
  OipModel target = *model;
  job->done = [record, name, samples, done, kept, served,
               target](JobOutput output) mutable {
    inference::ModelInferResponse response;
    FillOipResponse(*kept, target, output.values, &response);
    record.Finish(name, absl::OkStatus(), samples);
    done(absl::OkStatus(), std::move(response));
  };
  absl::Status submitted = engine_.Submit(*std::move(job));
  if (!submitted.ok()) refuse(name, std::move(submitted));
}

absl::StatusOr<inference::ModelMetadataResponse> CloudCore::ModelMetadata(
    const inference::ModelMetadataRequest& request) const {
  const std::shared_ptr<const ServedModels> served = registry_->Snapshot();
  absl::StatusOr<OipModel> model =
      ResolveOipModel(*served, request.name(), request.version());
  if (!model.ok()) return model.status();
  return OipMetadata(*model);
}

bool CloudCore::ModelReady(const inference::ModelReadyRequest& request) const {
  const std::shared_ptr<const ServedModels> served = registry_->Snapshot();
  return ResolveOipModel(*served, request.name(), request.version()).ok();
}

bool CloudCore::Ready() const {
  {
    absl::MutexLock lock(&mutex_);
    if (draining_) return false;
  }
  return !registry_->Snapshot()->all().empty();
}

absl::Status CloudCore::DrainingStatus() const {
  absl::MutexLock lock(&mutex_);
  if (!draining_) return absl::OkStatus();
  return absl::UnavailableError(
      "the server is shutting down; retry on another replica");
}

void CloudCore::BeginDrain() {
  absl::MutexLock lock(&mutex_);
  draining_ = true;
}

bool CloudCore::WaitUntilIdle(absl::Time deadline) {
  absl::MutexLock lock(&mutex_);
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    return inflight_ == 0;
  };
  return mutex_.AwaitWithDeadline(absl::Condition(&idle), deadline);
}

}  // namespace spex
