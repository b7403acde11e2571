// The one place where absl::Status becomes a gRPC status (for a call) or a
// spex.v1.RequestStatus (for one request on a stream). Messages are capped,
// so an error that quotes input never makes an answer large.
#ifndef SPEX_COMMON_RPC_GRPC_STATUS_H_
#define SPEX_COMMON_RPC_GRPC_STATUS_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"
#include "spex/v1/split_inference.pb.h"

namespace spex {

inline constexpr size_t kMaxStatusMessageBytes = 1024;

grpc::Status ToGrpcStatus(const absl::Status& status);
v1::RequestStatus ToRequestStatus(const absl::Status& status);

}  // namespace spex

#endif  // SPEX_COMMON_RPC_GRPC_STATUS_H_
