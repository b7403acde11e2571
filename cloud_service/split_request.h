// spex.v1.SplitInference requests without gRPC: which model a request names,
// whether its activation fits that model, and how probabilities become an
// answer. Every refusal is an absl::Status whose message names the problem.
#ifndef SPEX_CLOUD_SERVICE_SPLIT_REQUEST_H_
#define SPEX_CLOUD_SERVICE_SPLIT_REQUEST_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cloud_service/inference_engine.h"
#include "cloud_service/model_registry.h"
#include "spex/v1/split_inference.pb.h"

namespace spex {

// Gets a SplitInference request's answer: OK and the results, or the error;
// the response always carries the request_id.
using InferDone = std::function<void(absl::Status, v1::InferResponse)>;

// The served model with this id. InvalidArgument when `model_id` is empty;
// FailedPrecondition naming the served ids when none matches.
absl::StatusOr<const ServedModel*> ResolveModel(const ServedModels& served,
                                                const std::string& model_id);

// A replica's place in a chain of stages.
struct StagePlacement {
  // This replica's stage, from 1 (the edge is stage 1); 0, or a number past
  // a model's stages: that model's last stage.
  int stage = 0;
  // A next stage is configured (spex-cloud --next).
  bool has_next = false;
};

// The stage number a replica placed at `placement` reports for `model`.
int StageNumber(const Model& model, const StagePlacement& placement);

// Where this replica's work on an activation from `from_layer` ends: the
// last layer of its stage when it has a next stage and the activation comes
// from before that layer, else the last layer of the network (a request
// that skipped a stage, or came from a stage that computed further, is
// continued here, and the last stage finishes everything).
int StageEndLayer(const Model& model, int from_layer,
                  const StagePlacement& placement);

struct SplitJob {
  InferenceJob job;  // without `done`
  int from_layer = 0;
  int to_layer = 0;  // the network's last layer: the job answers
};

// Validates `request` against `model` and decodes it into a job that runs
// the segment from the request's from_layer to StageEndLayer (and its exits
// when it ends before the last layer). InvalidArgument naming the problem:
// a from_layer that is not 0 or one of the model's cuts, a width other than
// the model's at from_layer, no samples or more than `max_samples`, top_k
// above the class count, a payload that does not decode (garbage, wrong
// size, NaN/Inf).
absl::StatusOr<SplitJob> PrepareSplitJob(const v1::InferRequest& request,
                                         const ServedModel& model,
                                         int max_samples,
                                         const StagePlacement& placement);

// Per sample: label, confidence (max probability) and the top_k classes,
// most probable first (ties: lower class index first), answered by the
// final classifier at `stage`.
void FillResults(const std::vector<float>& probabilities, int classes,
                 int top_k, int stage, v1::InferResponse* response);

// What GetModelInfo reports for one model.
v1::ModelInfo DescribeModel(const ServedModel& served, int max_samples,
                            const StagePlacement& placement);

}  // namespace spex

#endif  // SPEX_CLOUD_SERVICE_SPLIT_REQUEST_H_
