// StageClient's endpoints: connecting with a model check, reconnecting
// with backoff, what a stream's end settles, the deadline timer, shutdown.
#include <algorithm>
#include <utility>

#include "absl/strings/str_format.h"
#include "common/logging/log.h"
#include "common/rpc/stage_client_impl.h"

namespace spex {
namespace {

// How long the model check at connect may take.
constexpr absl::Duration kModelCheckDeadline = absl::Seconds(2);
// The timer thread's longest sleep: deadlines are checked at least this
// often even when nothing else wakes it.
constexpr absl::Duration kTimerTick = absl::Milliseconds(5);

}  // namespace

StageClient::Impl::Impl(StageClientOptions options, StageClientMetrics* metrics)
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
    arguments.SetInt(
        GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
        static_cast<int>(absl::ToInt64Milliseconds(options_.backoff_initial)));
    arguments.SetInt(
        GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
        static_cast<int>(absl::ToInt64Milliseconds(options_.backoff_max)));
    endpoint.channel =
        grpc::CreateCustomChannel(target, options_.credentials, arguments);
    endpoint.stub = v1::SplitInference::NewStub(endpoint.channel);
    endpoint.backoff = options_.backoff_initial;
    endpoints_.push_back(std::move(endpoint));
  }
  for (size_t e = 0; e < endpoints_.size(); ++e) StartCheckLocked(e);
  UpdateUpLocked();
  timer_ = std::thread([this] { TimerLoop(); });
}

StageClient::Impl::~Impl() {
  {
    absl::MutexLock lock(&mutex_);
    stopping_ = true;
    for (Endpoint& endpoint : endpoints_) {
      if (endpoint.stream != nullptr) endpoint.stream->Cancel();
      if (endpoint.check_context != nullptr)
        endpoint.check_context->TryCancel();
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

void StageClient::Impl::UpdateUpLocked() {
  if (metrics_ == nullptr) return;
  int ready = 0;
  bool mismatch = false;
  for (const Endpoint& endpoint : endpoints_) {
    ready += endpoint.state == EndpointState::kReady;
    mismatch = mismatch || endpoint.state == EndpointState::kMismatch;
  }
  metrics_->SetNextStageUp(ready > 0);
  metrics_->SetModelMismatch(mismatch);
}

void StageClient::Impl::StartCheckLocked(size_t e) {
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

void StageClient::Impl::OnCheckDone(size_t e, grpc::Status status) {
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
    LogInfo(absl::StrFormat("next stage %s: connected, serves model %s",
                            endpoint.target, options_.model_id));
  } else if (status.ok() ||
             status.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
    endpoint.state = EndpointState::kMismatch;
    endpoint.retry_at = now + options_.backoff_max;
    if (!endpoint.mismatch_logged) {
      endpoint.mismatch_logged = true;
      LogWarning(absl::StrFormat(
          "next stage %s: serves another model (%s); answering locally until "
          "it "
          "serves %s",
          endpoint.target, status.ok() ? "no match" : status.error_message(),
          options_.model_id));
    }
  } else {
    if (metrics_ != nullptr)
      metrics_->AddNextStageError(
          static_cast<absl::StatusCode>(status.error_code()));
    endpoint.rejected =
        status.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
        status.error_code() == grpc::StatusCode::PERMISSION_DENIED;
    ScheduleRetryLocked(e, now);
  }
  if (endpoint.state != EndpointState::kWaiting) endpoint.rejected = false;
  UpdateUpLocked();
}

void StageClient::Impl::ScheduleRetryLocked(size_t e, absl::Time now) {
  Endpoint& endpoint = endpoints_[e];
  endpoint.state = EndpointState::kWaiting;
  // Full jitter over [backoff / 2, backoff], then double up to the cap.
  std::uniform_real_distribution<double> spread(0.5, 1.0);
  endpoint.retry_at = now + endpoint.backoff * spread(jitter_);
  endpoint.backoff = std::min(endpoint.backoff * 2, options_.backoff_max);
}

void StageClient::Impl::CallEnded() {
  absl::MutexLock lock(&mutex_);
  --live_calls_;
}

void StageClient::Impl::OnStreamDone(size_t e, const grpc::Status& status) {
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
      if (metrics_ != nullptr)
        metrics_->AddNextStageError(
            static_cast<absl::StatusCode>(status.error_code()));
      LogWarning(absl::StrFormat("next stage %s: disconnected (%s)",
                                 endpoint.target, status.error_message()));
    }
    UpdateUpLocked();
  }
  Deliver(outcomes);
}

void StageClient::Impl::TimerLoop() {
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
      while (!deadlines_.empty() &&
             !pending_.contains(deadlines_.front().second)) {
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

}  // namespace spex
