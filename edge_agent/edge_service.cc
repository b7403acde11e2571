#include "edge_agent/edge_service.h"

#include <utility>

#include "common/rpc/raw_message.h"
#include "common/rpc/request_status.h"

namespace spex {

EdgeService::EdgeService(std::shared_ptr<EdgeAgent> agent, EdgeMetrics* metrics)
    : metrics_(metrics), agent_(std::move(agent)) {}

std::shared_ptr<EdgeAgent> EdgeService::agent() const {
  absl::MutexLock lock(&mutex_);
  return agent_;
}

std::shared_ptr<EdgeAgent> EdgeService::Replace(
    std::shared_ptr<EdgeAgent> agent) {
  absl::MutexLock lock(&mutex_);
  std::swap(agent_, agent);
  return agent;
}

absl::Status EdgeService::Submit(const v1::ClassifyRequest& request,
                                 EdgeAgent::Done done) {
  while (true) {
    std::shared_ptr<EdgeAgent> agent = this->agent();
    absl::Status status = agent->Classify(request, done);
    if (status.code() != absl::StatusCode::kUnavailable ||
        this->agent() == agent) {
      if (!status.ok() && metrics_ != nullptr) {
        metrics_->RecordRefusal(status.code());
      }
      return status;
    }
  }
}

grpc::ServerUnaryReactor* EdgeService::Classify(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary<v1::ClassifyRequest, v1::ClassifyResponse>(
      context, request, response, absl::OkStatus(),
      [this](const v1::ClassifyRequest& request,
             UnaryDone<v1::ClassifyResponse> done) {
        absl::Status status =
            Submit(request, [done](v1::ClassifyResponse answer) {
              done(absl::OkStatus(), std::move(answer));
            });
        if (!status.ok()) done(status, v1::ClassifyResponse());
      });
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>*
EdgeService::ClassifyStream(grpc::CallbackServerContext*) {
  auto refusal = [](const v1::ClassifyRequest& request,
                    const absl::Status& status) {
    v1::ClassifyResponse refused;
    refused.set_request_id(request.request_id());
    *refused.mutable_status() = ToRequestStatus(status);
    return refused;
  };
  return new PipelinedStream<v1::ClassifyRequest, v1::ClassifyResponse>(
      &streams_, absl::OkStatus(),
      [this, refusal](const v1::ClassifyRequest& request,
                      std::function<void(v1::ClassifyResponse)> reply) {
        absl::Status status = Submit(request, reply);
        if (!status.ok()) reply(refusal(request, status));
      },
      refusal);
}

}  // namespace spex
