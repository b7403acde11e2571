#include "tools/loadgen/load_generator.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"
#include "spex/v1/split_inference.grpc.pb.h"

namespace spex {
namespace {

using Clock = std::chrono::steady_clock;

// One stream: writes requests while fewer than `depth` are unanswered and
// `quota` is not used up, reads every answer, then half-closes.
class StreamLoad final
    : public grpc::ClientBidiReactor<v1::InferRequest, v1::InferResponse> {
 public:
  StreamLoad(v1::SplitInference::Stub* stub, const v1::InferRequest& request,
             int depth, int64_t requests)
      : request_(request), depth_(depth), quota_(requests) {
    sent_at_.resize(static_cast<size_t>(requests));
    latencies_us_.reserve(static_cast<size_t>(requests));
    // The model is named once, in the stream's metadata, as an edge agent
    // does: requests then carry no id.
    context_.AddMetadata("spex-model-id", request.model_id());
    request_.clear_model_id();
    stub->async()->InferStream(&context_, this);
    StartRead(&response_);
    {
      absl::MutexLock lock(&mutex_);
      MaybeWriteLocked();
    }
    StartCall();
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mutex_);
    writing_ = false;
    if (!ok) return;
    MaybeWriteLocked();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // the stream ended; OnDone follows
    const auto now = Clock::now();
    absl::MutexLock lock(&mutex_);
    const uint64_t id = response_.request_id();
    if (id < sent_at_.size()) {
      latencies_us_.push_back(
          std::chrono::duration<double, std::micro>(now - sent_at_[id])
              .count());
    }
    if (response_.has_status()) {
      ++errors_;
      if (first_error_.empty()) first_error_ = response_.status().message();
    }
    ++answered_;
    if (answered_ == quota_) {
      StartWritesDone();
      return;
    }
    StartRead(&response_);
    MaybeWriteLocked();
  }

  void OnDone(const grpc::Status& status) override {
    absl::MutexLock lock(&mutex_);
    status_ = status;
    done_ = true;
  }

  // Blocks until the stream is over.
  grpc::Status Await() {
    absl::MutexLock lock(&mutex_);
    mutex_.Await(absl::Condition(&done_));
    return status_;
  }

  int64_t answered() {
    absl::MutexLock lock(&mutex_);
    return answered_;
  }
  int64_t errors() {
    absl::MutexLock lock(&mutex_);
    return errors_;
  }
  std::string first_error() {
    absl::MutexLock lock(&mutex_);
    return first_error_;
  }
  std::vector<double> TakeLatencies() {
    absl::MutexLock lock(&mutex_);
    return std::move(latencies_us_);
  }

 private:
  void MaybeWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    if (writing_ || sent_ == quota_ || sent_ - answered_ >= depth_) return;
    request_.set_request_id(static_cast<uint64_t>(sent_));
    sent_at_[sent_] = Clock::now();
    ++sent_;
    writing_ = true;
    StartWrite(&request_);
  }

  grpc::ClientContext context_;
  v1::InferRequest request_;
  v1::InferResponse response_;
  const int depth_;
  const int64_t quota_;

  absl::Mutex mutex_;
  bool writing_ ABSL_GUARDED_BY(mutex_) = false;
  bool done_ ABSL_GUARDED_BY(mutex_) = false;
  int64_t sent_ ABSL_GUARDED_BY(mutex_) = 0;
  int64_t answered_ ABSL_GUARDED_BY(mutex_) = 0;
  int64_t errors_ ABSL_GUARDED_BY(mutex_) = 0;
  std::string first_error_ ABSL_GUARDED_BY(mutex_);
  grpc::Status status_ ABSL_GUARDED_BY(mutex_);
  std::vector<Clock::time_point> sent_at_ ABSL_GUARDED_BY(mutex_);
  std::vector<double> latencies_us_ ABSL_GUARDED_BY(mutex_);
};

double Percentile(std::vector<double>* values, double q) {
  if (values->empty()) return 0;
  const size_t k =
      std::min(values->size() - 1, static_cast<size_t>(q * values->size()));
  std::nth_element(values->begin(), values->begin() + k, values->end());
  return (*values)[k];
}

// One pass of `samples` samples over the streams.
absl::StatusOr<LoadResult> RunPass(
    const LoadOptions& options,
    const std::vector<std::unique_ptr<v1::SplitInference::Stub>>& stubs,
    int64_t samples) {
  const int per_request = std::max<int>(
      1, static_cast<int>(options.request.activation().samples()));
  const int64_t requests = std::max<int64_t>(1, samples / per_request);
  std::vector<std::unique_ptr<StreamLoad>> streams;
  const auto start = Clock::now();
  for (int s = 0; s < options.streams; ++s) {
    const int64_t share =
        requests / options.streams + (s < requests % options.streams ? 1 : 0);
    streams.push_back(std::make_unique<StreamLoad>(
        stubs[s].get(), options.request, options.depth,
        std::max<int64_t>(1, share)));
  }
  LoadResult result;
  std::vector<double> latencies;
  for (auto& stream : streams) {
    const grpc::Status status = stream->Await();
    if (!status.ok()) {
      return absl::UnavailableError(absl::StrFormat(
          "stream to %s failed: %s", options.target, status.error_message()));
    }
  }
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (auto& stream : streams) {
    result.requests += stream->answered();
    result.errors += stream->errors();
    if (result.first_error.empty()) result.first_error = stream->first_error();
    std::vector<double> l = stream->TakeLatencies();
    latencies.insert(latencies.end(), l.begin(), l.end());
  }
  result.samples = (result.requests - result.errors) * per_request;
  result.samples_per_s = result.samples / result.seconds;
  result.p50_us = Percentile(&latencies, 0.50);
  result.p99_us = Percentile(&latencies, 0.99);
  return result;
}

}  // namespace

absl::StatusOr<LoadResult> RunLoad(const LoadOptions& options) {
  std::vector<std::unique_ptr<v1::SplitInference::Stub>> stubs;
  for (int s = 0; s < options.streams; ++s) {
    grpc::ChannelArguments arguments;
    // A connection of its own per stream, as separate edge agents have.
    arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    stubs.push_back(v1::SplitInference::NewStub(grpc::CreateCustomChannel(
        options.target, grpc::InsecureChannelCredentials(), arguments)));
  }
  absl::StatusOr<LoadResult> warm_up =
      RunPass(options, stubs, std::max<int64_t>(options.samples / 10, 1));
  if (!warm_up.ok()) return warm_up.status();
  return RunPass(options, stubs, options.samples);
}

}  // namespace spex
