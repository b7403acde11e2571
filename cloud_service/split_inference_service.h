// spex.v1.SplitInference over gRPC's callback API: a thin adapter that
// checks the bearer token, reads the model named in metadata, and hands each
// request to CloudCore. No inference runs on gRPC's threads: answers come
// back from the engine's workers, which finish the call or queue the
// stream's write.
#ifndef SPEX_CLOUD_SERVICE_SPLIT_INFERENCE_SERVICE_H_
#define SPEX_CLOUD_SERVICE_SPLIT_INFERENCE_SERVICE_H_

#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cloud_service/cloud_core.h"
#include "cloud_service/token_auth.h"
#include "spex/v1/split_inference.grpc.pb.h"

namespace spex {

// Metadata that names a stream's (or a call's) model once.
inline constexpr char kModelIdMetadata[] = "spex-model-id";

// The largest number of requests one stream may have in flight; beyond it
// the server stops reading that stream until answers go out (HTTP/2 flow
// control then holds the client back), so one client cannot fill the queue.
inline constexpr int kMaxInflightPerStream = 1024;

// Checks `authorization` metadata against `auth` (null: no token required).
absl::Status CheckAuth(const grpc::CallbackServerContext* context,
                       const TokenAuth* auth);

class InferStreamReactor;

class SplitInferenceService final : public v1::SplitInference::CallbackService {
 public:
  // `core` and `auth` (null: no token required) outlive the service.
  SplitInferenceService(CloudCore* core, const TokenAuth* auth);

  grpc::ServerUnaryReactor* Infer(grpc::CallbackServerContext* context,
                                  const v1::InferRequest* request,
                                  v1::InferResponse* response) override;
  grpc::ServerBidiReactor<v1::InferRequest, v1::InferResponse>* InferStream(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* GetModelInfo(
      grpc::CallbackServerContext* context,
      const v1::GetModelInfoRequest* request,
      v1::GetModelInfoResponse* response) override;

  // Shutdown's first step: open streams answer what they hold, refuse
  // further requests with UNAVAILABLE and end, so clients move to another
  // replica. New calls are refused by the server's own shutdown.
  void Drain();
  // Waits until every stream has sent its last answer and its status, or
  // until `deadline`; true when all have.
  bool WaitUntilStreamsFinished(absl::Time deadline);

 private:
  friend class InferStreamReactor;
  void Register(InferStreamReactor* reactor);
  void Unregister(InferStreamReactor* reactor);
  void StreamFinished();

  CloudCore* const core_;
  const TokenAuth* const auth_;

  absl::Mutex mutex_;
  bool draining_ ABSL_GUARDED_BY(mutex_) = false;
  absl::flat_hash_set<InferStreamReactor*> streams_ ABSL_GUARDED_BY(mutex_);

  // A leaf lock (taken under a reactor's): streams not yet finished.
  absl::Mutex finish_mutex_;
  int unfinished_streams_ ABSL_GUARDED_BY(finish_mutex_) = 0;
};

}  // namespace spex

#endif  // SPEX_CLOUD_SERVICE_SPLIT_INFERENCE_SERVICE_H_
