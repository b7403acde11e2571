// The cloud service's logic without gRPC: SplitInference requests in,
// answers out, through the model registry and the inference engine, with
// the metrics recorded in one place. It owns the admission (admission.h:
// draining, requests in flight) and the engine; a middle stage of a chain
// routes its samples through MiddleStage (middle_stage.h), and the Open
// Inference Protocol is an adapter over the same parts (oip_inference.h).
// The gRPC services are thin layers over these, and tests drive them
// directly.
//
// Thread-safe. Every callback passed in is called exactly once: inline when
// the request is refused before inference, else on an engine worker.
#ifndef SPEX_CLOUD_SERVICE_CLOUD_CORE_H_
#define SPEX_CLOUD_SERVICE_CLOUD_CORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cloud_service/admission.h"
#include "cloud_service/cloud_metrics.h"
#include "cloud_service/inference_engine.h"
#include "cloud_service/middle_stage.h"
#include "cloud_service/model_registry.h"
#include "cloud_service/split_request.h"
#include "common/stage/next_stage.h"
#include "spex/v1/split_inference.pb.h"

namespace spex {

struct CloudCoreOptions {
  int max_samples_per_request = 1024;
  InferenceEngineOptions engine;
  StageOptions stage;
};

class CloudCore {
 public:
  // `registry`, `metrics` and `next` (null: no next stage, this is the
  // last) outlive the core.
  CloudCore(const CloudCoreOptions& options, ModelRegistry* registry,
            CloudMetrics* metrics, NextStages* next = nullptr);
  ~CloudCore();

  // One SplitInference request. The model is request.model_id(), or
  // `default_model_id` (the stream's or the call's metadata) when empty.
  // The last stage answers every sample with the final classifier; a
  // middle stage runs its layers and routes (middle_stage.h).
  void Infer(const v1::InferRequest& request,
             const std::string& default_model_id, InferDone done);

  absl::StatusOr<v1::GetModelInfoResponse> GetModelInfo(
      const v1::GetModelInfoRequest& request) const;

  // Ready to serve: at least one model loaded, not draining.
  bool Ready() const;

  // Shutdown's first step: from now on every request is refused with
  // UNAVAILABLE; those already accepted still get their answers.
  void BeginDrain() { admission_.BeginDrain(); }
  // Waits until no accepted request is unanswered, or until `deadline`;
  // true when none is.
  bool WaitUntilIdle(absl::Time deadline) {
    return admission_.WaitUntilIdle(deadline);
  }

  // The parts the protocol adapters share.
  const CloudCoreOptions& options() const { return options_; }
  ModelRegistry& registry() { return *registry_; }
  const ModelRegistry& registry() const { return *registry_; }
  CloudMetrics& metrics() { return *metrics_; }
  Admission& admission() { return admission_; }
  InferenceEngine& engine() { return engine_; }
  const StagePlacement& placement() const { return placement_; }

 private:
  const CloudCoreOptions options_;
  ModelRegistry* const registry_;
  CloudMetrics* const metrics_;
  const StagePlacement placement_;
  Admission admission_;
  // With a next stage. Declared before the engine, so destroyed after it:
  // the engine's workers finish their jobs, whose callbacks route through
  // the middle stage, before it goes.
  std::unique_ptr<MiddleStage> middle_;
  InferenceEngine engine_;
};

}  // namespace spex

#endif  // SPEX_CLOUD_SERVICE_CLOUD_CORE_H_
