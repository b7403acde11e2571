// spex.v1.EdgeInference over gRPC's callback API: a thin layer over the
// EdgeAgent library. The agent in use can be replaced (a model reload)
// while calls go on: a call that meets an agent draining for replacement
// goes to its successor.
#ifndef SPEX_EDGE_AGENT_EDGE_SERVICE_H_
#define SPEX_EDGE_AGENT_EDGE_SERVICE_H_

#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/rpc/pipelined_stream.h"
#include "edge_agent/edge_agent.h"
#include "edge_agent/edge_metrics.h"
#include "spex/v1/edge_inference.grpc.pb.h"

namespace spex {

// Both methods take their requests as bytes (common/rpc/raw_message.h).
using RawEdgeInference = v1::EdgeInference::WithRawCallbackMethod_Classify<
    v1::EdgeInference::WithRawCallbackMethod_ClassifyStream<
        v1::EdgeInference::Service>>;

class EdgeService final : public RawEdgeInference {
 public:
  // `metrics` (may be null) outlives the service; it counts refusals.
  EdgeService(std::shared_ptr<EdgeAgent> agent, EdgeMetrics* metrics);

  grpc::ServerUnaryReactor* Classify(grpc::CallbackServerContext* context,
                                     const grpc::ByteBuffer* request,
                                     grpc::ByteBuffer* response) override;
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* ClassifyStream(
      grpc::CallbackServerContext* context) override;

  // Routes new samples to `agent` and returns the previous one, which the
  // caller drains (it still answers what it accepted).
  std::shared_ptr<EdgeAgent> Replace(std::shared_ptr<EdgeAgent> agent);
  std::shared_ptr<EdgeAgent> agent() const;

  void Drain() { streams_.Drain(); }
  bool WaitUntilStreamsFinished(absl::Time deadline) {
    return streams_.WaitUntilFinished(deadline);
  }

 private:
  // EdgeAgent::Classify on the current agent, moving on to its successor
  // when it is being replaced; a refusal is counted once, by its code.
  absl::Status Submit(const v1::ClassifyRequest& request, EdgeAgent::Done done);

  EdgeMetrics* const metrics_;
  mutable absl::Mutex mutex_;
  std::shared_ptr<EdgeAgent> agent_ ABSL_GUARDED_BY(mutex_);
  StreamSet streams_;
};

}  // namespace spex

#endif  // SPEX_EDGE_AGENT_EDGE_SERVICE_H_
