// The cloud service's logic without gRPC: requests in, answers out, through
// the model registry and the inference engine, with the metrics recorded in
// one place. The gRPC services (cloud_grpc_services.h) are thin adapters over
// it, and tests drive it directly.
//
// Thread-safe. Every callback passed in is called exactly once: inline when
// the request is refused before inference, else on an engine worker.
#ifndef SPEX_CLOUD_SERVICE_CLOUD_CORE_H_
#define SPEX_CLOUD_SERVICE_CLOUD_CORE_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cloud_service/cloud_metrics.h"
#include "cloud_service/inference_engine.h"
#include "cloud_service/model_registry.h"
#include "inference/open_inference_grpc.pb.h"
#include "spex/v1/split_inference.pb.h"

namespace spex {

struct CloudCoreOptions {
  int max_samples_per_request = 1024;
  InferenceEngineOptions engine;
};

class CloudCore {
 public:
  using InferDone = std::function<void(absl::Status, v1::InferResponse)>;
  using ModelInferDone =
      std::function<void(absl::Status, inference::ModelInferResponse)>;

  // `registry` and `metrics` outlive the core.
  CloudCore(const CloudCoreOptions& options, ModelRegistry* registry,
            CloudMetrics* metrics);

  // One SplitInference request. The model is request.model_id(), or
  // `default_model_id` (the stream's or the call's metadata) when empty.
  // `done` gets OK and the results, or the error; the response always
  // carries the request_id.
  void Infer(const v1::InferRequest& request,
             const std::string& default_model_id, InferDone done);

  absl::StatusOr<v1::GetModelInfoResponse> GetModelInfo(
      const v1::GetModelInfoRequest& request) const;

  // The Open Inference Protocol (oip_request.h).
  void ModelInfer(const inference::ModelInferRequest& request,
                  ModelInferDone done);
  absl::StatusOr<inference::ModelMetadataResponse> ModelMetadata(
      const inference::ModelMetadataRequest& request) const;
  bool ModelReady(const inference::ModelReadyRequest& request) const;
  // Ready to serve: at least one model loaded, not draining.
  bool Ready() const;

  // Shutdown's first step: from now on every request is refused with
  // UNAVAILABLE; those already accepted still get their answers.
  void BeginDrain();
  // Waits until no accepted request is unanswered, or until `deadline`;
  // true when none is.
  bool WaitUntilIdle(absl::Time deadline);

  ModelRegistry& registry() { return *registry_; }

 private:
  friend class RequestRecord;
  // Refusal for requests that arrive while draining.
  absl::Status DrainingStatus() const;

  const CloudCoreOptions options_;
  ModelRegistry* const registry_;
  CloudMetrics* const metrics_;
  InferenceEngine engine_;

  mutable absl::Mutex mutex_;
  int inflight_ ABSL_GUARDED_BY(mutex_) = 0;
  bool draining_ ABSL_GUARDED_BY(mutex_) = false;
};

}  // namespace spex

#endif  // SPEX_CLOUD_SERVICE_CLOUD_CORE_H_
