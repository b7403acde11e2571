// The edge agent as a library: an application links it to classify in
// process; spex-edge's gRPC service is a thin layer over it.
//
// Each accepted sample takes one of `max_queued` preallocated slots (so
// memory is bounded and the hot path allocates nothing for inputs), waits
// for a worker, runs the head and the exits on that worker
// (LocalClassifier), and is answered:
//   local     an exit was confident;
//   cloud     otherwise the split activation went to the cloud
//             (CloudClient), which answered in time;
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
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/model/model.h"
#include "edge_agent/cloud_client.h"
#include "edge_agent/local_classifier.h"
#include "edge_agent/threshold_controller.h"
#include "spex/v1/edge_inference.pb.h"

namespace spex {

class EdgeMetrics;

struct EdgeAgentOptions {
  int workers = 1;
  // Samples accepted and not yet answered; beyond, Classify refuses with
  // RESOURCE_EXHAUSTED.
  int max_queued = 256;
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
  // fallback) and `metrics` (may be null) outlive the agent.
  EdgeAgent(std::shared_ptr<const Model> model, const EdgeAgentOptions& options,
            CloudClient* cloud, EdgeMetrics* metrics);
  // Drain(), then joins the workers.
  ~EdgeAgent();

  EdgeAgent(const EdgeAgent&) = delete;
  EdgeAgent& operator=(const EdgeAgent&) = delete;

  // Accepts one sample: `done` is then called exactly once, on a worker or
  // a cloud thread, with the answer. Refusals (and `done` not called):
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
    int exit_label = 0;
    float exit_probability = 0.0f;
    float* raw = nullptr;            // raw_width values
    float* exit_probabilities = nullptr;  // classes values
  };

  void WorkerLoop();
  // `rules` is the worker's copy, thresholds refreshed from the controller.
  void Process(int slot, LocalClassifier& classifier,
               std::vector<ExitRule>& rules);
  void NoteThreshold();
  // Answers from the exit's stored probabilities (local or fallback).
  void AnswerFromExit(int slot, v1::AnswerPath path, v1::FallbackReason reason);
  void Answer(int slot, v1::ClassifyResponse response, v1::AnswerPath path,
              v1::FallbackReason reason);
  void Audit(const LocalResult& local);

  const std::shared_ptr<const Model> model_;
  const EdgeAgentOptions options_;
  CloudClient* const cloud_;
  EdgeMetrics* const metrics_;
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
  std::deque<int> ready_ ABSL_GUARDED_BY(mutex_);  // waiting for a worker
  int in_use_ ABSL_GUARDED_BY(mutex_) = 0;
  bool draining_ ABSL_GUARDED_BY(mutex_) = false;
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  std::mt19937_64 audit_random_ ABSL_GUARDED_BY(mutex_){std::random_device{}()};

  std::vector<std::thread> workers_;
};

}  // namespace spex

#endif  // SPEX_EDGE_AGENT_EDGE_AGENT_H_
