#include "edge_agent/edge_metrics.h"

#include "absl/status/status.h"
#include "common/metrics/metric_helpers.h"
#include "common/rpc/answer_names.h"

namespace spex {

EdgeMetrics::EdgeMetrics(const std::string& version)
    : registry_(std::make_shared<prometheus::Registry>()),
      cloud_errors_(prometheus::BuildCounter()
                        .Name("spex_edge_cloud_errors_total")
                        .Help("Failed cloud calls and streams, by gRPC code")
                        .Register(*registry_)) {
  auto& requests = prometheus::BuildCounter()
                       .Name("spex_edge_requests_total")
                       .Help("Answers given, by the path that answered")
                       .Register(*registry_);
  auto& latency = prometheus::BuildHistogram()
                      .Name("spex_edge_latency_seconds")
                      .Help("Time from acceptance to answer, by path")
                      .Register(*registry_);
  for (v1::AnswerPath path : {v1::ANSWER_PATH_LOCAL, v1::ANSWER_PATH_CLOUD,
                              v1::ANSWER_PATH_FALLBACK}) {
    requests_[path] = &requests.Add({{"path", AnswerPathName(path)}});
    latency_[path] =
        &latency.Add({{"path", AnswerPathName(path)}}, LatencyBuckets());
  }
  auto& fallbacks = prometheus::BuildCounter()
                        .Name("spex_edge_fallbacks_total")
                        .Help(
                            "Answers from the exit because the cloud could "
                            "not answer, by reason")
                        .Register(*registry_);
  for (int reason = 1; reason < static_cast<int>(fallbacks_.size()); ++reason) {
    fallbacks_[reason] = &fallbacks.Add(
        {{"reason",
          FallbackReasonName(static_cast<v1::FallbackReason>(reason))}});
  }
  auto& refused = prometheus::BuildCounter()
                      .Name("spex_edge_refused_total")
                      .Help(
                          "Requests refused before they were accepted, by "
                          "reason")
                      .Register(*registry_);
  refused_bad_input_ = &refused.Add({{"reason", "bad_input"}});
  refused_queue_full_ = &refused.Add({{"reason", "queue_full"}});
  refused_draining_ = &refused.Add({{"reason", "draining"}});
  refused_other_ = &refused.Add({{"reason", "other"}});
  head_seconds_ = &prometheus::BuildHistogram()
                       .Name("spex_edge_head_seconds")
                       .Help("Compute time of the head and exits, per sample")
                       .Register(*registry_)
                       .Add({}, LatencyBuckets());
  confidence_ = &prometheus::BuildHistogram()
                     .Name("spex_edge_confidence")
                     .Help("The exit's confidence per sample")
                     .Register(*registry_)
                     .Add({}, prometheus::Histogram::BucketBoundaries{
                                  0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85,
                                  0.9, 0.95, 0.98, 0.99, 1.0});
  offload_bytes_ = &prometheus::BuildCounter()
                        .Name("spex_edge_offload_bytes_total")
                        .Help("Serialized request bytes sent to the cloud")
                        .Register(*registry_)
                        .Add({});
  threshold_ = &prometheus::BuildGauge()
                    .Name("spex_edge_threshold")
                    .Help("The exit threshold in force")
                    .Register(*registry_)
                    .Add({});
  queue_depth_ = &prometheus::BuildGauge()
                      .Name("spex_edge_queue_depth")
                      .Help("Samples accepted and not yet answered")
                      .Register(*registry_)
                      .Add({});
  offloads_pending_ = &prometheus::BuildGauge()
                           .Name("spex_edge_offloads_pending")
                           .Help("Samples sent to the cloud, not answered")
                           .Register(*registry_)
                           .Add({});
  cloud_up_ = &prometheus::BuildGauge()
                   .Name("spex_edge_cloud_up")
                   .Help(
                       "1 when a cloud endpoint serving this model is "
                       "connected")
                   .Register(*registry_)
                   .Add({});
  cloud_rtt_ = &prometheus::BuildHistogram()
                    .Name("spex_edge_cloud_rtt_seconds")
                    .Help("Round trip of an offloaded sample")
                    .Register(*registry_)
                    .Add({}, LatencyBuckets());
  model_mismatch_ = &prometheus::BuildGauge()
                         .Name("spex_edge_model_mismatch")
                         .Help("1 when a cloud endpoint serves another model")
                         .Register(*registry_)
                         .Add({});
  auto& audit = prometheus::BuildCounter()
                    .Name("spex_edge_audit_total")
                    .Help(
                        "Locally answered samples also sent to the cloud, "
                        "by whether the exit and the full network agreed")
                    .Register(*registry_);
  audit_agree_ = &audit.Add({{"agree", "true"}});
  audit_disagree_ = &audit.Add({{"agree", "false"}});
  audit_bytes_ = &prometheus::BuildCounter()
                      .Name("spex_edge_audit_bytes_total")
                      .Help(
                          "Serialized bytes of the audits sent to the cloud "
                          "(also counted in spex_edge_offload_bytes_total)")
                      .Register(*registry_)
                      .Add({});
  audit_rate_ = &prometheus::BuildGauge()
                     .Name("spex_edge_audit_rate")
                     .Help("Probability that a local answer is audited now")
                     .Register(*registry_)
                     .Add({});
  accuracy_objective_ =
      &prometheus::BuildGauge()
           .Name("spex_edge_accuracy_objective")
           .Help(
               "--accuracy_objective: the loss against the full network to "
               "keep (0: none)")
           .Register(*registry_)
           .Add({});
  auto& loss = prometheus::BuildGauge()
                   .Name("spex_edge_accuracy_loss")
                   .Help(
                       "Loss against the full network at the threshold in "
                       "force, from audits and offloads: the estimate and "
                       "the upper bound kept within the objective")
                   .Register(*registry_);
  loss_estimate_ = &loss.Add({{"bound", "estimate"}});
  loss_upper_ = &loss.Add({{"bound", "upper"}});
  input_changes_ = &prometheus::BuildCounter()
                        .Name("spex_edge_input_changes_total")
                        .Help(
                            "Changes of the inputs detected by the accuracy "
                            "objective (the exit's confidence or agreement "
                            "moved)")
                        .Register(*registry_)
                        .Add({});
  AddBuildInfo(*registry_, "edge", version);
}

void EdgeMetrics::RecordAnswer(v1::AnswerPath path, v1::FallbackReason reason,
                               double seconds) {
  if (path <= 0 || path >= static_cast<int>(requests_.size())) return;
  requests_[path]->Increment();
  latency_[path]->Observe(seconds);
  if (path == v1::ANSWER_PATH_FALLBACK && reason > 0 &&
      reason < static_cast<int>(fallbacks_.size())) {
    fallbacks_[reason]->Increment();
  }
}

void EdgeMetrics::SetInputChanges(int64_t total) {
  const double seen = input_changes_->Value();
  if (total > seen) input_changes_->Increment(total - seen);
}

void EdgeMetrics::RecordRefusal(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
      refused_bad_input_->Increment();
      break;
    case absl::StatusCode::kResourceExhausted:
      refused_queue_full_->Increment();
      break;
    case absl::StatusCode::kUnavailable:
      refused_draining_->Increment();
      break;
    default:
      refused_other_->Increment();
  }
}

void EdgeMetrics::AddNextStageError(absl::StatusCode code) {
  absl::MutexLock lock(&mutex_);
  prometheus::Counter*& counter = cloud_error_counters_[code];
  if (counter == nullptr) {
    counter = &cloud_errors_.Add({{"code", StatusCodeLabel(code)}});
  }
  counter->Increment();
}

}  // namespace spex
