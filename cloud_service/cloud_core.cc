#include "cloud_service/cloud_core.h"

#include <utility>

#include "absl/time/clock.h"
#include "cloud_service/oip_request.h"
#include "cloud_service/split_request.h"

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

CloudCore::CloudCore(const CloudCoreOptions& options, ModelRegistry* registry,
                     CloudMetrics* metrics)
    : options_(options),
      registry_(registry),
      metrics_(metrics),
      engine_(options.engine, metrics) {}

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
  absl::StatusOr<InferenceJob> job =
      PrepareSplitJob(request, **model, options_.max_samples_per_request);
  if (!job.ok()) return refuse(name, job.status());
  const int classes = (*model)->model->num_classes();
  const int top_k = static_cast<int>(request.top_k());
  const int samples = job->samples;
  job->done = [record, name, classes, top_k, samples, done,
               response](std::vector<float> probabilities) mutable {
    FillResults(probabilities, classes, top_k, &response);
    record.Finish(name, absl::OkStatus(), samples);
    done(absl::OkStatus(), std::move(response));
  };
  absl::Status submitted = engine_.Submit(*std::move(job));
  if (!submitted.ok()) refuse(name, std::move(submitted));
}

absl::StatusOr<v1::GetModelInfoResponse> CloudCore::GetModelInfo(
    const v1::GetModelInfoRequest& request) const {
  const std::shared_ptr<const ServedModels> served = registry_->Snapshot();
  v1::GetModelInfoResponse response;
  if (request.model_id().empty()) {
    for (const ServedModel& model : served->all()) {
      *response.add_models() =
          DescribeModel(model, options_.max_samples_per_request);
    }
    return response;
  }
  absl::StatusOr<const ServedModel*> model =
      ResolveModel(*served, request.model_id());
  if (!model.ok()) return model.status();
  *response.add_models() =
      DescribeModel(**model, options_.max_samples_per_request);
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
               target](std::vector<float> probabilities) mutable {
    inference::ModelInferResponse response;
    FillOipResponse(*kept, target, probabilities, &response);
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
