// A classifier's probabilities as an answer: label, confidence, the top_k
// classes, and which stage and classifier gave it. The one result builder
// of every stage, so that the edge, a middle stage and the cloud fill an
// answer (and order ties) the same way.
#ifndef SPEX_COMMON_RPC_SAMPLE_RESULT_H_
#define SPEX_COMMON_RPC_SAMPLE_RESULT_H_

#include <cstdint>

#include "spex/v1/split_inference.pb.h"

namespace spex {

// Who answers a sample.
struct Answerer {
  int stage = 1;  // from 1
  // The model's number of the exit (from 1), or 0 for the final classifier.
  int exit = 0;
  // Set when the stage answers because the next one could not.
  v1::FallbackReason fallback_reason = v1::FALLBACK_REASON_UNSPECIFIED;
};

// Label (the most probable class), its probability as the confidence, the
// top_k classes, most probable first (ties: lower class first; top_k above
// `classes` lists them all), and the answerer. Allocates nothing up to 256
// classes.
void FillSampleResult(const float* probabilities, int classes, uint32_t top_k,
                      const Answerer& answerer, v1::SampleResult* result);

// Whether `result` is an answer the stages after the asker give in normal
// operation (a confident exit or the final classifier, the latter also when
// run in place of a stage that could not): what an exit's accuracy
// objective is measured against. An exit's answer given only because a
// later stage could not is not.
inline bool IsReferenceAnswer(const v1::SampleResult& result) {
  return result.exit() == 0 ||
         result.fallback_reason() == v1::FALLBACK_REASON_UNSPECIFIED;
}

}  // namespace spex

#endif  // SPEX_COMMON_RPC_SAMPLE_RESULT_H_
