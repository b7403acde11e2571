#include "cloud_service/split_inference_service.h"

#include <memory>
#include <string>
#include <utility>

#include "common/rpc/grpc_status.h"
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
    grpc::CallbackServerContext* context, const v1::InferRequest* request,
    v1::InferResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status auth = CheckAuth(context, auth_);
  if (!auth.ok()) {
    reactor->Finish(ToGrpcStatus(auth));
    return reactor;
  }
  core_->Infer(
      *request, MetadataValue(context, kModelIdMetadata),
      [reactor, response](absl::Status status, v1::InferResponse answer) {
        if (status.ok()) *response = std::move(answer);
        reactor->Finish(ToGrpcStatus(status));
      });
  return reactor;
}

grpc::ServerBidiReactor<v1::InferRequest, v1::InferResponse>*
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

}  // namespace spex
