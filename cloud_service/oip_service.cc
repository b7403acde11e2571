#include "cloud_service/oip_service.h"

#include <utility>

#include "cloud_service/split_inference_service.h"
#include "common/rpc/grpc_status.h"

namespace spex {

OipService::OipService(CloudCore* core, const TokenAuth* auth,
                       std::string version)
    : core_(core), oip_(core), auth_(auth), version_(std::move(version)) {}

bool OipService::Authorized(grpc::CallbackServerContext* context,
                            grpc::ServerUnaryReactor* reactor) const {
  absl::Status status = CheckAuth(context, auth_);
  if (status.ok()) return true;
  reactor->Finish(ToGrpcStatus(status));
  return false;
}

grpc::ServerUnaryReactor* OipService::ServerLive(
    grpc::CallbackServerContext* context, const inference::ServerLiveRequest*,
    inference::ServerLiveResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!Authorized(context, reactor)) return reactor;
  response->set_live(true);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* OipService::ServerReady(
    grpc::CallbackServerContext* context, const inference::ServerReadyRequest*,
    inference::ServerReadyResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!Authorized(context, reactor)) return reactor;
  response->set_ready(core_->Ready());
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* OipService::ModelReady(
    grpc::CallbackServerContext* context,
    const inference::ModelReadyRequest* request,
    inference::ModelReadyResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!Authorized(context, reactor)) return reactor;
  response->set_ready(oip_.ModelReady(*request));
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* OipService::ServerMetadata(
    grpc::CallbackServerContext* context,
    const inference::ServerMetadataRequest*,
    inference::ServerMetadataResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!Authorized(context, reactor)) return reactor;
  response->set_name("spex-cloud");
  response->set_version(version_);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* OipService::ModelMetadata(
    grpc::CallbackServerContext* context,
    const inference::ModelMetadataRequest* request,
    inference::ModelMetadataResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!Authorized(context, reactor)) return reactor;
  absl::StatusOr<inference::ModelMetadataResponse> metadata =
      oip_.ModelMetadata(*request);
  if (metadata.ok()) *response = *std::move(metadata);
  reactor->Finish(ToGrpcStatus(metadata.status()));
  return reactor;
}

grpc::ServerUnaryReactor* OipService::ModelInfer(
    grpc::CallbackServerContext* context,
    const inference::ModelInferRequest* request,
    inference::ModelInferResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!Authorized(context, reactor)) return reactor;
  oip_.ModelInfer(*request,
                  [reactor, response](absl::Status status,
                                      inference::ModelInferResponse answer) {
                    if (status.ok()) *response = std::move(answer);
                    reactor->Finish(ToGrpcStatus(status));
                  });
  return reactor;
}

}  // namespace spex
