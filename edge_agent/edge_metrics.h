// The edge agent's Prometheus metrics, each looked up once (prometheus-cpp's
// Family::Add costs a hash and a lock). Latencies are histograms so that
// percentiles aggregate across devices.
//
// Thread-safe.
#ifndef SPEX_EDGE_AGENT_EDGE_METRICS_H_
#define SPEX_EDGE_AGENT_EDGE_METRICS_H_

#include <array>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/rpc/stage_client_metrics.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "spex/v1/edge_inference.pb.h"

namespace spex {

class EdgeMetrics : public StageClientMetrics {
 public:
  explicit EdgeMetrics(const std::string& version);

  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

  // One answer: its path, fallback reason (for fallbacks) and latency.
  void RecordAnswer(v1::AnswerPath path, v1::FallbackReason reason,
                    double seconds);
  void ObserveHead(double seconds) { head_seconds_->Observe(seconds); }
  void ObserveConfidence(double confidence) {
    confidence_->Observe(confidence);
  }
  void AddOffloadBytes(int64_t bytes) override {
    offload_bytes_->Increment(bytes);
  }
  void SetThreshold(double threshold) { threshold_->Set(threshold); }
  void SetQueueDepth(int64_t depth) { queue_depth_->Set(depth); }
  // The cloud is the edge's next stage.
  void SetOffloadsPending(size_t pending) override {
    offloads_pending_->Set(static_cast<double>(pending));
  }
  void SetNextStageUp(bool up) override { cloud_up_->Set(up ? 1 : 0); }
  void ObserveNextStageRtt(double seconds) override {
    cloud_rtt_->Observe(seconds);
  }
  void AddNextStageError(absl::StatusCode code) override;
  void SetModelMismatch(bool mismatch) override {
    model_mismatch_->Set(mismatch);
  }
  // A request refused before it was accepted: by its status code, as the
  // reasons bad_input (INVALID_ARGUMENT), queue_full (RESOURCE_EXHAUSTED),
  // draining (UNAVAILABLE) and other.
  void RecordRefusal(absl::StatusCode code);
  void RecordAudit(bool agree) {
    (agree ? audit_agree_ : audit_disagree_)->Increment();
  }
  // An audit sent: its serialized activation's bytes (part of the offload
  // bytes too).
  void AddAuditBytes(int64_t bytes) { audit_bytes_->Increment(bytes); }
  void SetAuditRate(double rate) { audit_rate_->Set(rate); }
  // The accuracy objective (--accuracy_objective): its target, the loss
  // against the full network estimated at the threshold in force and the
  // bound it keeps, and the input changes detected so far.
  void SetAccuracyObjective(double objective) {
    accuracy_objective_->Set(objective);
  }
  void SetAccuracyLoss(double estimate, double upper) {
    loss_estimate_->Set(estimate);
    loss_upper_->Set(upper);
  }
  void SetInputChanges(int64_t total);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::array<prometheus::Counter*, 4> requests_{};   // by AnswerPath
  std::array<prometheus::Histogram*, 4> latency_{};  // by AnswerPath
  std::array<prometheus::Counter*, 7> fallbacks_{};  // by FallbackReason
  prometheus::Histogram* head_seconds_;
  prometheus::Histogram* confidence_;
  prometheus::Counter* offload_bytes_;
  prometheus::Gauge* threshold_;
  prometheus::Gauge* queue_depth_;
  prometheus::Gauge* offloads_pending_;
  prometheus::Gauge* cloud_up_;
  prometheus::Histogram* cloud_rtt_;
  prometheus::Family<prometheus::Counter>& cloud_errors_;
  prometheus::Gauge* model_mismatch_;
  prometheus::Counter* refused_bad_input_;
  prometheus::Counter* refused_queue_full_;
  prometheus::Counter* refused_draining_;
  prometheus::Counter* refused_other_;
  prometheus::Counter* audit_agree_;
  prometheus::Counter* audit_disagree_;
  prometheus::Counter* audit_bytes_;
  prometheus::Gauge* audit_rate_;
  prometheus::Gauge* accuracy_objective_;
  prometheus::Gauge* loss_estimate_;
  prometheus::Gauge* loss_upper_;
  prometheus::Counter* input_changes_;

  absl::Mutex mutex_;
  std::map<absl::StatusCode, prometheus::Counter*> cloud_error_counters_
      ABSL_GUARDED_BY(mutex_);
};

}  // namespace spex

#endif  // SPEX_EDGE_AGENT_EDGE_METRICS_H_
