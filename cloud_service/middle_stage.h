// A middle stage of a chain (spex-cloud --stage/--next): after its layers
// each sample is answered by the first confident exit (common/model/
// exit_rule.h) or sent on to the next stage through the NextStage seam, and
// relayed back; when the next stage cannot answer, this stage does (its
// deepest exit, or the remaining layers here: a fallback with the reason).
// Adaptive (--policy=adaptive), a sample no exit answered goes where it
// costs least, the next stage or the remaining layers here
// (route_chooser.h), and with a latency objective the exits' threshold
// moves to hold it (threshold_controller.h). With an accuracy objective
// the exits' threshold is the lowest whose loss against the answers of the
// stages after this one stays within it (accuracy_controller.h), from the
// samples sent on and a sampled fraction of the exits' own answers sent on
// as audits. Every sample of an accepted request is answered; the last one
// answered finishes the request.
//
// Thread-safe. No gRPC: tests put a CloudCore in process behind the seam.
#ifndef SPEX_CLOUD_SERVICE_MIDDLE_STAGE_H_
#define SPEX_CLOUD_SERVICE_MIDDLE_STAGE_H_

#include <memory>
#include <optional>
#include <random>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "cloud_service/admission.h"
#include "cloud_service/cloud_metrics.h"
#include "cloud_service/inference_engine.h"
#include "cloud_service/model_registry.h"
#include "cloud_service/split_request.h"
#include "common/policy/accuracy_controller.h"
#include "common/policy/route_chooser.h"
#include "common/policy/threshold_controller.h"
#include "common/stage/next_stage.h"
#include "spex/v1/split_inference.pb.h"

namespace spex {

// This replica's part in a chain of stages (docs/ARCHITECTURE.md, "A chain
// of stages"). The defaults make the last stage: the cloud of an edge-cloud
// pair, which finishes every request.
struct StageOptions {
  // This replica's stage, from 1; 0: each model's last. has_next is set by
  // the core from its next stages.
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
  // When set, the exits' loss against the later stages' answers is kept
  // within the objective (spex-cloud --accuracy_objective); with a latency
  // objective too, the higher of the two thresholds is in force.
  std::optional<AccuracyObjectiveOptions> accuracy;
};

class StageAnswer;

class MiddleStage {
 public:
  // `next`, `engine`, `metrics` outlive the stage; `served`: the models
  // served at start (where a controller's threshold starts).
  MiddleStage(const StageOptions& options, const StagePlacement& placement,
              int workers, NextStages* next, InferenceEngine* engine,
              CloudMetrics* metrics, const ServedModels& served);
  ~MiddleStage();

  // Makes `plan`'s job (which ends at this stage's cut) route its samples
  // once computed; `done` then gets the request's answers. `name` and
  // `stage`: the model's served name and this stage's number for it.
  void Attach(SplitJob* plan, RequestRecord record, std::string name, int stage,
              int top_k, v1::InferResponse response, InferDone done);

 private:
  // What the accuracy objective keeps of a sample's exit: its confidence
  // and label (-1: nothing to learn from the sample's final answer).
  struct ExitSeen {
    float confidence = 0.0f;
    int label = -1;
  };

  // Each sample: the first confident exit answers, or it goes on.
  void Route(const std::shared_ptr<StageAnswer>& answer);
  void Forward(const std::shared_ptr<StageAnswer>& answer, int sample,
               ExitSeen seen);
  // The next stage could not answer `sample`: this stage does.
  void Fallback(const std::shared_ptr<StageAnswer>& answer, int sample,
                ExitSeen seen, v1::FallbackReason reason);
  // Answers `sample` with the deepest exit this stage ran (it ran one).
  void AnswerWithLastExit(const std::shared_ptr<StageAnswer>& answer,
                          int sample, v1::FallbackReason reason);
  // Runs the layers after this stage's on `sample` here; `reason` says why.
  void ComputeRest(const std::shared_ptr<StageAnswer>& answer, int sample,
                   ExitSeen seen, v1::FallbackReason reason);
  // The accuracy objective: a label the later stages gave a sample whose
  // exit was `seen`, drawn with `probability`; whether to audit an exit's
  // answer; the audit itself (sent on, its answer only compared).
  void Learn(ExitSeen seen, const v1::SampleResult& result, double probability);
  bool DrawAudit(double rate);
  void Audit(const std::shared_ptr<StageAnswer>& answer, int sample,
             ExitSeen seen, double rate);
  // The accuracy objective's gauges.
  void NoteAccuracy();
  // The threshold given at this stage (the controller's, or --threshold);
  // none: the model's calibrated ones.
  std::optional<float> StageThreshold() const;

  const StageOptions options_;
  const int workers_;
  NextStages* const next_;
  InferenceEngine* const engine_;
  CloudMetrics* const metrics_;
  std::unique_ptr<RouteChooser> router_;             // adaptive only
  std::unique_ptr<ThresholdController> controller_;  // with an objective
  std::unique_ptr<AccuracyController> accuracy_;     // with an objective
  absl::Mutex audit_mutex_;
  std::mt19937_64 audit_random_ ABSL_GUARDED_BY(audit_mutex_);
};

}  // namespace spex

#endif  // SPEX_CLOUD_SERVICE_MIDDLE_STAGE_H_
