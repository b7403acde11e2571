#include "edge_agent/cloud_client.h"

#include <algorithm>
#include <deque>
#include <random>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "common/logging/log.h"
#include "edge_agent/circuit_breaker.h"
#include "edge_agent/edge_metrics.h"
#include "grpcpp/grpcpp.h"
#include "spex/v1/split_inference.grpc.pb.h"

namespace spex {
namespace {

// How long the model check at connect may take.
constexpr absl::Duration kModelCheckDeadline = absl::Seconds(2);
// The timer thread's longest sleep: deadlines are checked at least this
// often even when nothing else wakes it.
constexpr absl::Duration kTimerTick = absl::Milliseconds(5);

}  // namespace

class CloudClient::Impl {
 public:
  Impl(CloudClientOptions options, EdgeMetrics* metrics);
  ~Impl();

  std::optional<v1::FallbackReason> Offload(v1::ActivationPayload payload,
                                            uint32_t top_k, Done done);
  int ready_endpoints() const;

 private:
  class Stream;
  enum class EndpointState { kWaiting, kChecking, kReady, kMismatch };

  struct Endpoint {
    std::string target;
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<v1::SplitInference::Stub> stub;
    EndpointState state = EndpointState::kWaiting;
    absl::Time retry_at;                 // kWaiting / kMismatch
    absl::Duration backoff;
    std::unique_ptr<grpc::ClientContext> check_context;
    v1::GetModelInfoRequest check_request;
    v1::GetModelInfoResponse check_response;
    Stream* stream = nullptr;            // owned by itself until OnDone
    bool mismatch_logged = false;
  };

  struct Pending {
    Done done;
    size_t endpoint;
    uint32_t top_k;
    absl::Time sent;
    v1::ActivationPayload payload;  // cleared once written
  };

  struct Outcome {
    Done done;
    OffloadOutcome outcome;
  };

  // One endpoint's InferStream. Writes one request at a time (the callback
  // API allows one write in flight), coalescing the samples that queued
  // meanwhile; reads answers until the stream ends.
  class Stream final
      : public grpc::ClientBidiReactor<v1::InferRequest, v1::InferResponse> {
   public:
    Stream(Impl* impl, size_t endpoint) : impl_(impl), endpoint_(endpoint) {}
    void Start(v1::SplitInference::Stub* stub, const std::string& model_id,
               const std::string& token) {
      context_.AddMetadata("spex-model-id", model_id);
      if (!token.empty()) {
        context_.AddMetadata("authorization", "Bearer " + token);
      }
      stub->async()->InferStream(&context_, this);
      StartRead(&response_);
      StartCall();
    }
    void OnWriteDone(bool ok) override { impl_->OnWriteDone(endpoint_, ok); }
    void OnReadDone(bool ok) override {
      if (!ok) return;  // the stream is ending; OnDone follows
      impl_->OnAnswer(endpoint_, response_);
      StartRead(&response_);
    }
    void OnDone(const grpc::Status& status) override {
      Impl* impl = impl_;
      impl->OnStreamDone(endpoint_, status);
      // The client may be destroyed once the call is counted out: only
      // after this reactor (and its ClientContext) is gone.
      delete this;
      impl->CallEnded();
    }
    void Cancel() { context_.TryCancel(); }

    // Under the client's lock.
    std::deque<uint64_t> queued;  // sample ids waiting to be written
    bool writing = false;
    v1::InferRequest request;     // the write buffer
    // request_id -> the sample ids it carries, in payload order.
    absl::flat_hash_map<uint64_t, std::vector<uint64_t>> in_flight;

   private:
    Impl* const impl_;
    const size_t endpoint_;
    grpc::ClientContext context_;
    v1::InferResponse response_;
  };

  void TimerLoop();
  void StartCheckLocked(size_t e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void OnCheckDone(size_t e, grpc::Status status);
  void StartNextWriteLocked(size_t e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void OnWriteDone(size_t e, bool ok);
  void OnAnswer(size_t e, const v1::InferResponse& response);
  void OnStreamDone(size_t e, const grpc::Status& status);
  // A check or stream has released everything it holds of gRPC's.
  void CallEnded();
  void ScheduleRetryLocked(size_t e, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Removes a pending sample and returns its outcome (null done if gone).
  Outcome TakeLocked(uint64_t id, OffloadOutcome outcome)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void UpdateUpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // The breaker's bookkeeping, with one log line when it opens or closes.
  void RecordSuccessLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void RecordFailureLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  static void Deliver(std::vector<Outcome>& outcomes);

  const CloudClientOptions options_;
  EdgeMetrics* const metrics_;
  CircuitBreaker breaker_;

  mutable absl::Mutex mutex_;
  std::vector<Endpoint> endpoints_ ABSL_GUARDED_BY(mutex_);
  size_t next_endpoint_ ABSL_GUARDED_BY(mutex_) = 0;
  uint64_t next_id_ ABSL_GUARDED_BY(mutex_) = 1;
  absl::flat_hash_map<uint64_t, Pending> pending_ ABSL_GUARDED_BY(mutex_);
  // (deadline, sample id) in sending order: deadlines only grow.
  std::deque<std::pair<absl::Time, uint64_t>> deadlines_
      ABSL_GUARDED_BY(mutex_);
  int live_calls_ ABSL_GUARDED_BY(mutex_) = 0;  // checks + streams running
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  std::mt19937_64 jitter_ ABSL_GUARDED_BY(mutex_){std::random_device{}()};
  std::thread timer_;
};

CloudClient::Impl::Impl(CloudClientOptions options, EdgeMetrics* metrics)
    : options_(std::move(options)),
      metrics_(metrics),
      breaker_(options_.breaker_failures, options_.breaker_open_time) {
  absl::MutexLock lock(&mutex_);
  for (const std::string& target : options_.endpoints) {
    Endpoint endpoint;
    endpoint.target = target;
    grpc::ChannelArguments arguments;
    // Keep idle connections alive through NATs and notice dead peers.
    arguments.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
    arguments.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
    arguments.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    // Reconnection is this client's job (with its own backoff).
    arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
                     static_cast<int>(absl::ToInt64Milliseconds(
                         options_.backoff_initial)));
    arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
                     static_cast<int>(absl::ToInt64Milliseconds(
                         options_.backoff_max)));
    endpoint.channel = grpc::CreateCustomChannel(
        target, options_.credentials, arguments);
    endpoint.stub = v1::SplitInference::NewStub(endpoint.channel);
    endpoint.backoff = options_.backoff_initial;
    endpoints_.push_back(std::move(endpoint));
  }
  for (size_t e = 0; e < endpoints_.size(); ++e) StartCheckLocked(e);
  UpdateUpLocked();
  timer_ = std::thread([this] { TimerLoop(); });
}

CloudClient::Impl::~Impl() {
  {
    absl::MutexLock lock(&mutex_);
    stopping_ = true;
    for (Endpoint& endpoint : endpoints_) {
      if (endpoint.stream != nullptr) endpoint.stream->Cancel();
      if (endpoint.check_context != nullptr) endpoint.check_context->TryCancel();
    }
    auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
      return live_calls_ == 0;
    };
    mutex_.Await(absl::Condition(&idle));
  }
  timer_.join();
  std::vector<Outcome> outcomes;
  {
    absl::MutexLock lock(&mutex_);
    OffloadOutcome gone;
    gone.reason = v1::FALLBACK_REASON_CLOUD_UNREACHABLE;
    std::vector<uint64_t> ids;
    for (const auto& [id, pending] : pending_) ids.push_back(id);
    for (uint64_t id : ids) outcomes.push_back(TakeLocked(id, gone));
  }
  Deliver(outcomes);
}

void CloudClient::Impl::Deliver(std::vector<Outcome>& outcomes) {
  for (Outcome& o : outcomes) {
    if (o.done) o.done(std::move(o.outcome));
  }
  outcomes.clear();
}

CloudClient::Impl::Outcome CloudClient::Impl::TakeLocked(
    uint64_t id, OffloadOutcome outcome) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return {};
  Outcome taken{std::move(it->second.done), std::move(outcome)};
  taken.outcome.round_trip = absl::Now() - it->second.sent;
  pending_.erase(it);
  if (metrics_ != nullptr) metrics_->SetOffloadsPending(pending_.size());
  return taken;
}

void CloudClient::Impl::UpdateUpLocked() {
  if (metrics_ == nullptr) return;
  int ready = 0;
  bool mismatch = false;
  for (const Endpoint& endpoint : endpoints_) {
    ready += endpoint.state == EndpointState::kReady;
    mismatch = mismatch || endpoint.state == EndpointState::kMismatch;
  }
  metrics_->SetCloudUp(ready > 0);
  metrics_->SetModelMismatch(mismatch);
}

void CloudClient::Impl::RecordSuccessLocked() {
  const bool was_closed = breaker_.state() == CircuitBreaker::State::kClosed;
  breaker_.RecordSuccess();
  if (!was_closed) LogInfo("circuit breaker closed: offloading again");
}

void CloudClient::Impl::RecordFailureLocked(absl::Time now) {
  const bool was_open = breaker_.state() == CircuitBreaker::State::kOpen;
  breaker_.RecordFailure(now);
  if (!was_open && breaker_.state() == CircuitBreaker::State::kOpen) {
    LogWarning(absl::StrFormat(
        "circuit breaker open after %d failures: offloading paused for %s",
        options_.breaker_failures,
        absl::FormatDuration(options_.breaker_open_time)));
  }
}

void CloudClient::Impl::StartCheckLocked(size_t e) {
  Endpoint& endpoint = endpoints_[e];
  endpoint.state = EndpointState::kChecking;
  endpoint.check_context = std::make_unique<grpc::ClientContext>();
  endpoint.check_context->set_deadline(
      absl::ToChronoTime(absl::Now() + kModelCheckDeadline));
  if (!options_.token.empty()) {
    endpoint.check_context->AddMetadata("authorization",
                                        "Bearer " + options_.token);
  }
  endpoint.check_request.set_model_id(options_.model_id);
  endpoint.check_response.Clear();
  ++live_calls_;
  endpoint.stub->async()->GetModelInfo(
      endpoint.check_context.get(), &endpoint.check_request,
      &endpoint.check_response,
      [this, e](grpc::Status status) { OnCheckDone(e, std::move(status)); });
}

void CloudClient::Impl::OnCheckDone(size_t e, grpc::Status status) {
  absl::MutexLock lock(&mutex_);
  --live_calls_;
  Endpoint& endpoint = endpoints_[e];
  const absl::Time now = absl::Now();
  if (stopping_) return;
  const bool matches =
      status.ok() && endpoint.check_response.models_size() == 1 &&
      endpoint.check_response.models(0).model_id() == options_.model_id;
  if (matches) {
    endpoint.state = EndpointState::kReady;
    endpoint.backoff = options_.backoff_initial;
    endpoint.mismatch_logged = false;
    endpoint.stream = new Stream(this, e);
    ++live_calls_;
    endpoint.stream->Start(endpoint.stub.get(), options_.model_id,
                           options_.token);
    LogInfo(absl::StrFormat("cloud %s: connected, serves model %s",
                            endpoint.target, options_.model_id));
  } else if (status.ok() ||
             status.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
    endpoint.state = EndpointState::kMismatch;
    endpoint.retry_at = now + options_.backoff_max;
    if (!endpoint.mismatch_logged) {
      endpoint.mismatch_logged = true;
      LogWarning(absl::StrFormat(
          "cloud %s: serves another model (%s); answering locally until it "
          "serves %s",
          endpoint.target, status.ok() ? "no match" : status.error_message(),
          options_.model_id));
    }
  } else {
    if (metrics_ != nullptr) metrics_->AddCloudError(status.error_code());
    ScheduleRetryLocked(e, now);
  }
  UpdateUpLocked();
}

void CloudClient::Impl::ScheduleRetryLocked(size_t e, absl::Time now) {
  Endpoint& endpoint = endpoints_[e];
  endpoint.state = EndpointState::kWaiting;
  // Full jitter over [backoff / 2, backoff], then double up to the cap.
  std::uniform_real_distribution<double> spread(0.5, 1.0);
  endpoint.retry_at = now + endpoint.backoff * spread(jitter_);
  endpoint.backoff = std::min(endpoint.backoff * 2, options_.backoff_max);
}

std::optional<v1::FallbackReason> CloudClient::Impl::Offload(
    v1::ActivationPayload payload, uint32_t top_k, Done done) {
  absl::MutexLock lock(&mutex_);
  if (stopping_) return v1::FALLBACK_REASON_CLOUD_UNREACHABLE;
  const absl::Time now = absl::Now();
  size_t chosen = endpoints_.size();
  bool mismatch = false;
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    const size_t e = (next_endpoint_ + i) % endpoints_.size();
    if (endpoints_[e].state == EndpointState::kReady) {
      chosen = e;
      break;
    }
    mismatch = mismatch || endpoints_[e].state == EndpointState::kMismatch;
  }
  if (chosen == endpoints_.size()) {
    return mismatch ? v1::FALLBACK_REASON_MODEL_MISMATCH
                    : v1::FALLBACK_REASON_CLOUD_UNREACHABLE;
  }
  // Samples whose deadline passed leave pending_ but may still wait in a
  // stream's queue (a cloud that stopped reading blocks the writes): both
  // are bounded, so a hung cloud cannot grow the agent's memory.
  if (static_cast<int>(pending_.size()) >= options_.max_pending ||
      static_cast<int>(endpoints_[chosen].stream->queued.size()) >=
          options_.max_pending) {
    return v1::FALLBACK_REASON_QUEUE_FULL;
  }
  if (!breaker_.Allow(now)) return v1::FALLBACK_REASON_BREAKER_OPEN;
  next_endpoint_ = chosen + 1;
  const uint64_t id = next_id_++;
  pending_[id] = Pending{std::move(done), chosen, top_k, now,
                         std::move(payload)};
  deadlines_.emplace_back(now + options_.deadline, id);
  if (metrics_ != nullptr) metrics_->SetOffloadsPending(pending_.size());
  Stream* stream = endpoints_[chosen].stream;
  stream->queued.push_back(id);
  if (!stream->writing) StartNextWriteLocked(chosen);
  return std::nullopt;
}

void CloudClient::Impl::StartNextWriteLocked(size_t e) {
  Stream* stream = endpoints_[e].stream;
  v1::InferRequest& request = stream->request;
  request.Clear();
  v1::ActivationPayload* merged = request.mutable_activation();
  std::vector<uint64_t> carried;
  uint32_t top_k = 0;
  while (!stream->queued.empty() &&
         static_cast<int>(carried.size()) < options_.max_samples_per_request) {
    const uint64_t id = stream->queued.front();
    stream->queued.pop_front();
    auto it = pending_.find(id);
    if (it == pending_.end()) continue;  // answered by its deadline already
    v1::ActivationPayload& payload = it->second.payload;
    if (carried.empty()) {
      merged->set_encoding(payload.encoding());
      merged->set_width(payload.width());
    }
    merged->mutable_data()->append(payload.data());
    merged->mutable_scales()->MergeFrom(payload.scales());
    merged->mutable_zero_points()->MergeFrom(payload.zero_points());
    payload.Clear();
    top_k = std::max(top_k, it->second.top_k);
    carried.push_back(id);
  }
  if (carried.empty()) {
    stream->writing = false;
    return;
  }
  merged->set_samples(static_cast<uint32_t>(carried.size()));
  const uint64_t request_id = carried.front();
  request.set_request_id(request_id);
  request.set_from_layer(options_.from_layer);
  request.set_top_k(top_k);
  if (metrics_ != nullptr) {
    metrics_->AddOffloadBytes(static_cast<int64_t>(request.ByteSizeLong()));
  }
  stream->in_flight[request_id] = std::move(carried);
  stream->writing = true;
  stream->StartWrite(&request);
}

void CloudClient::Impl::OnWriteDone(size_t e, bool ok) {
  absl::MutexLock lock(&mutex_);
  Stream* stream = endpoints_[e].stream;
  stream->writing = false;
  // A failed write means the stream is ending: OnStreamDone settles all.
  if (ok && !stream->queued.empty()) StartNextWriteLocked(e);
}

void CloudClient::Impl::OnAnswer(size_t e, const v1::InferResponse& response) {
  std::vector<Outcome> outcomes;
  {
    absl::MutexLock lock(&mutex_);
    Stream* stream = endpoints_[e].stream;
    auto it = stream->in_flight.find(response.request_id());
    if (it == stream->in_flight.end()) return;
    const std::vector<uint64_t> ids = std::move(it->second);
    stream->in_flight.erase(it);
    const bool rejected = response.has_status();
    if (rejected || response.results_size() != static_cast<int>(ids.size())) {
      const int code = rejected ? response.status().code()
                                : static_cast<int>(grpc::StatusCode::INTERNAL);
      if (metrics_ != nullptr) {
        metrics_->AddCloudError(static_cast<grpc::StatusCode>(code));
      }
      LogWarning(absl::StrFormat("cloud %s rejected a request: %s",
                                 endpoints_[e].target,
                                 response.status().message()));
      for (uint64_t id : ids) {
        OffloadOutcome failed;
        failed.reason = v1::FALLBACK_REASON_CLOUD_REJECTED;
        failed.grpc_code = code;
        Outcome o = TakeLocked(id, failed);
        if (o.done) {
          RecordFailureLocked(absl::Now());
          outcomes.push_back(std::move(o));
        }
      }
    } else {
      for (size_t i = 0; i < ids.size(); ++i) {
        auto pending = pending_.find(ids[i]);
        if (pending == pending_.end()) continue;  // its deadline came first
        OffloadOutcome answered;
        answered.ok = true;
        answered.result = response.results(static_cast<int>(i));
        // The request asked for the largest top_k of the samples it carried.
        auto* top_k = answered.result.mutable_top_k();
        const int wanted = static_cast<int>(pending->second.top_k);
        if (top_k->size() > wanted) {
          top_k->DeleteSubrange(wanted, top_k->size() - wanted);
        }
        Outcome o = TakeLocked(ids[i], answered);
        RecordSuccessLocked();
        if (metrics_ != nullptr) {
          metrics_->ObserveCloudRtt(
              absl::ToDoubleSeconds(o.outcome.round_trip));
        }
        outcomes.push_back(std::move(o));
      }
    }
  }
  Deliver(outcomes);
}

void CloudClient::Impl::CallEnded() {
  absl::MutexLock lock(&mutex_);
  --live_calls_;
}

void CloudClient::Impl::OnStreamDone(size_t e, const grpc::Status& status) {
  std::vector<Outcome> outcomes;
  {
    absl::MutexLock lock(&mutex_);
    Endpoint& endpoint = endpoints_[e];
    Stream* stream = endpoint.stream;
    endpoint.stream = nullptr;
    std::vector<uint64_t> ids(stream->queued.begin(), stream->queued.end());
    for (auto& [request_id, carried] : stream->in_flight) {
      ids.insert(ids.end(), carried.begin(), carried.end());
    }
    OffloadOutcome lost;
    lost.reason = v1::FALLBACK_REASON_CLOUD_UNREACHABLE;
    for (uint64_t id : ids) {
      Outcome o = TakeLocked(id, lost);
      if (o.done) outcomes.push_back(std::move(o));
    }
    if (!outcomes.empty()) RecordFailureLocked(absl::Now());
    ScheduleRetryLocked(e, absl::Now());
    if (!stopping_) {
      if (metrics_ != nullptr) metrics_->AddCloudError(status.error_code());
      LogWarning(absl::StrFormat("cloud %s: disconnected (%s)", endpoint.target,
                                 status.error_message()));
    }
    UpdateUpLocked();
  }
  Deliver(outcomes);
}

void CloudClient::Impl::TimerLoop() {
  std::vector<Outcome> outcomes;
  while (true) {
    {
      absl::MutexLock lock(&mutex_);
      auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
        return stopping_;
      };
      mutex_.AwaitWithTimeout(absl::Condition(&stop), kTimerTick);
      if (stopping_) return;
      const absl::Time now = absl::Now();
      while (!deadlines_.empty() && deadlines_.front().first <= now) {
        OffloadOutcome late;
        late.reason = v1::FALLBACK_REASON_DEADLINE;
        Outcome o = TakeLocked(deadlines_.front().second, late);
        deadlines_.pop_front();
        if (o.done) {
          RecordFailureLocked(now);
          outcomes.push_back(std::move(o));
        }
      }
      // Forget answered samples at the front so the deque stays short.
      while (!deadlines_.empty() && !pending_.contains(deadlines_.front().second)) {
        deadlines_.pop_front();
      }
      for (size_t e = 0; e < endpoints_.size(); ++e) {
        Endpoint& endpoint = endpoints_[e];
        const bool waiting = endpoint.state == EndpointState::kWaiting ||
                             endpoint.state == EndpointState::kMismatch;
        if (waiting && endpoint.retry_at <= now) StartCheckLocked(e);
      }
    }
    Deliver(outcomes);
  }
}

int CloudClient::Impl::ready_endpoints() const {
  absl::MutexLock lock(&mutex_);
  int ready = 0;
  for (const Endpoint& endpoint : endpoints_) {
    ready += endpoint.state == EndpointState::kReady;
  }
  return ready;
}

CloudClient::CloudClient(CloudClientOptions options, EdgeMetrics* metrics)
    : impl_(std::make_unique<Impl>(std::move(options), metrics)) {}

CloudClient::~CloudClient() = default;

std::optional<v1::FallbackReason> CloudClient::Offload(
    v1::ActivationPayload payload, uint32_t top_k, Done done) {
  return impl_->Offload(std::move(payload), top_k, std::move(done));
}

int CloudClient::ready_endpoints() const { return impl_->ready_endpoints(); }

}  // namespace spex
