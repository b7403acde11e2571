// StageClient's implementation, shared by its two source files:
// stage_client.cc (offloads: writing, answers, outcomes) and
// stage_connections.cc (endpoints: model checks, streams' ends,
// reconnection, deadlines, shutdown). Not part of the public API.
#ifndef SPEX_COMMON_RPC_STAGE_CLIENT_IMPL_H_
#define SPEX_COMMON_RPC_STAGE_CLIENT_IMPL_H_

#include <deque>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/rpc/circuit_breaker.h"
#include "common/rpc/stage_client.h"
#include "grpcpp/grpcpp.h"
#include "spex/v1/split_inference.grpc.pb.h"

namespace spex {

class StageClient::Impl {
 public:
  Impl(StageClientOptions options, StageClientMetrics* metrics);
  ~Impl();

  std::optional<v1::FallbackReason> Offload(v1::ActivationPayload payload,
                                            uint32_t from_layer, uint32_t top_k,
                                            Done done);

 private:
  class Stream;
  enum class EndpointState { kWaiting, kChecking, kReady, kMismatch };

  struct Endpoint {
    std::string target;
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<v1::SplitInference::Stub> stub;
    EndpointState state = EndpointState::kWaiting;
    absl::Time retry_at;  // kWaiting / kMismatch
    absl::Duration backoff;
    std::unique_ptr<grpc::ClientContext> check_context;
    v1::GetModelInfoRequest check_request;
    v1::GetModelInfoResponse check_response;
    Stream* stream = nullptr;  // owned by itself until OnDone
    bool mismatch_logged = false;
    // The last check was refused for the agent's credentials
    // (UNAUTHENTICATED, PERMISSION_DENIED): fallbacks say cloud_rejected,
    // not cloud_unreachable, until a check gets another answer.
    bool rejected = false;
  };

  struct Pending {
    Done done;
    size_t endpoint;
    uint32_t from_layer;
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
      // Writes start from Offload, outside any reaction. gRPC destroys
      // the call's stream object as soon as no operation is outstanding,
      // before OnDone runs: without this hold a write started in between
      // would reach a freed object. Released when the read side ends, once
      // no write can start any more (`ending`).
      AddHold();
      StartCall();
    }
    void OnWriteDone(bool ok) override { impl_->OnWriteDone(endpoint_, ok); }
    void OnReadDone(bool ok) override {
      if (!ok) {  // the stream is ending; OnDone follows
        impl_->OnStreamEnding(endpoint_);
        RemoveHold();
        return;
      }
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

    // Sample ids waiting to be written.
    std::deque<uint64_t> queued ABSL_GUARDED_BY(impl_->mutex_);
    bool writing ABSL_GUARDED_BY(impl_->mutex_) = false;
    // The read side ended: no write starts after this (see Start).
    bool ending ABSL_GUARDED_BY(impl_->mutex_) = false;
    v1::InferRequest request ABSL_GUARDED_BY(impl_->mutex_);  // write buffer
    // request_id -> the sample ids it carries, in payload order.
    absl::flat_hash_map<uint64_t, std::vector<uint64_t>> in_flight
        ABSL_GUARDED_BY(impl_->mutex_);

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
  void OnStreamEnding(size_t e);
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
  void RecordFailureLocked(absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  static void Deliver(std::vector<Outcome>& outcomes);

  const StageClientOptions options_;
  StageClientMetrics* const metrics_;
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

}  // namespace spex

#endif  // SPEX_COMMON_RPC_STAGE_CLIENT_IMPL_H_
