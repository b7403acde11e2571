// spex's services take their requests as bytes and parse them here. gRPC's
// typed callback methods cannot tell a message that does not parse from the
// end of the client's stream (a stream then ended OK, and the requests sent
// after the bad message went unanswered with no word of them), and they
// answer such a unary call UNIMPLEMENTED with no message. Registered raw
// (the generated WithRawCallbackMethod_* classes), a method answers bytes
// that are not its request with INVALID_ARGUMENT naming the message type,
// and a stream says how far it got (pipelined_stream.h).
#ifndef SPEX_COMMON_RPC_RAW_MESSAGE_H_
#define SPEX_COMMON_RPC_RAW_MESSAGE_H_

#include <functional>
#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/rpc/grpc_status.h"
#include "grpcpp/impl/codegen/proto_utils.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "grpcpp/support/server_callback.h"

namespace spex {

// `bytes` as a `Message`: InvalidArgument naming the type when they do not
// parse. `bytes` is left as it was (its slices are shared, not copied).
template <typename Message>
absl::Status ParseMessage(const grpc::ByteBuffer& bytes, Message* message) {
  grpc::ByteBuffer shared(bytes);
  grpc::ProtoBufferReader reader(&shared);
  if (message->ParseFromZeroCopyStream(&reader)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrFormat("%d bytes that do not parse as %s", bytes.Length(),
                      message->GetTypeName()));
}

// `message`'s wire bytes.
template <typename Message>
grpc::ByteBuffer SerializeMessage(const Message& message) {
  grpc::ByteBuffer bytes;
  bool own_buffer = false;
  // Fails only above protobuf's 2 GiB limit, which an answer never nears.
  (void)grpc::SerializationTraits<Message>::Serialize(message, &bytes,
                                                      &own_buffer);
  return bytes;
}

// Finishes a unary call: `status`, and `response` as the answer when OK.
template <typename Response>
using UnaryDone = std::function<void(absl::Status status, Response response)>;

// Serves one unary call that arrived as bytes. A non-OK `admission` (a
// refused token) finishes it with that status; bytes that are not a
// `Request` finish it with INVALID_ARGUMENT; otherwise `handle(request,
// done)` runs and must call `done` exactly once, from any thread, at any
// time. The request lives until then.
template <typename Request, typename Response, typename Handle>
grpc::ServerUnaryReactor* ServeUnary(grpc::CallbackServerContext* context,
                                     const grpc::ByteBuffer* bytes,
                                     grpc::ByteBuffer* answer,
                                     const absl::Status& admission,
                                     Handle handle) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!admission.ok()) {
    reactor->Finish(ToGrpcStatus(admission));
    return reactor;
  }
  auto request = std::make_shared<Request>();
  if (absl::Status parsed = ParseMessage(*bytes, request.get()); !parsed.ok()) {
    reactor->Finish(ToGrpcStatus(absl::InvalidArgumentError(
        absl::StrCat("the request is ", parsed.message()))));
    return reactor;
  }
  const Request& parsed = *request;
  handle(parsed,
         UnaryDone<Response>([reactor, answer, request = std::move(request)](
                                 absl::Status status, Response response) {
           if (status.ok()) *answer = SerializeMessage(response);
           reactor->Finish(ToGrpcStatus(status));
         }));
  return reactor;
}

}  // namespace spex

#endif  // SPEX_COMMON_RPC_RAW_MESSAGE_H_
