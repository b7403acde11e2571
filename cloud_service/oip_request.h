// The Open Inference Protocol (KServe v2) without gRPC: how spex models
// appear to its clients, and ModelInfer requests in and responses out.
// docs/SERVING.md is the user's view of the same rules.
//
// Each served model appears twice:
//   "<name>"       the whole model: input "input", UINT8 or FP32, shape
//                  [batch, <the model's input shape>] or [batch, values];
//   "<name>-tail"  the tail: input "activation", FP32, [batch, split width].
// Both answer "probabilities" (FP32 [batch, classes]) and "label" (INT64
// [batch]). The only version is the model_id ("" also accepted).
#ifndef SPEX_CLOUD_SERVICE_OIP_REQUEST_H_
#define SPEX_CLOUD_SERVICE_OIP_REQUEST_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cloud_service/inference_engine.h"
#include "cloud_service/model_registry.h"
#include "inference/open_inference_grpc.pb.h"

namespace spex {

inline constexpr char kOipTailSuffix[] = "-tail";

struct OipModel {
  const ServedModel* served = nullptr;
  bool tail = false;
  std::string name;  // as the protocol knows it
};

// NotFound naming the served names when `name` is unknown or `version` is
// neither empty nor the model's id.
absl::StatusOr<OipModel> ResolveOipModel(const ServedModels& served,
                                         const std::string& name,
                                         const std::string& version);

// Every name a client may call, whole models and tails.
std::vector<std::string> OipModelNames(const ServedModels& served);

inference::ModelMetadataResponse OipMetadata(const OipModel& model);

// Validates the request (its input tensor and the outputs it names) and
// decodes the input into a job (without `done`). InvalidArgument naming the
// tensor and the problem.
absl::StatusOr<InferenceJob> PrepareOipJob(
    const inference::ModelInferRequest& request, const OipModel& model,
    int max_samples);

// Fills outputs for `probabilities` (samples x classes): the requested ones,
// or both when none is named; raw_output_contents when the request sent raw
// inputs, typed contents otherwise. REQUIRES: PrepareOipJob accepted
// `request` (it checks the output names).
void FillOipResponse(const inference::ModelInferRequest& request,
                     const OipModel& model,
                     const std::vector<float>& probabilities,
                     inference::ModelInferResponse* response);

}  // namespace spex

#endif  // SPEX_CLOUD_SERVICE_OIP_REQUEST_H_
