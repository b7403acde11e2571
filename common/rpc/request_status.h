// The one place where an absl::Status becomes an answer's status: a
// spex.v1.RequestStatus (one request on a stream, one sample at the edge)
// here, a gRPC status for a call in grpc_status.h. Messages are capped, so
// an error that quotes input never makes an answer large. No gRPC here:
// the daemons' gRPC-free cores use it.
#ifndef SPEX_COMMON_RPC_REQUEST_STATUS_H_
#define SPEX_COMMON_RPC_REQUEST_STATUS_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "spex/v1/split_inference.pb.h"

namespace spex {

inline constexpr size_t kMaxStatusMessageBytes = 1024;

// The status's message, cut to kMaxStatusMessageBytes ("..." marks a cut).
std::string CappedStatusMessage(const absl::Status& status);

v1::RequestStatus ToRequestStatus(const absl::Status& status);

}  // namespace spex

#endif  // SPEX_COMMON_RPC_REQUEST_STATUS_H_
