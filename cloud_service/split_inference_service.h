// spex.v1.SplitInference over gRPC's callback API: a thin adapter that
// checks the bearer token, reads the model named in metadata, and hands each
// request to CloudCore. No inference runs on gRPC's threads: answers come
// back from the engine's workers, which finish the call or queue the
// stream's write (common/rpc/pipelined_stream.h).
#ifndef SPEX_CLOUD_SERVICE_SPLIT_INFERENCE_SERVICE_H_
#define SPEX_CLOUD_SERVICE_SPLIT_INFERENCE_SERVICE_H_

#include "absl/time/time.h"
#include "cloud_service/cloud_core.h"
#include "cloud_service/token_auth.h"
#include "common/rpc/pipelined_stream.h"
#include "spex/v1/split_inference.grpc.pb.h"

namespace spex {

// Metadata that names a stream's (or a call's) model once.
inline constexpr char kModelIdMetadata[] = "spex-model-id";

// Checks `authorization` metadata against `auth` (null: no token required).
absl::Status CheckAuth(const grpc::CallbackServerContext* context,
                       const TokenAuth* auth);

// Every method takes its request as bytes (common/rpc/raw_message.h).
using RawSplitInference = v1::SplitInference::WithRawCallbackMethod_Infer<
    v1::SplitInference::WithRawCallbackMethod_InferStream<
        v1::SplitInference::WithRawCallbackMethod_GetModelInfo<
            v1::SplitInference::Service>>>;

class SplitInferenceService final : public RawSplitInference {
 public:
  // `core` and `auth` (null: no token required) outlive the service.
  SplitInferenceService(CloudCore* core, const TokenAuth* auth);

  grpc::ServerUnaryReactor* Infer(grpc::CallbackServerContext* context,
                                  const grpc::ByteBuffer* request,
                                  grpc::ByteBuffer* response) override;
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* InferStream(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* GetModelInfo(grpc::CallbackServerContext* context,
                                         const grpc::ByteBuffer* request,
                                         grpc::ByteBuffer* response) override;

  // Shutdown's first step: open streams answer what they hold, refuse
  // further requests with UNAVAILABLE and end, so clients move to another
  // replica. New calls are refused by the server's own shutdown.
  void Drain() { streams_.Drain(); }
  // True once every stream has finished, false at `deadline`.
  bool WaitUntilStreamsFinished(absl::Time deadline) {
    return streams_.WaitUntilFinished(deadline);
  }

 private:
  CloudCore* const core_;
  const TokenAuth* const auth_;
  StreamSet streams_;
};

}  // namespace spex

#endif  // SPEX_CLOUD_SERVICE_SPLIT_INFERENCE_SERVICE_H_
