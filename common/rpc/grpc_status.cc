#include "common/rpc/grpc_status.h"

#include <string>

namespace spex {
namespace {

std::string CappedMessage(const absl::Status& status) {
  std::string message(status.message());
  if (message.size() > kMaxStatusMessageBytes) {
    message.resize(kMaxStatusMessageBytes - 3);
    message += "...";
  }
  return message;
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // absl::StatusCode and grpc::StatusCode share google.rpc.Code's numbers.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      CappedMessage(status));
}

v1::RequestStatus ToRequestStatus(const absl::Status& status) {
  v1::RequestStatus out;
  out.set_code(static_cast<int>(status.code()));
  out.set_message(CappedMessage(status));
  return out;
}

}  // namespace spex
