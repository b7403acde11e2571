#include "cloud_service/cloud_metrics.h"

#include "common/metrics/metric_helpers.h"

namespace spex {

CloudMetrics::CloudMetrics(const std::string& version)
    : registry_(std::make_shared<prometheus::Registry>()),
      requests_(prometheus::BuildCounter()
                    .Name("spex_cloud_requests_total")
                    .Help("Requests answered, by model and gRPC status code")
                    .Register(*registry_)),
      samples_(prometheus::BuildCounter()
                   .Name("spex_cloud_samples_total")
                   .Help("Samples answered successfully, by model")
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
  AddBuildInfo(*registry_, "cloud", version);
}

prometheus::Counter& CloudMetrics::RequestCounter(const std::string& model,
                                                  absl::StatusCode code) {
  absl::MutexLock lock(&mutex_);
  prometheus::Counter*& counter = request_counters_[{model, code}];
  if (counter == nullptr) {
    counter = &requests_.Add({{"model", model}, {"code", StatusCodeLabel(code)}});
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
