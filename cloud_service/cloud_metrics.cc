#include "cloud_service/cloud_metrics.h"

#include "common/metrics/metric_helpers.h"
#include "common/rpc/answer_names.h"

namespace spex {

CloudMetrics::CloudMetrics(const std::string& version, bool middle_stage)
    : registry_(std::make_shared<prometheus::Registry>()),
      requests_(prometheus::BuildCounter()
                    .Name("spex_cloud_requests_total")
                    .Help("Requests answered, by model and gRPC status code")
                    .Register(*registry_)),
      samples_(prometheus::BuildCounter()
                   .Name("spex_cloud_samples_total")
                   .Help("Samples answered successfully, by model")
                   .Register(*registry_)),
      stage_answers_(
          prometheus::BuildCounter()
              .Name("spex_cloud_stage_answers_total")
              .Help("Samples answered by this stage, by model, stage and exit "
                    "(0: the final classifier)")
              .Register(*registry_)),
      stage_fallbacks_(
          prometheus::BuildCounter()
              .Name("spex_cloud_stage_fallbacks_total")
              .Help("Samples this stage answered in place of its next stage, "
                    "by reason")
              .Register(*registry_)),
      exit_thresholds_(prometheus::BuildGauge()
                           .Name("spex_cloud_exit_threshold")
                           .Help("Exit threshold in force, by model and exit")
                           .Register(*registry_)),
      next_stage_errors_(prometheus::BuildCounter()
                             .Name("spex_cloud_next_stage_errors_total")
                             .Help("Failed calls to the next stage, by gRPC "
                                   "status code")
                             .Register(*registry_)) {
  request_seconds_ = &prometheus::BuildHistogram()
                          .Name("spex_cloud_request_seconds")
                          .Help("Time from a request's arrival to its answer")
                          .Register(*registry_)
                          .Add({}, LatencyBuckets());
  inference_seconds_ = &prometheus::BuildHistogram()
                            .Name("spex_cloud_inference_seconds")
                            .Help("Compute time of one batch pass")
                            .Register(*registry_)
                            .Add({}, LatencyBuckets());
  batch_size_ = &prometheus::BuildHistogram()
                     .Name("spex_cloud_batch_size")
                     .Help("Samples per batch pass")
                     .Register(*registry_)
                     .Add({}, prometheus::Histogram::BucketBoundaries{
                                  1, 2, 4, 8, 16, 32, 64});
  inflight_ = &prometheus::BuildGauge()
                   .Name("spex_cloud_inflight")
                   .Help("Requests accepted and not yet answered")
                   .Register(*registry_)
                   .Add({});
  received_bytes_ = &prometheus::BuildCounter()
                         .Name("spex_cloud_received_bytes_total")
                         .Help("Serialized bytes of the requests received")
                         .Register(*registry_)
                         .Add({});
  models_loaded_ = &prometheus::BuildGauge()
                        .Name("spex_cloud_models_loaded")
                        .Help("Models currently served")
                        .Register(*registry_)
                        .Add({});
  model_load_errors_ = &prometheus::BuildCounter()
                            .Name("spex_cloud_model_load_errors_total")
                            .Help("Model files that failed to load")
                            .Register(*registry_)
                            .Add({});
  queued_samples_ = &prometheus::BuildGauge()
                         .Name("spex_cloud_queued_samples")
                         .Help("Samples waiting for an inference worker")
                         .Register(*registry_)
                         .Add({});
  AddBuildInfo(*registry_, "cloud", version);
  if (!middle_stage) return;
  forwarded_samples_ = &prometheus::BuildCounter()
                            .Name("spex_cloud_forwarded_samples_total")
                            .Help("Samples sent on to the next stage")
                            .Register(*registry_)
                            .Add({});
  forwarded_bytes_ = &prometheus::BuildCounter()
                          .Name("spex_cloud_forwarded_bytes_total")
                          .Help(
                              "Serialized bytes of the requests sent to the "
                              "next stage")
                          .Register(*registry_)
                          .Add({});
  forwards_pending_ = &prometheus::BuildGauge()
                           .Name("spex_cloud_forwards_pending")
                           .Help(
                               "Samples sent to the next stage and not yet "
                               "answered")
                           .Register(*registry_)
                           .Add({});
  next_stage_rtt_ = &prometheus::BuildHistogram()
                         .Name("spex_cloud_next_stage_rtt_seconds")
                         .Help("Round trip of a sample to the next stage")
                         .Register(*registry_)
                         .Add({}, LatencyBuckets());
  next_stage_up_ = &prometheus::BuildGauge()
                        .Name("spex_cloud_next_stage_up")
                        .Help(
                            "1 when a next-stage endpoint is connected and "
                            "serves the model")
                        .Register(*registry_)
                        .Add({});
  next_stage_mismatch_ = &prometheus::BuildGauge()
                              .Name("spex_cloud_next_stage_model_mismatch")
                              .Help(
                                  "1 when a next-stage endpoint serves "
                                  "another model")
                              .Register(*registry_)
                              .Add({});
  // A middle stage's accuracy objective (spex-cloud --accuracy_objective):
  // the edge's metrics of the same names, for this stage's exits.
  auto& audit = prometheus::BuildCounter()
                    .Name("spex_cloud_audit_total")
                    .Help(
                        "Samples this stage's exits answered, also sent on, "
                        "by whether the later stages agreed")
                    .Register(*registry_);
  audit_agree_ = &audit.Add({{"agree", "true"}});
  audit_disagree_ = &audit.Add({{"agree", "false"}});
  audit_bytes_ = &prometheus::BuildCounter()
                      .Name("spex_cloud_audit_bytes_total")
                      .Help(
                          "Serialized bytes of the audits sent on (also "
                          "counted in spex_cloud_forwarded_bytes_total)")
                      .Register(*registry_)
                      .Add({});
  audit_rate_ = &prometheus::BuildGauge()
                     .Name("spex_cloud_audit_rate")
                     .Help("Probability that an exit's answer is audited now")
                     .Register(*registry_)
                     .Add({});
  accuracy_objective_ =
      &prometheus::BuildGauge()
           .Name("spex_cloud_accuracy_objective")
           .Help(
               "--accuracy_objective: the loss against the later stages' "
               "answers to keep (0: none)")
           .Register(*registry_)
           .Add({});
  auto& loss = prometheus::BuildGauge()
                   .Name("spex_cloud_accuracy_loss")
                   .Help(
                       "Loss of this stage's exits against the later stages' "
                       "answers at the threshold in force: the estimate and "
                       "the upper bound kept within the objective")
                   .Register(*registry_);
  loss_estimate_ = &loss.Add({{"bound", "estimate"}});
  loss_upper_ = &loss.Add({{"bound", "upper"}});
  input_changes_ = &prometheus::BuildCounter()
                        .Name("spex_cloud_input_changes_total")
                        .Help(
                            "Changes of the inputs detected by the accuracy "
                            "objective")
                        .Register(*registry_)
                        .Add({});
}

void CloudMetrics::SetAccuracy(double objective, double estimate, double upper,
                               double audit_rate, int64_t changes) {
  accuracy_objective_->Set(objective);
  loss_estimate_->Set(estimate);
  loss_upper_->Set(upper);
  audit_rate_->Set(audit_rate);
  const double seen = input_changes_->Value();
  if (static_cast<double>(changes) > seen) {
    input_changes_->Increment(static_cast<double>(changes) - seen);
  }
}

void CloudMetrics::RecordStageAnswer(const std::string& model, int stage,
                                     int exit, v1::FallbackReason reason,
                                     int samples) {
  absl::MutexLock lock(&mutex_);
  prometheus::Counter*& answers = stage_answer_counters_[{model, stage, exit}];
  if (answers == nullptr) {
    answers = &stage_answers_.Add({{"model", model},
                                   {"stage", std::to_string(stage)},
                                   {"exit", std::to_string(exit)}});
  }
  answers->Increment(samples);
  if (reason == v1::FALLBACK_REASON_UNSPECIFIED) return;
  prometheus::Counter*& fallbacks = stage_fallback_counters_[reason];
  if (fallbacks == nullptr) {
    fallbacks = &stage_fallbacks_.Add({{"reason", FallbackReasonName(reason)}});
  }
  fallbacks->Increment(samples);
}

void CloudMetrics::SetExitThreshold(const std::string& model, int exit,
                                    double threshold) {
  absl::MutexLock lock(&mutex_);
  prometheus::Gauge*& gauge = threshold_gauges_[{model, exit}];
  if (gauge == nullptr) {
    gauge = &exit_thresholds_.Add(
        {{"model", model}, {"exit", std::to_string(exit)}});
  }
  gauge->Set(threshold);
}

void CloudMetrics::AddNextStageError(absl::StatusCode code) {
  absl::MutexLock lock(&mutex_);
  prometheus::Counter*& counter = next_stage_error_counters_[code];
  if (counter == nullptr) {
    counter = &next_stage_errors_.Add({{"code", StatusCodeLabel(code)}});
  }
  counter->Increment();
}

prometheus::Counter& CloudMetrics::RequestCounter(const std::string& model,
                                                  absl::StatusCode code) {
  absl::MutexLock lock(&mutex_);
  prometheus::Counter*& counter = request_counters_[{model, code}];
  if (counter == nullptr) {
    counter =
        &requests_.Add({{"model", model}, {"code", StatusCodeLabel(code)}});
  }
  return *counter;
}

prometheus::Counter& CloudMetrics::SampleCounter(const std::string& model) {
  absl::MutexLock lock(&mutex_);
  prometheus::Counter*& counter = sample_counters_[model];
  if (counter == nullptr) counter = &samples_.Add({{"model", model}});
  return *counter;
}

void CloudMetrics::RecordRequest(const std::string& model,
                                 absl::StatusCode code, int samples,
                                 double seconds) {
  RequestCounter(model, code).Increment();
  if (code == absl::StatusCode::kOk) SampleCounter(model).Increment(samples);
  request_seconds_->Observe(seconds);
}

void CloudMetrics::RecordBatch(int samples, double seconds) {
  batch_size_->Observe(samples);
  inference_seconds_->Observe(seconds);
}

}  // namespace spex
