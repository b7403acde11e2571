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

class OipService final
    : public inference::GRPCInferenceService::CallbackService {
 public:
  // `core` and `auth` (null: no token required) outlive the service.
  OipService(CloudCore* core, const TokenAuth* auth, std::string version);

  grpc::ServerUnaryReactor* ServerLive(
      grpc::CallbackServerContext* context,
      const inference::ServerLiveRequest* request,
      inference::ServerLiveResponse* response) override;
  grpc::ServerUnaryReactor* ServerReady(
      grpc::CallbackServerContext* context,
      const inference::ServerReadyRequest* request,
      inference::ServerReadyResponse* response) override;
  grpc::ServerUnaryReactor* ModelReady(
      grpc::CallbackServerContext* context,
      const inference::ModelReadyRequest* request,
      inference::ModelReadyResponse* response) override;
  grpc::ServerUnaryReactor* ServerMetadata(
      grpc::CallbackServerContext* context,
      const inference::ServerMetadataRequest* request,
      inference::ServerMetadataResponse* response) override;
  grpc::ServerUnaryReactor* ModelMetadata(
      grpc::CallbackServerContext* context,
      const inference::ModelMetadataRequest* request,
      inference::ModelMetadataResponse* response) override;
  grpc::ServerUnaryReactor* ModelInfer(
      grpc::CallbackServerContext* context,
      const inference::ModelInferRequest* request,
      inference::ModelInferResponse* response) override;

 private:
  // Finishes `reactor` with UNAUTHENTICATED and returns false when the
  // call's token is refused.
  bool Authorized(grpc::CallbackServerContext* context,
                  grpc::ServerUnaryReactor* reactor) const;

  CloudCore* const core_;
  OipInference oip_;
  const TokenAuth* const auth_;
  const std::string version_;
};

}  // namespace spex

#endif  // SPEX_CLOUD_SERVICE_OIP_SERVICE_H_
