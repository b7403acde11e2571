// libFuzzer target over spex-cloud's Open Inference Protocol handling: any
// ModelInferRequest message, straight into the gRPC-free adapter over the
// CloudCore serving the default model, gets exactly one answer: outputs, or
// an error status naming the problem.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "absl/synchronization/notification.h"
#include "inference/open_inference_grpc.pb.h"
#include "tests/fuzz/fuzz_cloud.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  inference::ModelInferRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  absl::Notification answered;
  int answers = 0;
  spex::fuzz::TheCloud().oip->ModelInfer(
      request,
      [&](absl::Status status, inference::ModelInferResponse response) {
        ++answers;
        if (status.ok() && response.outputs_size() == 0) std::abort();
        if (!status.ok() && status.message().empty()) std::abort();
        answered.Notify();
      });
  spex::fuzz::WaitForAnswer(answered);
  if (answers != 1) std::abort();
  return 0;
}
