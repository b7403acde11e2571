#include "edge_agent/slot_pool.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_format.h"

namespace spex {

SlotPool::SlotPool(int slots, int raw_width, int classes, int split_width,
                   std::function<void(int)> on_depth)
    : raw_width_(raw_width), on_depth_(std::move(on_depth)) {
  slots = std::max(1, slots);
  const auto n = static_cast<size_t>(slots);
  pixels_.resize(n * raw_width);
  values_.resize(n * raw_width);
  exit_probabilities_.resize(n * classes);
  splits_.resize(n * split_width);
  slots_.resize(n);
  absl::MutexLock lock(&mutex_);
  for (size_t s = n; s-- > 0;) {
    Slot& slot = slots_[s];
    slot.pixel_storage =
        absl::MakeSpan(pixels_).subspan(s * raw_width, raw_width);
    slot.value_storage =
        absl::MakeSpan(values_).subspan(s * raw_width, raw_width);
    slot.exit_probabilities =
        absl::MakeSpan(exit_probabilities_).subspan(s * classes, classes);
    slot.split = absl::MakeSpan(splits_).subspan(s * split_width, split_width);
    free_.push_back(&slot);
  }
}

absl::StatusOr<Slot*> SlotPool::Acquire(const v1::ClassifyRequest& request,
                                        Slot::Done& done) {
  Slot* slot;
  {
    absl::MutexLock lock(&mutex_);
    if (draining_) {
      return absl::UnavailableError("the edge agent is shutting down");
    }
    if (free_.empty()) {
      return absl::ResourceExhaustedError(absl::StrFormat(
          "queue full: %d samples are waiting for an answer (--max_queued)",
          in_use_));
    }
    slot = free_.back();
    free_.pop_back();
    ++in_use_;
    if (on_depth_) on_depth_(in_use_);
  }
  slot->request_id = request.request_id();
  slot->top_k = request.top_k();
  slot->accepted = absl::Now();
  slot->done = std::move(done);
  slot->exit = -1;
  slot->exit_label = -1;
  if (request.input_case() == v1::ClassifyRequest::kPixels) {
    const std::string& pixels = request.pixels();
    std::copy_n(reinterpret_cast<const uint8_t*>(pixels.data()), raw_width_,
                slot->pixel_storage.begin());
    slot->input = RawInput::Pixels(slot->pixel_storage);
  } else {
    std::copy_n(request.values().values().begin(), raw_width_,
                slot->value_storage.begin());
    slot->input = RawInput::Values(slot->value_storage);
  }
  return slot;
}

void SlotPool::Release(Slot* slot) {
  absl::MutexLock lock(&mutex_);
  free_.push_back(slot);
  --in_use_;
  if (on_depth_) on_depth_(in_use_);
}

void SlotPool::Drain() {
  absl::MutexLock lock(&mutex_);
  draining_ = true;
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    return in_use_ == 0;
  };
  mutex_.Await(absl::Condition(&idle));
}

int SlotPool::in_use() const {
  absl::MutexLock lock(&mutex_);
  return in_use_;
}

}  // namespace spex
