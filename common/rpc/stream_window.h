// The HTTP/2 flow-control window a daemon grants each stream. gRPC grows it
// by probing the bandwidth-delay product unless told otherwise; on loopback
// under load the probe let one client that never reads its answers make
// spex-cloud buffer about 90 MB of its requests (112,960 written against
// 4,479 read), which hit the transport's memory quota and reset the
// connection. A fixed window bounds what an unread stream holds: 256 KiB is
// about as many requests as the stream's answer bound
// (kMaxInflightPerStream) and still carries 5 MB/s per stream over a 50 ms
// link.
#ifndef SPEX_COMMON_RPC_STREAM_WINDOW_H_
#define SPEX_COMMON_RPC_STREAM_WINDOW_H_

#include "grpcpp/server_builder.h"

namespace spex {

inline constexpr int kStreamWindowBytes = 256 << 10;

inline void FixStreamWindow(grpc::ServerBuilder* builder) {
  builder->AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  builder->AddChannelArgument(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES,
                              kStreamWindowBytes);
}

}  // namespace spex

#endif  // SPEX_COMMON_RPC_STREAM_WINDOW_H_
