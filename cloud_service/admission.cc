#include "cloud_service/admission.h"

#include "absl/time/clock.h"

namespace spex {

RequestRecord::RequestRecord(Admission* admission)
    : admission_(admission), start_(absl::Now()) {
  admission_->metrics_->AddInflight(1);
  absl::MutexLock lock(&admission_->mutex_);
  ++admission_->inflight_;
}

void RequestRecord::Finish(const std::string& model, const absl::Status& status,
                           int samples) const {
  admission_->metrics_->AddInflight(-1);
  admission_->metrics_->RecordRequest(
      model, status.code(), samples,
      absl::ToDoubleSeconds(absl::Now() - start_));
  absl::MutexLock lock(&admission_->mutex_);
  --admission_->inflight_;
}

Admission::Admission(CloudMetrics* metrics) : metrics_(metrics) {}

RequestRecord Admission::Arrive() { return RequestRecord(this); }

absl::Status Admission::Check() const {
  if (!draining()) return absl::OkStatus();
  return absl::UnavailableError(
      "the server is shutting down; retry on another replica");
}

bool Admission::draining() const {
  absl::MutexLock lock(&mutex_);
  return draining_;
}

void Admission::BeginDrain() {
  absl::MutexLock lock(&mutex_);
  draining_ = true;
}

bool Admission::WaitUntilIdle(absl::Time deadline) {
  absl::MutexLock lock(&mutex_);
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    return inflight_ == 0;
  };
  return mutex_.AwaitWithDeadline(absl::Condition(&idle), deadline);
}

}  // namespace spex
