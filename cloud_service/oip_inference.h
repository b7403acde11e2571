// The Open Inference Protocol (KServe v2) without gRPC: an adapter over the
// cloud core's parts (its registry, admission and engine), so that a model
// answers the same through either protocol. See oip_request.h for how
// models appear to its clients.
//
// Thread-safe. ModelInfer's callback is called exactly once: inline when
// the request is refused before inference, else on an engine worker.
#ifndef SPEX_CLOUD_SERVICE_OIP_INFERENCE_H_
#define SPEX_CLOUD_SERVICE_OIP_INFERENCE_H_

#include <functional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cloud_service/cloud_core.h"
#include "inference/open_inference_grpc.pb.h"

namespace spex {

class OipInference {
 public:
  using ModelInferDone =
      std::function<void(absl::Status, inference::ModelInferResponse)>;

  // `core` outlives the adapter.
  explicit OipInference(CloudCore* core) : core_(core) {}

  void ModelInfer(const inference::ModelInferRequest& request,
                  ModelInferDone done);
  absl::StatusOr<inference::ModelMetadataResponse> ModelMetadata(
      const inference::ModelMetadataRequest& request) const;
  bool ModelReady(const inference::ModelReadyRequest& request) const;

 private:
  CloudCore* const core_;
};

}  // namespace spex

#endif  // SPEX_CLOUD_SERVICE_OIP_INFERENCE_H_
