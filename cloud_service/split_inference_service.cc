#include "cloud_service/split_inference_service.h"

#include <memory>
#include <string>
#include <utility>

#include "common/rpc/raw_message.h"
#include "common/rpc/request_status.h"

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

SplitInferenceService::SplitInferenceService(CloudCore* core,
                                             const TokenAuth* auth)
    : core_(core), auth_(auth) {}

grpc::ServerUnaryReactor* SplitInferenceService::Infer(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary<v1::InferRequest, v1::InferResponse>(
      context, request, response, CheckAuth(context, auth_),
      [this, context](const v1::InferRequest& request,
                      UnaryDone<v1::InferResponse> done) {
        core_->Infer(request, MetadataValue(context, kModelIdMetadata),
                     std::move(done));
      });
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>*
SplitInferenceService::InferStream(grpc::CallbackServerContext* context) {
  // The stream's model, named once in metadata or by a request (which then
  // names it for the requests after it). Touched only by the reading side.
  auto model_id =
      std::make_shared<std::string>(MetadataValue(context, kModelIdMetadata));
  CloudCore* core = core_;
  return new PipelinedStream<v1::InferRequest, v1::InferResponse>(
      &streams_, CheckAuth(context, auth_),
      [core, model_id](const v1::InferRequest& request,
                       std::function<void(v1::InferResponse)> reply) {
        if (!request.model_id().empty()) *model_id = request.model_id();
        core->Infer(request, *model_id,
                    [reply = std::move(reply)](absl::Status status,
                                               v1::InferResponse response) {
                      if (!status.ok()) {
                        *response.mutable_status() = ToRequestStatus(status);
                      }
                      reply(std::move(response));
                    });
      },
      [](const v1::InferRequest& request, const absl::Status& status) {
        v1::InferResponse refused;
        refused.set_request_id(request.request_id());
        *refused.mutable_status() = ToRequestStatus(status);
        return refused;
      });
}

grpc::ServerUnaryReactor* SplitInferenceService::GetModelInfo(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary<v1::GetModelInfoRequest, v1::GetModelInfoResponse>(
      context, request, response, CheckAuth(context, auth_),
      [this](const v1::GetModelInfoRequest& request,
             UnaryDone<v1::GetModelInfoResponse> done) {
        absl::StatusOr<v1::GetModelInfoResponse> info =
            core_->GetModelInfo(request);
        if (!info.ok()) {
          done(info.status(), v1::GetModelInfoResponse());
        } else {
          done(absl::OkStatus(), *std::move(info));
        }
      });
}

}  // namespace spex
