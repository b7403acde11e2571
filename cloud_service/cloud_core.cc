#include "cloud_service/cloud_core.h"

#include <utility>

namespace spex {
namespace {

constexpr char kUnknownModel[] = "unknown";

StagePlacement PlacementOf(const StageOptions& options,
                           const NextStages* next) {
  StagePlacement placement = options.placement;
  placement.has_next = next != nullptr;
  return placement;
}

}  // namespace

CloudCore::CloudCore(const CloudCoreOptions& options, ModelRegistry* registry,
                     CloudMetrics* metrics, NextStages* next)
    : options_(options),
      registry_(registry),
      metrics_(metrics),
      placement_(PlacementOf(options.stage, next)),
      admission_(metrics),
      engine_(options.engine, metrics) {
  if (next != nullptr) {
    middle_ = std::make_unique<MiddleStage>(
        options_.stage, placement_, options_.engine.workers, next, &engine_,
        metrics_, *registry_->Snapshot());
  }
}

CloudCore::~CloudCore() = default;

void CloudCore::Infer(const v1::InferRequest& request,
                      const std::string& default_model_id, InferDone done) {
  metrics_->AddReceivedBytes(static_cast<int64_t>(request.ByteSizeLong()));
  const RequestRecord record = admission_.Arrive();
  v1::InferResponse response;
  response.set_request_id(request.request_id());
  auto refuse = [&](const std::string& model, absl::Status status) {
    record.Finish(model, status, 0);
    done(std::move(status), std::move(response));
  };
  if (absl::Status draining = admission_.Check(); !draining.ok()) {
    return refuse(kUnknownModel, std::move(draining));
  }
  const std::shared_ptr<const ServedModels> served = registry_->Snapshot();
  absl::StatusOr<const ServedModel*> model =
      ResolveModel(*served, request.model_id().empty() ? default_model_id
                                                       : request.model_id());
  if (!model.ok()) return refuse(kUnknownModel, model.status());
  const std::string& name = (*model)->name;
  absl::StatusOr<SplitJob> plan = PrepareSplitJob(
      request, **model, options_.max_samples_per_request, placement_);
  if (!plan.ok()) return refuse(name, plan.status());
  const Model& m = *(*model)->model;
  const int stage = StageNumber(m, placement_);
  const int top_k = static_cast<int>(request.top_k());
  if (plan->to_layer == m.num_layers()) {
    // The job ends with the final classifier: it answers every sample.
    const int classes = m.num_classes();
    const int samples = plan->job.samples;
    CloudMetrics* metrics = metrics_;
    plan->job.done = [record, name, classes, top_k, samples, stage, done,
                      metrics, response](JobOutput output) mutable {
      FillResults(output.values, classes, top_k, stage, &response);
      metrics->RecordStageAnswer(name, stage, 0,
                                 v1::FALLBACK_REASON_UNSPECIFIED, samples);
      record.Finish(name, absl::OkStatus(), samples);
      done(absl::OkStatus(), std::move(response));
    };
  } else {
    // A middle stage (only it plans a job that ends before the last layer).
    middle_->Attach(&*plan, record, name, stage, top_k, response, done);
  }
  absl::Status submitted = engine_.Submit(std::move(plan->job));
  if (!submitted.ok()) refuse(name, std::move(submitted));
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

bool CloudCore::Ready() const {
  if (admission_.draining()) return false;
  return !registry_->Snapshot()->all().empty();
}

}  // namespace spex
