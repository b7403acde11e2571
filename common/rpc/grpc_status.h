// The one place where an absl::Status becomes a gRPC status (for a call),
// its message capped as request_status.h caps an answer's.
#ifndef SPEX_COMMON_RPC_GRPC_STATUS_H_
#define SPEX_COMMON_RPC_GRPC_STATUS_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace spex {

grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace spex

#endif  // SPEX_COMMON_RPC_GRPC_STATUS_H_
