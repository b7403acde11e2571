// A classifier's probabilities as an answer: label, confidence and the
// top_k classes. One function for every stage, so that the edge, a middle
// stage and the cloud order ties the same way.
#ifndef SPEX_COMMON_RPC_SAMPLE_RESULT_H_
#define SPEX_COMMON_RPC_SAMPLE_RESULT_H_

#include <cstdint>

#include "spex/v1/split_inference.pb.h"

namespace spex {

// Label (the most probable class), its probability as the confidence, and
// the top_k classes, most probable first (ties: lower class first; top_k
// above `classes` lists them all). Allocates nothing up to 256 classes.
void FillSampleResult(const float* probabilities, int classes, uint32_t top_k,
                      v1::SampleResult* result);

}  // namespace spex

#endif  // SPEX_COMMON_RPC_SAMPLE_RESULT_H_
