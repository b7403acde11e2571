#include "common/rpc/pipelined_stream.h"

namespace spex {

void StreamSet::Drain() {
  absl::MutexLock lock(&mutex_);
  draining_ = true;
  for (DrainableStream* stream : streams_) stream->Drain();
}

bool StreamSet::WaitUntilFinished(absl::Time deadline) {
  absl::MutexLock lock(&finish_mutex_);
  auto finished = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(finish_mutex_) {
    return unfinished_ == 0;
  };
  return finish_mutex_.AwaitWithDeadline(absl::Condition(&finished), deadline);
}

void StreamSet::Add(DrainableStream* stream) {
  {
    absl::MutexLock lock(&finish_mutex_);
    ++unfinished_;
  }
  bool draining;
  {
    absl::MutexLock lock(&mutex_);
    streams_.insert(stream);
    draining = draining_;
  }
  if (draining) stream->Drain();
}

void StreamSet::Remove(DrainableStream* stream) {
  absl::MutexLock lock(&mutex_);
  streams_.erase(stream);
}

void StreamSet::Finished() {
  absl::MutexLock lock(&finish_mutex_);
  --unfinished_;
}

}  // namespace spex
