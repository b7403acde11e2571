#include "common/rpc/answer_names.h"

namespace spex {

const char* AnswerPathName(v1::AnswerPath path) {
  switch (path) {
    case v1::ANSWER_PATH_LOCAL:
      return "local";
    case v1::ANSWER_PATH_CLOUD:
      return "cloud";
    case v1::ANSWER_PATH_FALLBACK:
      return "fallback";
    default:
      return "none";
  }
}

const char* FallbackReasonName(v1::FallbackReason reason) {
  switch (reason) {
    case v1::FALLBACK_REASON_CLOUD_UNREACHABLE:
      return "cloud_unreachable";
    case v1::FALLBACK_REASON_DEADLINE:
      return "deadline";
    case v1::FALLBACK_REASON_BREAKER_OPEN:
      return "breaker_open";
    case v1::FALLBACK_REASON_MODEL_MISMATCH:
      return "model_mismatch";
    case v1::FALLBACK_REASON_CLOUD_REJECTED:
      return "cloud_rejected";
    case v1::FALLBACK_REASON_QUEUE_FULL:
      return "queue_full";
    case v1::FALLBACK_REASON_NEXT_SLOWER:
      return "next_slower";
    default:
      return "none";
  }
}

}  // namespace spex
