// A replay: a dataset sent to a running spex-edge through its local API, as
// an application on the device would send it, with every answer recorded.
#ifndef SPEX_TOOLS_REPLAY_REPLAY_H_
#define SPEX_TOOLS_REPLAY_REPLAY_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "spex/v1/edge_inference.pb.h"
#include "tools/data/dataset.h"

namespace spex {

struct ReplayOptions {
  std::string target;  // "unix:/run/spex/edge.sock" or "host:port"
  int streams = 1;
  int depth = 8;    // samples in flight per stream
  double rate = 0;  // samples per second over all streams; 0: flat out
  uint32_t top_k = 0;
  int repeat = 1;  // send the dataset this many times (ids go on)
};

// One sample's answer as the replay saw it.
struct ReplayRecord {
  int id = 0;
  int label = 0;       // the dataset's
  int predicted = -1;  // -1: no answer
  v1::AnswerPath path = v1::ANSWER_PATH_UNSPECIFIED;
  v1::FallbackReason reason = v1::FALLBACK_REASON_UNSPECIFIED;
  // The chain's stage that answered (1: the edge) and its exit (from 1; 0:
  // the final classifier); and, when that stage answered in place of a
  // later one, why (for a fallback at the edge, `reason` too).
  int stage = 0;
  int exit = 0;
  v1::FallbackReason stage_fallback = v1::FALLBACK_REASON_UNSPECIFIED;
  float confidence = 0;
  bool audited = false;  // a local answer also sent on to check the exit
  // The corruption applied to this sample's image (spex-replay --drift;
  // null: none asked for) and its severity.
  const char* corruption = nullptr;
  int severity = 0;
  int64_t sent_us = 0;     // when it was sent, from the replay's start
  int64_t latency_us = 0;  // sent to answered, measured by the replay
  std::string error;       // the agent refused the sample
};

// Sends every sample of `data` `repeat` times (sample id i is image
// i % size); `progress` (may be empty) is called with the number answered
// so far. Unavailable when the agent cannot be reached; otherwise one record
// per sample sent, in id order.
absl::StatusOr<std::vector<ReplayRecord>> Replay(
    const Dataset& data, const ReplayOptions& options,
    const std::function<void(int answered)>& progress);

struct PathSummary {
  int samples = 0;
  double fraction = 0;
  double p50_us = 0;
  double p99_us = 0;
};

struct ReplaySummary {
  int samples = 0;      // sent
  int answered = 0;     // answers received (with a label)
  int refused = 0;      // answered with an error
  double accuracy = 0;  // over the answered
  PathSummary local, cloud, fallback;
  // Answers per stage of a chain (index 0: stage 1, the edge), over the
  // answered; empty when no answer names a stage.
  std::vector<double> stage_fraction;
  double seconds = 0;
};

ReplaySummary Summarize(const std::vector<ReplayRecord>& records,
                        double seconds);

// One JSON object per record: id, label, predicted, path, stage, exit,
// confidence, latency_us (and fallback_reason, stage_fallback, audited,
// corruption and severity, or error when set).
std::string RecordJson(const ReplayRecord& record);

}  // namespace spex

#endif  // SPEX_TOOLS_REPLAY_REPLAY_H_
