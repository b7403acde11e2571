#include "cloud_service/inference_engine.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_format.h"
#include "cloud_service/cloud_metrics.h"
#include "common/kernels/aligned_vector.h"

namespace spex {
namespace {

// A worker's scratch for one model part: the part's workspace and the
// feature-major input and output tiles. Kept across batches; a worker holds
// a few, for the parts it ran last.
struct PartScratch {
  std::shared_ptr<const Model> model;
  const ModelPart* part = nullptr;
  std::unique_ptr<Workspace> workspace;
  AlignedVector<float> x;      // input_width x kMaxBatchColumns
  AlignedVector<float> y;      // output_width x kMaxBatchColumns
  AlignedVector<float> exits;  // exits x classes x kMaxBatchColumns
  // Whether a feature-major pass pays for this part (see RunPass).
  bool batch_pays = true;
};

constexpr size_t kScratchPerWorker = 4;

PartScratch& ScratchFor(const InferenceJob& job,
                        std::vector<std::unique_ptr<PartScratch>>* cache) {
  for (size_t i = 0; i < cache->size(); ++i) {
    if ((*cache)[i]->part == job.part) {
      std::rotate(cache->begin(), cache->begin() + i, cache->begin() + i + 1);
      return *cache->front();
    }
  }
  if (cache->size() == kScratchPerWorker) cache->pop_back();
  auto scratch = std::make_unique<PartScratch>();
  scratch->model = job.model;
  scratch->part = job.part;
  // A part that starts on a feature map runs convolutions, whose batch
  // path (the columns of every sample's patches side by side) costs more per
  // sample than one sample at a time at every batch size measured: the
  // default CNN's tail 33 us per sample in a pass of 64 against 21 us alone
  // (spex_tail_batch_bench, docs/BENCHMARKS.md). Vector parts batch.
  scratch->batch_pays = !job.part->layers().front()->in_shape().is_map();
  scratch->workspace =
      std::make_unique<Workspace>(*job.part, size_t{kMaxBatchColumns});
  scratch->x.resize(static_cast<size_t>(job.part->input_width()) *
                    kMaxBatchColumns);
  scratch->y.resize(static_cast<size_t>(job.part->output_width()) *
                    kMaxBatchColumns);
  scratch->exits.resize(job.part->exits().size() *
                        static_cast<size_t>(job.part->exit_width()) *
                        kMaxBatchColumns);
  cache->insert(cache->begin(), std::move(scratch));
  return *cache->front();
}

// Up to this many samples run one at a time through the single-sample
// path: a feature-major pass costs about the same for 1 to 16 columns, and
// on the default model's tail it cost more than two single samples
// (docs/BENCHMARKS.md, "When batching pays").
constexpr size_t kMaxSingleSamples = 2;

// Up to 64 samples through one feature-major pass (or one at a time when
// there are very few). `rows` are the batch's samples, each a pointer to its
// input_width values; outputs go to out[s] (output_width values each) and,
// when `exit_out` is not empty, the exits' probabilities to exit_out[s].
void RunPass(PartScratch& scratch, const std::vector<const float*>& rows,
             const std::vector<float*>& out,
             const std::vector<float*>& exit_out) {
  const ModelPart& part = *scratch.part;
  const bool exits = !exit_out.empty();
  const size_t exit_values = part.exits().size() * part.exit_width();
  const size_t batch = rows.size();
  if (batch <= kMaxSingleSamples || !scratch.batch_pays) {
    for (size_t s = 0; s < batch; ++s) {
      part.Forward(rows[s], out[s], exits ? exit_out[s] : nullptr,
                   scratch.workspace.get());
    }
    return;
  }
  // Sample-major rows into the part's batch layout (model/layer.h): for a
  // vector, value i of sample s at x[i * 64 + s]; for a feature map of P
  // pixels, channel c of sample s at x + c * 64 * P + s * P.
  const ActivationShape& in_shape = part.layers().front()->in_shape();
  const ActivationShape& out_shape = part.layers().back()->out_shape();
  const size_t x_stride = kMaxBatchColumns * in_shape.pixels();
  const size_t y_stride = kMaxBatchColumns * out_shape.pixels();
  float* x = scratch.x.data();
  for (size_t s = 0; s < batch; ++s) {
    PutSampleInBatch(in_shape, s, rows[s], x, x_stride);
  }
  // The batch kernels run 64 columns as one unrolled tile but the rest in
  // masked 16-column steps, each about as costly as the whole tile: beyond
  // 32 columns a full tile is cheaper (the default model's tail: 273 us for
  // 64 columns against 347 us for 48; docs/BENCHMARKS.md). The columns past
  // the batch hold earlier samples' finite values; their outputs are unused.
  const size_t columns =
      batch > kMaxBatchColumns / 2 ? size_t{kMaxBatchColumns} : batch;
  part.ForwardBatch(columns, x, x_stride, scratch.y.data(), y_stride,
                    exits ? scratch.exits.data() : nullptr, kMaxBatchColumns,
                    scratch.workspace.get());
  for (size_t s = 0; s < batch; ++s) {
    TakeSampleFromBatch(out_shape, s, scratch.y.data(), y_stride, out[s]);
  }
  if (!exits) return;
  const float* e = scratch.exits.data();
  for (size_t s = 0; s < batch; ++s) {
    for (size_t r = 0; r < exit_values; ++r) {
      exit_out[s][r] = e[r * kMaxBatchColumns + s];
    }
  }
}

}  // namespace

InferenceEngine::InferenceEngine(const InferenceEngineOptions& options,
                                 CloudMetrics* metrics)
    : options_(options), metrics_(metrics) {
  const int workers = std::max(1, options_.workers);
  for (int i = 0; i < workers; ++i) {
    workers_.emplace_back([this] { WorkerLoop(); });
  }
}

InferenceEngine::~InferenceEngine() {
  {
    absl::MutexLock lock(&mutex_);
    stopping_ = true;
  }
  for (std::thread& worker : workers_) worker.join();
}

absl::Status InferenceEngine::Submit(InferenceJob job) {
  absl::MutexLock lock(&mutex_);
  if (stopping_) {
    return absl::UnavailableError("the server is shutting down");
  }
  if (queued_samples_ + job.samples > options_.max_queued_samples) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "overloaded: %d samples already wait for inference (limit %d); retry "
        "later or add replicas",
        queued_samples_, options_.max_queued_samples));
  }
  queued_samples_ += job.samples;
  queue_.push_back({std::move(job), absl::Now()});
  if (metrics_ != nullptr) metrics_->SetQueuedSamples(queued_samples_);
  return absl::OkStatus();
}

int InferenceEngine::queued_samples() const {
  absl::MutexLock lock(&mutex_);
  return queued_samples_;
}

std::vector<InferenceJob> InferenceEngine::NextBatch() {
  std::vector<InferenceJob> batch;
  const ModelPart* part = queue_.front().job.part;
  const bool run_exits = queue_.front().job.run_exits;
  const absl::Time deadline = queue_.front().arrived + options_.batch_window;
  int samples = 0;
  while (true) {
    // Take, oldest first, the jobs for this part that fit in one pass; a job
    // of more than 64 samples runs alone, in several passes.
    for (auto it = queue_.begin(); it != queue_.end();) {
      const int s = it->job.samples;
      const bool fits = samples == 0 || samples + s <= kMaxBatchColumns;
      if (it->job.part == part && it->job.run_exits == run_exits && fits) {
        samples += s;
        queued_samples_ -= s;
        batch.push_back(std::move(it->job));
        it = queue_.erase(it);
        if (samples >= kMaxBatchColumns) break;
      } else {
        ++it;
      }
    }
    if (samples >= kMaxBatchColumns || stopping_ || absl::Now() >= deadline) {
      if (metrics_ != nullptr) metrics_->SetQueuedSamples(queued_samples_);
      return batch;
    }
    // Sleep until enough samples wait to fill the pass (or the deadline):
    // waking on every arrival would cost a context switch per request. The
    // queue must also have grown since the scan, or samples queued for
    // another model part would wake this worker again and again.
    const int missing = kMaxBatchColumns - samples;
    const size_t scanned = queue_.size();
    auto enough = [this, missing,
                   scanned]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
      return (queued_samples_ >= missing && queue_.size() > scanned) ||
             stopping_;
    };
    mutex_.AwaitWithDeadline(absl::Condition(&enough), deadline);
  }
}

void InferenceEngine::WorkerLoop() {
  std::vector<std::unique_ptr<PartScratch>> cache;
  std::vector<const float*> rows;
  std::vector<float*> out;
  std::vector<float*> exit_out;
  while (true) {
    std::vector<InferenceJob> batch;
    {
      absl::MutexLock lock(&mutex_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
        return !queue_.empty() || stopping_;
      };
      mutex_.Await(absl::Condition(&ready));
      if (queue_.empty()) return;  // stopping, nothing left
      batch = NextBatch();
    }
    PartScratch& scratch = ScratchFor(batch.front(), &cache);
    const int width = scratch.part->input_width();
    const int classes = scratch.part->output_width();
    const bool run_exits =
        batch.front().run_exits && !scratch.part->exits().empty();
    const size_t exit_values =
        run_exits ? scratch.part->exits().size() * scratch.part->exit_width()
                  : 0;
    std::vector<JobOutput> results(batch.size());
    rows.clear();
    out.clear();
    exit_out.clear();
    for (size_t j = 0; j < batch.size(); ++j) {
      const size_t samples = static_cast<size_t>(batch[j].samples);
      results[j].values.resize(samples * classes);
      results[j].exit_probabilities.resize(samples * exit_values);
      for (size_t s = 0; s < samples; ++s) {
        rows.push_back(batch[j].inputs.data() + s * width);
        out.push_back(results[j].values.data() + s * classes);
        if (run_exits) {
          exit_out.push_back(results[j].exit_probabilities.data() +
                             s * exit_values);
        }
      }
    }
    // Passes of at most 64 samples (several only for one large job).
    for (size_t begin = 0; begin < rows.size(); begin += kMaxBatchColumns) {
      const size_t end = std::min(rows.size(), begin + kMaxBatchColumns);
      const std::vector<const float*> pass_rows(rows.begin() + begin,
                                                rows.begin() + end);
      const std::vector<float*> pass_out(out.begin() + begin,
                                         out.begin() + end);
      const std::vector<float*> pass_exits =
          run_exits ? std::vector<float*>(exit_out.begin() + begin,
                                          exit_out.begin() + end)
                    : std::vector<float*>();
      const absl::Time start = absl::Now();
      RunPass(scratch, pass_rows, pass_out, pass_exits);
      if (metrics_ != nullptr) {
        metrics_->RecordBatch(static_cast<int>(end - begin),
                              absl::ToDoubleSeconds(absl::Now() - start));
      }
    }
    for (size_t j = 0; j < batch.size(); ++j) {
      batch[j].done(std::move(results[j]));
    }
  }
}

}  // namespace spex
