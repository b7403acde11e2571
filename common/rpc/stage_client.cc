#include "common/rpc/stage_client.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_format.h"
#include "common/logging/log.h"
#include "common/rpc/stage_client_impl.h"

namespace spex {

void StageClient::Impl::Deliver(std::vector<Outcome>& outcomes) {
  for (Outcome& o : outcomes) {
    if (o.done) o.done(std::move(o.outcome));
  }
  outcomes.clear();
}

StageClient::Impl::Outcome StageClient::Impl::TakeLocked(
    uint64_t id, OffloadOutcome outcome) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return {};
  Outcome taken{std::move(it->second.done), std::move(outcome)};
  taken.outcome.round_trip = absl::Now() - it->second.sent;
  pending_.erase(it);
  if (metrics_ != nullptr) metrics_->SetOffloadsPending(pending_.size());
  return taken;
}

void StageClient::Impl::RecordSuccessLocked() {
  const bool was_closed = breaker_.state() == CircuitBreaker::State::kClosed;
  breaker_.RecordSuccess();
  if (!was_closed) LogInfo("circuit breaker closed: offloading again");
}

void StageClient::Impl::RecordFailureLocked(absl::Time now) {
  const bool was_open = breaker_.state() == CircuitBreaker::State::kOpen;
  breaker_.RecordFailure(now);
  if (!was_open && breaker_.state() == CircuitBreaker::State::kOpen) {
    LogWarning(absl::StrFormat(
        "circuit breaker open after %d failures: offloading paused for %s",
        options_.breaker_failures,
        absl::FormatDuration(options_.breaker_open_time)));
  }
}

std::optional<v1::FallbackReason> StageClient::Impl::Offload(
    v1::ActivationPayload payload, uint32_t from_layer, uint32_t top_k,
    Done done) {
  absl::MutexLock lock(&mutex_);
  if (stopping_) return v1::FALLBACK_REASON_CLOUD_UNREACHABLE;
  const absl::Time now = absl::Now();
  size_t chosen = endpoints_.size();
  bool mismatch = false, rejected = false;
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    const size_t e = (next_endpoint_ + i) % endpoints_.size();
    if (endpoints_[e].state == EndpointState::kReady &&
        !endpoints_[e].stream->ending) {
      chosen = e;
      break;
    }
    mismatch = mismatch || endpoints_[e].state == EndpointState::kMismatch;
    rejected = rejected || endpoints_[e].rejected;
  }
  if (chosen == endpoints_.size()) {
    // The most telling reason: a model to deploy, credentials to fix, or
    // no cloud at all.
    return mismatch   ? v1::FALLBACK_REASON_MODEL_MISMATCH
           : rejected ? v1::FALLBACK_REASON_CLOUD_REJECTED
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
  pending_[id] = Pending{std::move(done), chosen, from_layer,
                         top_k,           now,    std::move(payload)};
  deadlines_.emplace_back(now + options_.deadline, id);
  if (metrics_ != nullptr) metrics_->SetOffloadsPending(pending_.size());
  Stream* stream = endpoints_[chosen].stream;
  stream->queued.push_back(id);
  if (!stream->writing) StartNextWriteLocked(chosen);
  return std::nullopt;
}

void StageClient::Impl::StartNextWriteLocked(size_t e) {
  Stream* stream = endpoints_[e].stream;
  if (stream->ending) {  // what is queued is settled by OnStreamDone
    stream->writing = false;
    return;
  }
  v1::InferRequest& request = stream->request;
  request.Clear();
  v1::ActivationPayload* merged = request.mutable_activation();
  std::vector<uint64_t> carried;
  uint32_t top_k = 0;
  uint32_t from_layer = 0;
  while (!stream->queued.empty() &&
         static_cast<int>(carried.size()) < options_.max_samples_per_request) {
    const uint64_t id = stream->queued.front();
    stream->queued.pop_front();
    auto it = pending_.find(id);
    if (it == pending_.end()) continue;  // answered by its deadline already
    v1::ActivationPayload& payload = it->second.payload;
    if (!carried.empty() && (payload.encoding() != merged->encoding() ||
                             it->second.from_layer != from_layer)) {
      // One request carries one encoding from one layer: this sample
      // starts the next.
      stream->queued.push_front(id);
      break;
    }
    if (carried.empty()) {
      // The first sample's payload becomes the request's: moved, not
      // copied; the samples after it are appended.
      merged->Swap(&payload);
      from_layer = it->second.from_layer;
    } else {
      merged->mutable_data()->append(payload.data());
      merged->mutable_scales()->MergeFrom(payload.scales());
      merged->mutable_zero_points()->MergeFrom(payload.zero_points());
    }
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
  request.set_from_layer(from_layer);
  request.set_top_k(top_k);
  if (metrics_ != nullptr) {
    metrics_->AddOffloadBytes(static_cast<int64_t>(request.ByteSizeLong()));
  }
  stream->in_flight[request_id] = std::move(carried);
  stream->writing = true;
  stream->StartWrite(&request);
}

void StageClient::Impl::OnWriteDone(size_t e, bool ok) {
  absl::MutexLock lock(&mutex_);
  Stream* stream = endpoints_[e].stream;
  stream->writing = false;
  // A failed write means the stream is ending: OnStreamDone settles all.
  if (ok && !stream->queued.empty()) StartNextWriteLocked(e);
}

void StageClient::Impl::OnStreamEnding(size_t e) {
  absl::MutexLock lock(&mutex_);
  endpoints_[e].stream->ending = true;
}

void StageClient::Impl::OnAnswer(size_t e, const v1::InferResponse& response) {
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
        metrics_->AddNextStageError(static_cast<absl::StatusCode>(code));
      }
      LogWarning(absl::StrFormat("next stage %s rejected a request: %s",
                                 endpoints_[e].target,
                                 response.status().message()));
      for (uint64_t id : ids) {
        OffloadOutcome failed;
        failed.reason = v1::FALLBACK_REASON_CLOUD_REJECTED;
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
          metrics_->ObserveNextStageRtt(
              absl::ToDoubleSeconds(o.outcome.round_trip));
        }
        outcomes.push_back(std::move(o));
      }
    }
  }
  Deliver(outcomes);
}

StageClient::StageClient(StageClientOptions options,
                         StageClientMetrics* metrics)
    : deadline_(options.deadline),
      impl_(std::make_unique<Impl>(std::move(options), metrics)) {}

StageClient::~StageClient() = default;

std::optional<v1::FallbackReason> StageClient::Offload(
    v1::ActivationPayload payload, uint32_t from_layer, uint32_t top_k,
    Done done) {
  return impl_->Offload(std::move(payload), from_layer, top_k, std::move(done));
}

}  // namespace spex
