#include "cloud_service/split_inference_service.h"

#include <deque>
#include <string>
#include <utility>

#include "cloud_service/grpc_status.h"

namespace spex {
namespace {

std::string MetadataValue(const grpc::CallbackServerContext* context,
                          const char* key) {
  const auto& metadata = context->client_metadata();
  auto it = metadata.find(key);
  if (it == metadata.end()) return std::string();
  return std::string(it->second.data(), it->second.size());
}

}  // namespace

absl::Status CheckAuth(const grpc::CallbackServerContext* context,
                       const TokenAuth* auth) {
  if (auth == nullptr) return absl::OkStatus();
  return auth->Check(MetadataValue(context, "authorization"));
}

// One InferStream. Reads requests one after another and hands each to the
// core; answers arrive from engine workers in any order and are written one
// at a time from a queue (the callback API allows one write in flight). The
// stream finishes once the client has stopped sending (or the server
// drains), every accepted request is answered and every write is done; only
// then can OnDone delete the reactor, so no worker ever sees a dead one.
class InferStreamReactor final
    : public grpc::ServerBidiReactor<v1::InferRequest, v1::InferResponse> {
 public:
  InferStreamReactor(SplitInferenceService* service,
                     grpc::CallbackServerContext* context)
      : service_(service),
        model_id_(MetadataValue(context, kModelIdMetadata)) {
    service_->Register(this);  // may drain it at once
    absl::Status auth = CheckAuth(context, service_->auth_);
    absl::MutexLock lock(&mutex_);
    if (finished_) return;
    if (!auth.ok()) {
      FinishLocked(ToGrpcStatus(auth));
      return;
    }
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      absl::MutexLock lock(&mutex_);
      reads_done_ = true;
      MaybeFinishLocked();
      return;
    }
    {
      absl::MutexLock lock(&mutex_);
      if (draining_) {
        reads_done_ = true;
        v1::InferResponse refused;
        refused.set_request_id(request_.request_id());
        *refused.mutable_status() = ToRequestStatus(
            absl::UnavailableError("the server is shutting down; retry on "
                                   "another replica"));
        QueueWriteLocked(std::move(refused));
        MaybeFinishLocked();
        return;
      }
      ++pending_;
    }
    // A later request may rename the stream's model.
    if (!request_.model_id().empty()) model_id_ = request_.model_id();
    service_->core_->Infer(
        request_, model_id_, [this](absl::Status status,
                                    v1::InferResponse response) {
          if (!status.ok()) *response.mutable_status() = ToRequestStatus(status);
          absl::MutexLock lock(&mutex_);
          --pending_;
          QueueWriteLocked(std::move(response));
          if (read_paused_ && pending_ < kMaxInflightPerStream && !reads_done_) {
            read_paused_ = false;
            StartRead(&request_);
          }
          MaybeFinishLocked();
        });
    absl::MutexLock lock(&mutex_);
    if (pending_ < kMaxInflightPerStream) {
      StartRead(&request_);
    } else {
      read_paused_ = true;
    }
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mutex_);
    writing_ = false;
    if (!ok) {
      // The client is gone: nothing more can be delivered.
      write_failed_ = true;
      writes_.clear();
    } else if (!writes_.empty()) {
      StartNextWriteLocked();
    }
    MaybeFinishLocked();
  }

  void OnDone() override {
    service_->Unregister(this);
    delete this;
  }

  void Drain() {
    absl::MutexLock lock(&mutex_);
    draining_ = true;
    MaybeFinishLocked();
  }

 private:
  void QueueWriteLocked(v1::InferResponse response)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    if (write_failed_ || finished_) return;
    writes_.push_back(std::move(response));
    if (!writing_) StartNextWriteLocked();
  }

  void StartNextWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    writing_ = true;
    current_ = std::move(writes_.front());
    writes_.pop_front();
    StartWrite(&current_);
  }

  void MaybeFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    if (finished_ || pending_ > 0 || writing_ || !writes_.empty()) return;
    if (!reads_done_ && !draining_) return;
    FinishLocked(draining_ ? grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                          "the server is shutting down; "
                                          "reconnect")
                           : grpc::Status::OK);
  }

  void FinishLocked(const grpc::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    finished_ = true;
    Finish(status);
    service_->StreamFinished();
  }

  SplitInferenceService* const service_;
  std::string model_id_;     // touched only by the reading side
  v1::InferRequest request_;  // the read buffer

  absl::Mutex mutex_;
  int pending_ ABSL_GUARDED_BY(mutex_) = 0;
  bool reads_done_ ABSL_GUARDED_BY(mutex_) = false;
  bool read_paused_ ABSL_GUARDED_BY(mutex_) = false;
  bool writing_ ABSL_GUARDED_BY(mutex_) = false;
  bool write_failed_ ABSL_GUARDED_BY(mutex_) = false;
  bool draining_ ABSL_GUARDED_BY(mutex_) = false;
  bool finished_ ABSL_GUARDED_BY(mutex_) = false;
  std::deque<v1::InferResponse> writes_ ABSL_GUARDED_BY(mutex_);
  v1::InferResponse current_ ABSL_GUARDED_BY(mutex_);
};

SplitInferenceService::SplitInferenceService(CloudCore* core,
                                             const TokenAuth* auth)
    : core_(core), auth_(auth) {}

grpc::ServerUnaryReactor* SplitInferenceService::Infer(
    grpc::CallbackServerContext* context, const v1::InferRequest* request,
    v1::InferResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status auth = CheckAuth(context, auth_);
  if (!auth.ok()) {
    reactor->Finish(ToGrpcStatus(auth));
    return reactor;
  }
  core_->Infer(*request, MetadataValue(context, kModelIdMetadata),
               [reactor, response](absl::Status status,
                                   v1::InferResponse answer) {
                 if (status.ok()) *response = std::move(answer);
                 reactor->Finish(ToGrpcStatus(status));
               });
  return reactor;
}

grpc::ServerBidiReactor<v1::InferRequest, v1::InferResponse>*
SplitInferenceService::InferStream(grpc::CallbackServerContext* context) {
  return new InferStreamReactor(this, context);
}

grpc::ServerUnaryReactor* SplitInferenceService::GetModelInfo(
    grpc::CallbackServerContext* context,
    const v1::GetModelInfoRequest* request,
    v1::GetModelInfoResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status status = CheckAuth(context, auth_);
  if (status.ok()) {
    absl::StatusOr<v1::GetModelInfoResponse> info =
        core_->GetModelInfo(*request);
    status = info.status();
    if (info.ok()) *response = *std::move(info);
  }
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

void SplitInferenceService::Register(InferStreamReactor* reactor) {
  {
    absl::MutexLock lock(&finish_mutex_);
    ++unfinished_streams_;
  }
  bool draining;
  {
    absl::MutexLock lock(&mutex_);
    streams_.insert(reactor);
    draining = draining_;
  }
  if (draining) reactor->Drain();
}

void SplitInferenceService::Unregister(InferStreamReactor* reactor) {
  absl::MutexLock lock(&mutex_);
  streams_.erase(reactor);
}

void SplitInferenceService::StreamFinished() {
  absl::MutexLock lock(&finish_mutex_);
  --unfinished_streams_;
}

bool SplitInferenceService::WaitUntilStreamsFinished(absl::Time deadline) {
  absl::MutexLock lock(&finish_mutex_);
  auto finished = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(finish_mutex_) {
    return unfinished_streams_ == 0;
  };
  return finish_mutex_.AwaitWithDeadline(absl::Condition(&finished), deadline);
}

void SplitInferenceService::Drain() {
  absl::MutexLock lock(&mutex_);
  draining_ = true;
  for (InferStreamReactor* stream : streams_) stream->Drain();
}

}  // namespace spex
