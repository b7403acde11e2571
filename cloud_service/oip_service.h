// The Open Inference Protocol's inference.GRPCInferenceService over gRPC's
// callback API, on the same port as SplitInference: a thin layer over
// OipInference (oip_inference.h).
#ifndef SPEX_CLOUD_SERVICE_OIP_SERVICE_H_
#define SPEX_CLOUD_SERVICE_OIP_SERVICE_H_

#include <string>

#include "cloud_service/cloud_core.h"
#include "cloud_service/oip_inference.h"
#include "cloud_service/token_auth.h"
#include "inference/open_inference_grpc.grpc.pb.h"

namespace spex {

// Every method takes its request as bytes (common/rpc/raw_message.h).
using OipGrpc = inference::GRPCInferenceService;
using RawGrpcInferenceService = OipGrpc::WithRawCallbackMethod_ServerLive<
    OipGrpc::WithRawCallbackMethod_ServerReady<
        OipGrpc::WithRawCallbackMethod_ModelReady<
            OipGrpc::WithRawCallbackMethod_ServerMetadata<
                OipGrpc::WithRawCallbackMethod_ModelMetadata<
                    OipGrpc::WithRawCallbackMethod_ModelInfer<
                        OipGrpc::Service>>>>>>;

class OipService final : public RawGrpcInferenceService {
 public:
  // `core` and `auth` (null: no token required) outlive the service.
  OipService(CloudCore* core, const TokenAuth* auth, std::string version);

  grpc::ServerUnaryReactor* ServerLive(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ServerReady(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ModelReady(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ServerMetadata(grpc::CallbackServerContext* context,
                                           const grpc::ByteBuffer* request,
                                           grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ModelMetadata(grpc::CallbackServerContext* context,
                                          const grpc::ByteBuffer* request,
                                          grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ModelInfer(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;

 private:
  CloudCore* const core_;
  OipInference oip_;
  const TokenAuth* const auth_;
  const std::string version_;
};

}  // namespace spex

#endif  // SPEX_CLOUD_SERVICE_OIP_SERVICE_H_
