// The cloud's admission: which requests are let in (none once draining)
// and how many are in flight, each counted from its arrival to its answer,
// in the metrics too, so that shutdown can wait for the last answer.
//
// Thread-safe.
#ifndef SPEX_CLOUD_SERVICE_ADMISSION_H_
#define SPEX_CLOUD_SERVICE_ADMISSION_H_

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cloud_service/cloud_metrics.h"

namespace spex {

class Admission;

// One request in flight. Copied into the request's completion callback;
// exactly one copy calls Finish.
class RequestRecord {
 public:
  void Finish(const std::string& model, const absl::Status& status,
              int samples) const;

 private:
  friend class Admission;
  explicit RequestRecord(Admission* admission);

  Admission* admission_;
  absl::Time start_;
};

class Admission {
 public:
  // `metrics` outlives the admission.
  explicit Admission(CloudMetrics* metrics);

  // Counts a request from now: its record, to finish when it is answered.
  RequestRecord Arrive();
  // UNAVAILABLE once draining, naming what a client should do.
  absl::Status Check() const;
  bool draining() const;

  // From now on every request is refused; those in flight still finish.
  void BeginDrain();
  // Waits until no request is in flight, or until `deadline`; true when
  // none is.
  bool WaitUntilIdle(absl::Time deadline);

 private:
  friend class RequestRecord;
  CloudMetrics* const metrics_;
  mutable absl::Mutex mutex_;
  int inflight_ ABSL_GUARDED_BY(mutex_) = 0;
  bool draining_ ABSL_GUARDED_BY(mutex_) = false;
};

}  // namespace spex

#endif  // SPEX_CLOUD_SERVICE_ADMISSION_H_
