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
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cloud_service/cloud_metrics.h"
#include "cloud_service/inference_engine.h"
#include "cloud_service/model_registry.h"
#include "cloud_service/next_stage.h"
#include "cloud_service/split_request.h"
#include "common/policy/route_chooser.h"
#include "common/policy/threshold_controller.h"
#include "inference/open_inference_grpc.pb.h"
#include "spex/v1/split_inference.pb.h"

namespace spex {

// This replica's part in a chain of stages (docs/ARCHITECTURE.md, "A chain
// of stages"). The defaults make the last stage: the cloud of an edge-cloud
// pair, which finishes every request.
struct StageOptions {
  // This replica's stage, from 1; 0: each model's last. has_next is set by
  // the core from its NextStage.
  StagePlacement placement;
  // When the next stage cannot answer a sample: false, run the remaining
  // layers here; true, answer with the deepest exit this stage ran (the
  // remaining layers when it ran none). Either way marked as a fallback
  // with the reason.
  bool fallback_to_exit = false;
  // Replaces the calibrated threshold of every exit this stage runs (an
  // uncalibrated exit then uses max softmax).
  std::optional<float> threshold;
  // How activations travel to the next stage.
  v1::Encoding encoding = v1::ENCODING_INT8;
  // Adaptive (spex-cloud --policy=adaptive): each sample no exit answered
  // goes where it costs least, the next stage or the remaining layers here
  // (route_chooser.h)...
  bool adaptive = false;
  // ...and, when set, the exits' threshold moves to hold a latency
  // objective for the answers given through this stage
  // (threshold_controller.h), starting from the first exit's.
  std::optional<ThresholdControllerOptions> controller;
};

struct CloudCoreOptions {
  int max_samples_per_request = 1024;
  InferenceEngineOptions engine;
  StageOptions stage;
};

class StageAnswer;

class CloudCore {
 public:
  using InferDone = std::function<void(absl::Status, v1::InferResponse)>;
  using ModelInferDone =
      std::function<void(absl::Status, inference::ModelInferResponse)>;

  // `registry`, `metrics` and `next` (null: no next stage, this is the
  // last) outlive the core.
  CloudCore(const CloudCoreOptions& options, ModelRegistry* registry,
            CloudMetrics* metrics, NextStage* next = nullptr);

  // One SplitInference request. The model is request.model_id(), or
  // `default_model_id` (the stream's or the call's metadata) when empty.
  // `done` gets OK and the results, or the error; the response always
  // carries the request_id. A middle stage runs its layers and exits,
  // answers the samples an exit is sure of, and sends the others on to its
  // next stage, relaying those answers; every sample of an accepted request
  // is answered.
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
  const StagePlacement& placement() const { return placement_; }

 private:
  friend class RequestRecord;
  friend class StageAnswer;
  // Refusal for requests that arrive while draining.
  absl::Status DrainingStatus() const;

  // A middle stage's samples after its layers: each is answered by the
  // first confident exit or sent on.
  void Route(const std::shared_ptr<StageAnswer>& answer);
  void Forward(const std::shared_ptr<StageAnswer>& answer, int sample);
  // The next stage could not answer `sample`: this stage does (fallback).
  void Fallback(const std::shared_ptr<StageAnswer>& answer, int sample,
                v1::FallbackReason reason);
  // Answers `sample` with the deepest exit this stage ran (it ran one).
  void AnswerWithLastExit(const std::shared_ptr<StageAnswer>& answer,
                          int sample, v1::FallbackReason reason);
  // Runs the layers after this stage's on `sample` here; `reason` says why.
  void ComputeRest(const std::shared_ptr<StageAnswer>& answer, int sample,
                   v1::FallbackReason reason);
  // The threshold an exit is held to on this stage.
  float ThresholdFor(const ExitBranchRuntime& exit) const;
  // Index in part.exits() of the first exit sure of these probabilities
  // (exits x classes values), or -1.
  int FirstConfidentExit(const ModelPart& part, const float* exit_probs) const;

  const CloudCoreOptions options_;
  ModelRegistry* const registry_;
  CloudMetrics* const metrics_;
  NextStage* const next_;
  const StagePlacement placement_;
  std::unique_ptr<RouteChooser> router_;            // adaptive only
  std::unique_ptr<ThresholdController> controller_;  // with an objective
  InferenceEngine engine_;

  mutable absl::Mutex mutex_;
  int inflight_ ABSL_GUARDED_BY(mutex_) = 0;
  bool draining_ ABSL_GUARDED_BY(mutex_) = false;
};

}  // namespace spex

#endif  // SPEX_CLOUD_SERVICE_CLOUD_CORE_H_
