// The edge agent as a library: an application links it to classify in
// process; spex-edge's gRPC service is a thin layer over it.
//
// Each accepted sample takes one of `max_queued` preallocated slots (so
// memory is bounded and the hot path allocates nothing for inputs), runs the
// head and the exits at once on the caller's thread (a LocalClassifier from
// a pool: a few microseconds, cheaper than waking another thread, which
// cost 70 us a sample on the benchmark machine), and is answered:
//   local     an exit was confident;
//   cloud     otherwise the split activation went to the cloud
//             (StageClient), which answered in time;
//   fallback  the cloud could not (unreachable, deadline, breaker open,
//             model mismatch, rejected, too many in flight): the deepest
//             exit answers, with the reason.
// Every accepted sample gets exactly one answer, also when the agent shuts
// down. A fraction of local answers is audited: sent to the cloud as well,
// in the background, to count how often the exit agrees with the full
// network.
//
// Thread-safe.
#ifndef SPEX_EDGE_AGENT_EDGE_AGENT_H_
#define SPEX_EDGE_AGENT_EDGE_AGENT_H_

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/model/model.h"
#include "common/rpc/stage_client.h"
#include "edge_agent/local_classifier.h"
#include "common/policy/route_chooser.h"
#include "common/policy/threshold_controller.h"
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
  // confident, else `fallback` with reason QUEUE_FULL.
  bool local_when_full = false;
  // Replaces every exit's calibrated threshold (the measure stays the
  // model's; an uncalibrated exit then uses max softmax).
  std::optional<float> threshold;
  v1::Encoding encoding = v1::ENCODING_INT8;
  // Fraction of local answers also sent to the cloud to audit the exit.
  double audit_fraction = 0.0;
  // When set, moves every exit's threshold to hold an offload budget or a
  // latency objective (threshold_controller.h), starting from the model's
  // (or `threshold`).
  std::optional<ThresholdControllerOptions> controller;
};

class EdgeAgent {
 public:
  using Done = std::function<void(v1::ClassifyResponse)>;

  // `cloud` (null: never offload; every sample that is not confident is a
  // fallback), `metrics` (may be null) and `skip` outlive the agent. `skip`
  // (may be null) reaches the stage after the cloud's in a chain: samples
  // go there instead, from the same cut, when the next stage refuses or
  // fails them before their deadline, or answers slower (route_chooser.h).
  EdgeAgent(std::shared_ptr<const Model> model, const EdgeAgentOptions& options,
            StageClient* cloud, EdgeMetrics* metrics,
            StageClient* skip = nullptr);
  // Drain().
  ~EdgeAgent();

  EdgeAgent(const EdgeAgent&) = delete;
  EdgeAgent& operator=(const EdgeAgent&) = delete;

  // Accepts one sample: `done` is then called exactly once with the answer,
  // before Classify returns (local) or later on a cloud thread. Refusals
  // (and `done` not called):
  // InvalidArgument naming a wrong size, a value that is not finite, a
  // missing input or a top_k above the class count; ResourceExhausted when
  // max_queued samples are in the agent; Unavailable once draining.
  absl::Status Classify(const v1::ClassifyRequest& request, Done done);

  // Refuses new samples and returns once every accepted one is answered.
  void Drain();

  const Model& model() const { return *model_; }
  // Samples accepted and not yet answered.
  int queued() const;
  // The first exit's threshold in force (moved by the controller, if any).
  double threshold() const;

 private:
  struct Slot {
    uint64_t request_id = 0;
    uint32_t top_k = 0;
    absl::Time accepted;
    Done done;
    // The deepest exit's answer, kept for a fallback.
    int exit = 0;  // which of the head's exits
    int exit_label = 0;
    float exit_probability = 0.0f;
    float* raw = nullptr;            // raw_width values
    float* exit_probabilities = nullptr;  // classes values
  };

  // A classifier with its own copy of the rules, from the pool.
  struct Runner {
    Runner(std::shared_ptr<const Model> model, std::vector<ExitRule> exit_rules,
           bool with_tail)
        : classifier(std::move(model), with_tail), rules(std::move(exit_rules)) {}
    LocalClassifier classifier;
    std::vector<ExitRule> rules;  // thresholds refreshed from the controller
  };
  std::unique_ptr<Runner> TakeRunner();
  void ReturnRunner(std::unique_ptr<Runner> runner);
  // Answers or offloads the slot's sample, as the placement says.
  void Process(int slot, Runner& runner);
  // Runs the head and exits on the slot's input and keeps the exit's answer
  // in the slot (for AnswerFromExit). False, with the sample answered by an
  // error, when no exit can answer.
  bool RunExits(int slot, Runner& runner, LocalResult* local);
  // Placement kCloud: sends the raw input. The reason when it cannot go.
  std::optional<v1::FallbackReason> OffloadInput(int slot);
  // Sends the slot's split activation to the next stage or, past it, to the
  // skip stage; the reason when it can go to neither.
  std::optional<v1::FallbackReason> OffloadSplit(
      int slot, const v1::ActivationPayload& payload);
  // One send, to the skip stage or the next; its outcome goes to
  // OnSplitOutcome, which answers the slot (or sends it on to the skip
  // stage when the next one failed it early).
  std::optional<v1::FallbackReason> SendSplit(
      int slot, bool skipping, const v1::ActivationPayload& payload);
  void OnSplitOutcome(int slot, bool skipping,
                      const std::shared_ptr<const v1::ActivationPayload>& kept,
                      OffloadOutcome outcome);
  // Queue full and local_when_full: the exit answers without a slot.
  void AnswerWithoutSlot(const v1::ClassifyRequest& request, const Done& done);
  void NoteThreshold();
  // The model's number (from 1) of the head's exit `head_exit`.
  uint32_t ExitNumber(int head_exit) const;
  // Answers from the exit's stored probabilities (local or fallback).
  void AnswerFromExit(int slot, v1::AnswerPath path, v1::FallbackReason reason);
  void Answer(int slot, v1::ClassifyResponse response, v1::AnswerPath path,
              v1::FallbackReason reason);
  void Audit(const LocalResult& local);

  const std::shared_ptr<const Model> model_;
  const EdgeAgentOptions options_;
  StageClient* const cloud_;
  EdgeMetrics* const metrics_;
  StageClient* const skip_;
  std::unique_ptr<RouteChooser> router_;  // with `skip_`
  const std::vector<ExitRule> rules_;
  const int raw_width_;
  const int classes_;
  std::unique_ptr<ThresholdController> controller_;
  std::atomic<double> logged_threshold_{0.0};

  // Slot storage, allocated once.
  std::vector<float> raw_values_;
  std::vector<float> exit_values_;
  std::vector<Slot> slots_;

  mutable absl::Mutex mutex_;
  std::vector<int> free_slots_ ABSL_GUARDED_BY(mutex_);
  int in_use_ ABSL_GUARDED_BY(mutex_) = 0;
  bool draining_ ABSL_GUARDED_BY(mutex_) = false;
  // Idle classifiers: as many are ever made as samples ran at once.
  std::vector<std::unique_ptr<Runner>> runners_ ABSL_GUARDED_BY(mutex_);
  std::mt19937_64 audit_random_ ABSL_GUARDED_BY(mutex_){std::random_device{}()};
};

}  // namespace spex

#endif  // SPEX_EDGE_AGENT_EDGE_AGENT_H_
