// Short names of the edge's answer paths and fallback reasons, as metrics
// labels and replay records spell them.
#ifndef SPEX_COMMON_RPC_ANSWER_NAMES_H_
#define SPEX_COMMON_RPC_ANSWER_NAMES_H_

#include "spex/v1/edge_inference.pb.h"

namespace spex {

// "local", "cloud", "fallback" ("none" for UNSPECIFIED).
const char* AnswerPathName(v1::AnswerPath path);
// "cloud_unreachable", "deadline", "breaker_open", "model_mismatch",
// "cloud_rejected", "queue_full", "next_slower" ("none" for UNSPECIFIED).
const char* FallbackReasonName(v1::FallbackReason reason);

}  // namespace spex

#endif  // SPEX_COMMON_RPC_ANSWER_NAMES_H_
