// spex.v1.SplitInference requests without gRPC: which model a request names,
// whether its activation fits that model, and how probabilities become an
// answer. Every refusal is an absl::Status whose message names the problem.
#ifndef SPEX_CLOUD_SERVICE_SPLIT_REQUEST_H_
#define SPEX_CLOUD_SERVICE_SPLIT_REQUEST_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cloud_service/inference_engine.h"
#include "cloud_service/model_registry.h"
#include "spex/v1/split_inference.pb.h"

namespace spex {

// The served model with this id. InvalidArgument when `model_id` is empty;
// FailedPrecondition naming the served ids when none matches.
absl::StatusOr<const ServedModel*> ResolveModel(const ServedModels& served,
                                                const std::string& model_id);

// Validates `request` against `model` and decodes it into a job (without
// `done`). InvalidArgument naming the problem: from_layer other than 0 or
// split_after, a width other than the model's at from_layer, no samples or
// more than `max_samples`, top_k above the class count, a payload that does
// not decode (garbage, wrong size, NaN/Inf).
absl::StatusOr<InferenceJob> PrepareSplitJob(const v1::InferRequest& request,
                                             const ServedModel& model,
                                             int max_samples);

// Per sample: label, confidence (max probability) and the top_k classes,
// most probable first (ties: lower class index first).
void FillResults(const std::vector<float>& probabilities, int classes,
                 int top_k, v1::InferResponse* response);

// What GetModelInfo reports for one model.
v1::ModelInfo DescribeModel(const ServedModel& served, int max_samples);

}  // namespace spex

#endif  // SPEX_CLOUD_SERVICE_SPLIT_REQUEST_H_
