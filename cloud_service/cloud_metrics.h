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
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace spex {

class CloudMetrics {
 public:
  // `version` goes into spex_build_info.
  explicit CloudMetrics(const std::string& version);

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

  absl::Mutex mutex_;
  std::map<std::pair<std::string, absl::StatusCode>, prometheus::Counter*>
      request_counters_ ABSL_GUARDED_BY(mutex_);
  std::map<std::string, prometheus::Counter*> sample_counters_
      ABSL_GUARDED_BY(mutex_);
};

}  // namespace spex

#endif  // SPEX_CLOUD_SERVICE_CLOUD_METRICS_H_
