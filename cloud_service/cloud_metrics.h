// The cloud service's Prometheus metrics, created once and looked up once:
// prometheus-cpp's Family::Add costs a hash and a lock per call, so each
// labelled child is found once and its pointer kept. Names follow
// Prometheus conventions (base units, `_total` counters) and latencies are
// histograms, which aggregate across replicas where summaries cannot.
//
// Thread-safe: every method may be called from any thread.
#ifndef SPEX_CLOUD_SERVICE_CLOUD_METRICS_H_
#define SPEX_CLOUD_SERVICE_CLOUD_METRICS_H_

#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/rpc/stage_client_metrics.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "spex/v1/split_inference.pb.h"

namespace spex {

class CloudMetrics : public StageClientMetrics {
 public:
  // `version` goes into spex_build_info. `middle_stage`: this replica has a
  // next stage, and exports the link's metrics (forwarded samples and
  // bytes, the next stage's round trip, whether it is up); a last stage
  // does not, so that their alerts concern middle stages only.
  explicit CloudMetrics(const std::string& version, bool middle_stage = false);

  // What an Exposer serves.
  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

  // One finished request: its model's name ("unknown" when none matched),
  // its status code, the samples it carried and its time from arrival to
  // answer.
  void RecordRequest(const std::string& model, absl::StatusCode code,
                     int samples, double seconds);
  void AddReceivedBytes(int64_t bytes) { received_bytes_->Increment(bytes); }
  // One batch run by a worker: its samples and its compute time.
  void RecordBatch(int samples, double seconds);
  void AddInflight(int delta) { inflight_->Increment(delta); }
  void SetModelsLoaded(int count) { models_loaded_->Set(count); }
  void AddModelLoadError() { model_load_errors_->Increment(); }
  void SetQueuedSamples(int samples) { queued_samples_->Set(samples); }

  // A chain's stage. `samples` answered here: by `exit` (the model's, from
  // 1; 0: the final classifier), in place of the next stage when `reason`
  // is set.
  void RecordStageAnswer(const std::string& model, int stage, int exit,
                         v1::FallbackReason reason, int samples = 1);
  // Samples sent on to the next stage (middle stages only, as the link's
  // metrics below).
  void AddForwarded(int samples) { forwarded_samples_->Increment(samples); }
  // An exit's threshold in force.
  void SetExitThreshold(const std::string& model, int exit, double threshold);
  // A middle stage's accuracy objective: an audit's outcome and bytes, and
  // the objective's state (the input changes detected so far).
  void RecordAudit(bool agree) {
    (agree ? audit_agree_ : audit_disagree_)->Increment();
  }
  void AddAuditBytes(int64_t bytes) { audit_bytes_->Increment(bytes); }
  void SetAccuracy(double objective, double estimate, double upper,
                   double audit_rate, int64_t changes);
  // StageClientMetrics: the link to the next stage.
  void SetOffloadsPending(size_t pending) override {
    forwards_pending_->Set(static_cast<double>(pending));
  }
  void AddOffloadBytes(int64_t bytes) override {
    forwarded_bytes_->Increment(static_cast<double>(bytes));
  }
  void AddNextStageError(absl::StatusCode code) override;
  void ObserveNextStageRtt(double seconds) override {
    next_stage_rtt_->Observe(seconds);
  }
  void SetNextStageUp(bool up) override { next_stage_up_->Set(up ? 1 : 0); }
  void SetModelMismatch(bool mismatch) override {
    next_stage_mismatch_->Set(mismatch ? 1 : 0);
  }

 private:
  prometheus::Counter& RequestCounter(const std::string& model,
                                      absl::StatusCode code);
  prometheus::Counter& SampleCounter(const std::string& model);

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Counter>& samples_;
  prometheus::Histogram* request_seconds_;
  prometheus::Histogram* inference_seconds_;
  prometheus::Histogram* batch_size_;
  prometheus::Gauge* inflight_;
  prometheus::Counter* received_bytes_;
  prometheus::Gauge* models_loaded_;
  prometheus::Counter* model_load_errors_;
  prometheus::Gauge* queued_samples_;
  prometheus::Family<prometheus::Counter>& stage_answers_;
  prometheus::Family<prometheus::Counter>& stage_fallbacks_;
  prometheus::Family<prometheus::Gauge>& exit_thresholds_;
  prometheus::Family<prometheus::Counter>& next_stage_errors_;
  prometheus::Counter* forwarded_samples_ = nullptr;
  prometheus::Counter* forwarded_bytes_ = nullptr;
  prometheus::Gauge* forwards_pending_ = nullptr;
  prometheus::Histogram* next_stage_rtt_ = nullptr;
  prometheus::Gauge* next_stage_up_ = nullptr;
  prometheus::Gauge* next_stage_mismatch_ = nullptr;
  prometheus::Counter* audit_agree_ = nullptr;
  prometheus::Counter* audit_disagree_ = nullptr;
  prometheus::Counter* audit_bytes_ = nullptr;
  prometheus::Gauge* audit_rate_ = nullptr;
  prometheus::Gauge* accuracy_objective_ = nullptr;
  prometheus::Gauge* loss_estimate_ = nullptr;
  prometheus::Gauge* loss_upper_ = nullptr;
  prometheus::Counter* input_changes_ = nullptr;

  absl::Mutex mutex_;
  std::map<std::pair<std::string, absl::StatusCode>, prometheus::Counter*>
      request_counters_ ABSL_GUARDED_BY(mutex_);
  std::map<std::string, prometheus::Counter*> sample_counters_
      ABSL_GUARDED_BY(mutex_);
  std::map<std::tuple<std::string, int, int>, prometheus::Counter*>
      stage_answer_counters_ ABSL_GUARDED_BY(mutex_);
  std::map<int, prometheus::Counter*> stage_fallback_counters_
      ABSL_GUARDED_BY(mutex_);
  std::map<std::pair<std::string, int>, prometheus::Gauge*> threshold_gauges_
      ABSL_GUARDED_BY(mutex_);
  std::map<absl::StatusCode, prometheus::Counter*> next_stage_error_counters_
      ABSL_GUARDED_BY(mutex_);
};

}  // namespace spex

#endif  // SPEX_CLOUD_SERVICE_CLOUD_METRICS_H_
