#include "cloud_service/oip_service.h"

#include <utility>

#include "cloud_service/split_inference_service.h"
#include "common/rpc/raw_message.h"

namespace spex {
namespace {

// A method whose answer is ready at once.
template <typename Response>
void Answer(absl::StatusOr<Response> answer, const UnaryDone<Response>& done) {
  if (answer.ok()) {
    done(absl::OkStatus(), *std::move(answer));
  } else {
    done(answer.status(), Response());
  }
}

}  // namespace

OipService::OipService(CloudCore* core, const TokenAuth* auth,
                       std::string version)
    : core_(core), oip_(core), auth_(auth), version_(std::move(version)) {}

grpc::ServerUnaryReactor* OipService::ServerLive(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  using inference::ServerLiveResponse;
  return ServeUnary<inference::ServerLiveRequest, ServerLiveResponse>(
      context, request, response, CheckAuth(context, auth_),
      [](const inference::ServerLiveRequest&,
         UnaryDone<ServerLiveResponse> done) {
        ServerLiveResponse live;
        live.set_live(true);
        done(absl::OkStatus(), std::move(live));
      });
}

grpc::ServerUnaryReactor* OipService::ServerReady(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  using inference::ServerReadyResponse;
  return ServeUnary<inference::ServerReadyRequest, ServerReadyResponse>(
      context, request, response, CheckAuth(context, auth_),
      [this](const inference::ServerReadyRequest&,
             UnaryDone<ServerReadyResponse> done) {
        ServerReadyResponse ready;
        ready.set_ready(core_->Ready());
        done(absl::OkStatus(), std::move(ready));
      });
}

grpc::ServerUnaryReactor* OipService::ModelReady(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  using inference::ModelReadyResponse;
  return ServeUnary<inference::ModelReadyRequest, ModelReadyResponse>(
      context, request, response, CheckAuth(context, auth_),
      [this](const inference::ModelReadyRequest& request,
             UnaryDone<ModelReadyResponse> done) {
        ModelReadyResponse ready;
        ready.set_ready(oip_.ModelReady(request));
        done(absl::OkStatus(), std::move(ready));
      });
}

grpc::ServerUnaryReactor* OipService::ServerMetadata(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  using inference::ServerMetadataResponse;
  return ServeUnary<inference::ServerMetadataRequest, ServerMetadataResponse>(
      context, request, response, CheckAuth(context, auth_),
      [this](const inference::ServerMetadataRequest&,
             UnaryDone<ServerMetadataResponse> done) {
        ServerMetadataResponse metadata;
        metadata.set_name("spex-cloud");
        metadata.set_version(version_);
        done(absl::OkStatus(), std::move(metadata));
      });
}

grpc::ServerUnaryReactor* OipService::ModelMetadata(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  using inference::ModelMetadataResponse;
  return ServeUnary<inference::ModelMetadataRequest, ModelMetadataResponse>(
      context, request, response, CheckAuth(context, auth_),
      [this](const inference::ModelMetadataRequest& request,
             UnaryDone<ModelMetadataResponse> done) {
        Answer(oip_.ModelMetadata(request), done);
      });
}

grpc::ServerUnaryReactor* OipService::ModelInfer(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  using inference::ModelInferResponse;
  return ServeUnary<inference::ModelInferRequest, ModelInferResponse>(
      context, request, response, CheckAuth(context, auth_),
      [this](const inference::ModelInferRequest& request,
             UnaryDone<ModelInferResponse> done) {
        oip_.ModelInfer(request, std::move(done));
      });
}

}  // namespace spex
