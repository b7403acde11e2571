// libFuzzer target over spex-edge's Classify input handling: any
// ClassifyRequest message, into an EdgeAgent running the default model
// (no cloud: what is not confident is a fallback), is refused with an
// error naming the problem or gets exactly one answer with a label.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "absl/synchronization/notification.h"
#include "common/model/model.h"
#include "edge_agent/edge_agent.h"
#include "spex/v1/edge_inference.pb.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

spex::EdgeAgent& TheAgent() {
  static spex::EdgeAgent* agent = [] {
    auto model = spex::Model::Load(spex::fuzz::DefaultModelFile());
    if (!model.ok()) std::abort();
    spex::EdgeAgentOptions options;
    options.audit_fraction = 0;
    return new spex::EdgeAgent(*std::move(model), options, /*next=*/nullptr,
                               /*metrics=*/nullptr);
  }();
  return *agent;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  spex::v1::ClassifyRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  absl::Notification answered;
  int answers = 0;
  const absl::Status accepted =
      TheAgent().Classify(request, [&](spex::v1::ClassifyResponse response) {
        ++answers;
        if (response.request_id() != request.request_id()) std::abort();
        if (response.result().label() < 0) std::abort();
        answered.Notify();
      });
  if (!accepted.ok()) {
    if (accepted.message().empty() || answers != 0) std::abort();
    return 0;
  }
  spex::fuzz::WaitForAnswer(answered);
  if (answers != 1) std::abort();
  return 0;
}
