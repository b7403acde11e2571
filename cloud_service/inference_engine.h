// Runs inference jobs on worker threads of its own, batching them: samples
// that arrive within a short window for the same model part run as one
// feature-major pass of up to 64 columns (wider batches alias L1 sets in the
// sell8 kernels). gRPC's threads only submit jobs and never compute.
//
// Memory is bounded: at most `max_queued_samples` wait; beyond that Submit
// refuses with RESOURCE_EXHAUSTED instead of queueing.
//
// Thread-safe. Each job's `done` runs exactly once, on a worker thread (or
// never, if Submit refused the job).
#ifndef SPEX_CLOUD_SERVICE_INFERENCE_ENGINE_H_
#define SPEX_CLOUD_SERVICE_INFERENCE_ENGINE_H_

#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/model/model.h"

namespace spex {

class CloudMetrics;

// The widest feature-major pass.
inline constexpr int kMaxBatchColumns = 64;

// What a job computed, sample-major: each sample's part->output_width()
// values (the class probabilities when the part ends with the final
// classifier, else the activation a later stage continues from), and, when
// the job ran the exits, each sample's exits x classes probabilities.
struct JobOutput {
  std::vector<float> values;
  std::vector<float> exit_probabilities;
};

struct InferenceJob {
  std::shared_ptr<const Model> model;  // keeps `part` alive
  const ModelPart* part = nullptr;     // a segment of `model`
  // Also run the part's exits. Every job for the same part must agree (the
  // jobs of a batch run as one pass).
  bool run_exits = false;
  int samples = 0;
  // samples x part->input_width() values, sample-major.
  std::vector<float> inputs;
  // Called once with the job's output.
  std::function<void(JobOutput output)> done;
};

struct InferenceEngineOptions {
  int workers = 1;
  // How long a worker holding fewer than 64 samples waits for more after the
  // oldest queued job arrived. Zero: run what is queued at once (batches
  // still form from what piles up while the workers are busy).
  absl::Duration batch_window = absl::ZeroDuration();
  int max_queued_samples = 8192;
};

class InferenceEngine {
 public:
  // `metrics` may be null; otherwise it outlives the engine.
  InferenceEngine(const InferenceEngineOptions& options, CloudMetrics* metrics);
  // Runs every queued job, then joins the workers.
  ~InferenceEngine();

  InferenceEngine(const InferenceEngine&) = delete;
  InferenceEngine& operator=(const InferenceEngine&) = delete;

  // REQUIRES: job.part belongs to job.model; job.inputs holds
  // job.samples * part->input_width() finite values; job.samples >= 1.
  // ResourceExhausted when the queue is full (the job is dropped, `done`
  // not called).
  absl::Status Submit(InferenceJob job);

  // Samples waiting for a worker (the stage's queue depth).
  int queued_samples() const;

 private:
  struct Queued {
    InferenceJob job;
    absl::Time arrived;
  };

  void WorkerLoop();
  // Takes the oldest job and the queued jobs for the same part (and the
  // same run_exits) that fit in one pass, waiting up to the batch window
  // for more.
  std::vector<InferenceJob> NextBatch() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  const InferenceEngineOptions options_;
  CloudMetrics* const metrics_;

  mutable absl::Mutex mutex_;
  std::deque<Queued> queue_ ABSL_GUARDED_BY(mutex_);
  int queued_samples_ ABSL_GUARDED_BY(mutex_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;

  std::vector<std::thread> workers_;
};

}  // namespace spex

#endif  // SPEX_CLOUD_SERVICE_INFERENCE_ENGINE_H_
