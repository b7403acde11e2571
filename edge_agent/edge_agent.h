// The edge agent as a library: an application links it to classify in
// process; spex-edge's gRPC service is a thin layer over it.
//
// Each accepted sample takes a slot (slot_pool.h: memory is bounded and the
// hot path allocates nothing for inputs), runs the head and the exits at
// once on the caller's thread (a LocalClassifier from a pool: a few
// microseconds, cheaper than waking another thread, which cost 70 us a
// sample on the benchmark machine), and is answered:
//   local     an exit was confident (exit_policy.h says how sure is sure);
//   cloud     otherwise the split activation went on (offload_route.h) to
//             the next stage, which answered in time;
//   fallback  the next stage could not (unreachable, deadline, breaker
//             open, model mismatch, rejected, too many in flight): the
//             deepest exit answers, with the reason.
// Every accepted sample gets exactly one answer, also when the agent shuts
// down. A fraction of local answers is audited: sent on as well, in the
// background, to count how often the exit agrees with the full network.
//
// The next stage is the gRPC-free NextStage seam (common/stage/
// next_stage.h): spex-edge passes a StageClient, tests a stage in process.
//
// Thread-safe.
#ifndef SPEX_EDGE_AGENT_EDGE_AGENT_H_
#define SPEX_EDGE_AGENT_EDGE_AGENT_H_

#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/model/model.h"
#include "common/policy/accuracy_controller.h"
#include "common/policy/threshold_controller.h"
#include "common/stage/next_stage.h"
#include "edge_agent/exit_policy.h"
#include "edge_agent/local_classifier.h"
#include "edge_agent/offload_route.h"
#include "edge_agent/slot_pool.h"
#include "spex/v1/edge_inference.pb.h"

namespace spex {

class EdgeMetrics;

// Where the network runs (spex-edge --placement).
enum class Placement {
  // The head and exits on the device, the tail in the cloud (split
  // computing; the default).
  kSplit,
  // The whole network on the device: when no exit is confident the tail
  // runs here too, and nothing is offloaded (audits aside).
  kEdge,
  // The raw input to the cloud, which runs the whole network; the device
  // runs the head and exits only to answer when the cloud cannot.
  kCloud,
};

struct EdgeAgentOptions {
  Placement placement = Placement::kSplit;
  // When false, no exit answers while the placement's full path works: every
  // sample takes the whole network (the baselines of a comparison).
  bool early_exit = true;
  // Samples accepted and not yet answered (waiting for the cloud, mostly);
  // beyond, Classify refuses with RESOURCE_EXHAUSTED...
  int max_queued = 256;
  // ...or, when set, answers from the exit at once: `local` when it is
  // confident and exits answer (early_exit, not the cloud placement), else
  // `fallback` with reason QUEUE_FULL.
  bool local_when_full = false;
  // Replaces every exit's calibrated threshold (the measure stays the
  // model's; an uncalibrated exit then uses max softmax).
  std::optional<float> threshold;
  v1::Encoding encoding = v1::ENCODING_INT8;
  // Fraction of local answers also sent to the cloud to audit the exit
  // (without an accuracy objective, which sets its own).
  double audit_fraction = 0.0;
  // When set, keeps the loss against the full network within an objective
  // (accuracy_controller.h), learning from every offloaded sample's answer
  // and from audits at the rate it chooses; the threshold is at least the
  // one it allows.
  std::optional<AccuracyObjectiveOptions> accuracy;
  // When set, moves every exit's threshold to hold an offload budget or a
  // latency objective (threshold_controller.h), starting from the model's
  // (or `threshold`).
  std::optional<ThresholdControllerOptions> controller;
};

class EdgeAgent {
 public:
  using Done = Slot::Done;

  // `next` (null: never offload; every sample that is not confident is a
  // fallback), `metrics` (may be null) and `skip` outlive the agent. `skip`
  // (may be null) reaches the stage after the next one in a chain: samples
  // go there instead, from the same cut, when the next stage refuses or
  // fails them before their deadline, or answers slower (route_chooser.h).
  EdgeAgent(std::shared_ptr<const Model> model, const EdgeAgentOptions& options,
            NextStage* next, EdgeMetrics* metrics, NextStage* skip = nullptr);
  // Drain().
  ~EdgeAgent();

  EdgeAgent(const EdgeAgent&) = delete;
  EdgeAgent& operator=(const EdgeAgent&) = delete;

  // Accepts one sample: `done` is then called exactly once with the answer,
  // before Classify returns (local) or later on the next stage's thread.
  // Refusals (and `done` not called): InvalidArgument naming a wrong size,
  // a value that is not finite, a missing input or a top_k above the class
  // count; ResourceExhausted when max_queued samples are in the agent;
  // Unavailable once draining.
  absl::Status Classify(const v1::ClassifyRequest& request, Done done);

  // Refuses new samples and returns once every accepted one is answered.
  void Drain();

  const Model& model() const { return *model_; }
  // Samples accepted and not yet answered.
  int queued() const { return slots_.in_use(); }
  // The first exit's threshold in force (moved by the controller, if any).
  double threshold() const { return policy_.threshold(); }

 private:
  // A classifier with its own copy of the exit rules, from the pool.
  struct Runner {
    Runner(std::shared_ptr<const Model> model, std::vector<ExitRule> exit_rules,
           bool with_tail)
        : classifier(std::move(model), with_tail),
          rules(std::move(exit_rules)) {}
    LocalClassifier classifier;
    std::vector<ExitRule> rules;
    LocalResult result;  // the last sample's, valid until the next
  };
  std::unique_ptr<Runner> TakeRunner();
  void ReturnRunner(std::unique_ptr<Runner> runner);

  // The request's fields against the model; the one check of its input.
  absl::Status CheckRequest(const v1::ClassifyRequest& request) const;
  // Answers or sends on the slot's sample, as the placement says.
  void Process(Slot* slot, Runner& runner);
  // Runs the head and exits on the slot's input and keeps the deciding
  // exit's answer in the slot (for AnswerFromExit). Null, with the sample
  // answered by an error, when the model has no exit to answer with.
  const LocalResult* RunExits(Slot* slot, Runner& runner);
  // Placement kCloud: sends the raw input as it arrived. The reason when it
  // cannot go.
  std::optional<v1::FallbackReason> OffloadInput(Slot* slot);
  // The next stage's outcome for a sample sent on: its answer, or the
  // exit's with the reason.
  void OnOffloaded(Slot* slot, OffloadOutcome outcome);
  // Queue full and local_when_full: the exit answers without a slot.
  void AnswerWithoutSlot(const v1::ClassifyRequest& request, const Done& done);
  // Answers from the deciding exit's stored probabilities.
  void AnswerFromExit(Slot* slot, v1::AnswerPath path,
                      v1::FallbackReason reason, bool audited = false);
  void Answer(Slot* slot, v1::ClassifyResponse response, v1::AnswerPath path,
              v1::FallbackReason reason);
  // Whether the draw picks a local answer for an audit, at `rate`.
  bool DrawAudit(double rate);
  // Sends a local answer's split activation on, in the background: its
  // outcome counts the exit's agreement, and teaches the accuracy
  // objective (the answer had probability `rate` of an audit).
  void Audit(int label, float confidence, double rate,
             absl::Span<const float> split);
  // The full network's label for a sample whose exit label the slot keeps.
  void LearnLabel(const Slot& slot, int full_label);

  const std::shared_ptr<const Model> model_;
  const EdgeAgentOptions options_;
  NextStage* const next_;
  EdgeMetrics* const metrics_;
  const int classes_;
  ExitPolicy policy_;
  OffloadRoute route_;
  SlotPool slots_;

  absl::Mutex mutex_;
  // Idle classifiers: as many are ever made as samples ran at once.
  std::vector<std::unique_ptr<Runner>> runners_ ABSL_GUARDED_BY(mutex_);
  std::mt19937_64 audit_random_ ABSL_GUARDED_BY(mutex_){std::random_device{}()};
};

}  // namespace spex

#endif  // SPEX_EDGE_AGENT_EDGE_AGENT_H_
