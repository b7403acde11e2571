// The edge agent's admission: `max_queued` slots allocated once, one per
// sample accepted and not yet answered, so that memory is bounded and a
// sample costs no allocation. A slot holds what the sample needs until its
// answer: the input as it arrived (8-bit pixels stay bytes), the exits'
// answer kept for a fallback, the split activation kept for a second route,
// and the caller's callback.
//
// Thread-safe: Acquire and Release lock; a slot's contents belong to
// whoever holds it.
#ifndef SPEX_EDGE_AGENT_SLOT_POOL_H_
#define SPEX_EDGE_AGENT_SLOT_POOL_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "edge_agent/local_classifier.h"
#include "spex/v1/edge_inference.pb.h"

namespace spex {

struct Slot {
  using Done = std::function<void(v1::ClassifyResponse)>;

  uint64_t request_id = 0;
  uint32_t top_k = 0;
  absl::Time accepted;
  Done done;
  // The input as it arrived: 8-bit pixels or float values (raw width each;
  // `input.pixels` or `input.values` points into the storage below).
  RawInput input;
  // The exit that answers a fallback (the deepest the head ran) and its
  // class probabilities.
  int exit = -1;
  absl::Span<float> exit_probabilities;
  // That exit's label and confidence, when the accuracy objective is to
  // hear whether the full network agrees (label -1: it is not).
  int exit_label = -1;
  float confidence = 0;
  // The split activation, for a second route after the first failed.
  absl::Span<float> split;

 private:
  friend class SlotPool;
  absl::Span<uint8_t> pixel_storage;
  absl::Span<float> value_storage;
};

class SlotPool {
 public:
  // `on_depth` (may be empty) hears the number of slots taken after every
  // change, under the pool's lock: a gauge's setter, nothing slow.
  SlotPool(int slots, int raw_width, int classes, int split_width,
           std::function<void(int)> on_depth);

  SlotPool(const SlotPool&) = delete;
  SlotPool& operator=(const SlotPool&) = delete;

  // A free slot with the request's input copied in and `done` moved in, or
  // the refusal (`done` left to the caller): Unavailable once draining,
  // ResourceExhausted when every slot is taken (its message names
  // --max_queued). REQUIRES: the request's input was checked against the
  // model (its size, finiteness).
  absl::StatusOr<Slot*> Acquire(const v1::ClassifyRequest& request,
                                Slot::Done& done);
  // Frees the slot (its callback moved out first by the caller).
  void Release(Slot* slot);

  // Refuses every Acquire from now on and returns once every slot is free.
  void Drain();
  // Slots taken now.
  int in_use() const;

 private:
  const int raw_width_;
  const std::function<void(int)> on_depth_;
  std::vector<uint8_t> pixels_;
  std::vector<float> values_;
  std::vector<float> exit_probabilities_;
  std::vector<float> splits_;
  std::vector<Slot> slots_;

  mutable absl::Mutex mutex_;
  std::vector<Slot*> free_ ABSL_GUARDED_BY(mutex_);
  int in_use_ ABSL_GUARDED_BY(mutex_) = 0;
  bool draining_ ABSL_GUARDED_BY(mutex_) = false;
};

}  // namespace spex

#endif  // SPEX_EDGE_AGENT_SLOT_POOL_H_
