// libFuzzer target over spex-cloud's SplitInference request handling: any
// InferRequest message, straight into the gRPC-free CloudCore serving the
// default model, gets exactly one answer: a response with one finite result
// per sample, or an error status naming the problem.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "absl/synchronization/notification.h"
#include "spex/v1/split_inference.pb.h"
#include "tests/fuzz/fuzz_cloud.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  spex::v1::InferRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  absl::Notification answered;
  int answers = 0;
  // The served model is the stream's default (as when an edge names it in
  // the metadata), so requests that leave model_id empty reach the tail.
  spex::fuzz::FuzzCloud& cloud = spex::fuzz::TheCloud();
  cloud.core->Infer(
      request, cloud.model_id,
      [&](absl::Status status, spex::v1::InferResponse response) {
        ++answers;
        if (status.ok() &&
            response.results_size() !=
                static_cast<int>(request.activation().samples())) {
          std::abort();
        }
        for (const spex::v1::SampleResult& result : response.results()) {
          if (!std::isfinite(result.confidence())) std::abort();
          for (const auto& entry : result.top_k()) {
            if (!std::isfinite(entry.probability())) std::abort();
          }
        }
        if (!status.ok() && status.message().empty()) std::abort();
        answered.Notify();
      });
  spex::fuzz::WaitForAnswer(answered);
  if (answers != 1) std::abort();
  return 0;
}
