#include "common/rpc/grpc_status.h"

#include "common/rpc/request_status.h"

namespace spex {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // absl::StatusCode and grpc::StatusCode share google.rpc.Code's numbers.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      CappedStatusMessage(status));
}

}  // namespace spex
