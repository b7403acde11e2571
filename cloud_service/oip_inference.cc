#include "cloud_service/oip_inference.h"

#include <memory>
#include <string>
#include <utility>

#include "cloud_service/oip_request.h"

namespace spex {
namespace {

constexpr char kUnknownModel[] = "unknown";

}  // namespace

void OipInference::ModelInfer(const inference::ModelInferRequest& request,
                              ModelInferDone done) {
  core_->metrics().AddReceivedBytes(
      static_cast<int64_t>(request.ByteSizeLong()));
  const RequestRecord record = core_->admission().Arrive();
  auto refuse = [&](const std::string& model, absl::Status status) {
    record.Finish(model, status, 0);
    done(std::move(status), inference::ModelInferResponse());
  };
  if (absl::Status draining = core_->admission().Check(); !draining.ok()) {
    return refuse(kUnknownModel, std::move(draining));
  }
  const std::shared_ptr<const ServedModels> served =
      core_->registry().Snapshot();
  absl::StatusOr<OipModel> model =
      ResolveOipModel(*served, request.model_name(), request.model_version());
  if (!model.ok()) return refuse(kUnknownModel, model.status());
  const std::string name = model->served->name;
  absl::StatusOr<InferenceJob> job =
      PrepareOipJob(request, *model, core_->options().max_samples_per_request);
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
  absl::Status submitted = core_->engine().Submit(*std::move(job));
  if (!submitted.ok()) refuse(name, std::move(submitted));
}

absl::StatusOr<inference::ModelMetadataResponse> OipInference::ModelMetadata(
    const inference::ModelMetadataRequest& request) const {
  const std::shared_ptr<const ServedModels> served =
      core_->registry().Snapshot();
  absl::StatusOr<OipModel> model =
      ResolveOipModel(*served, request.name(), request.version());
  if (!model.ok()) return model.status();
  return OipMetadata(*model);
}

bool OipInference::ModelReady(
    const inference::ModelReadyRequest& request) const {
  const std::shared_ptr<const ServedModels> served =
      core_->registry().Snapshot();
  return ResolveOipModel(*served, request.name(), request.version()).ok();
}

}  // namespace spex
