#include "common/daemon/accuracy_flags.h"

#include "absl/flags/flag.h"

ABSL_FLAG(double, accuracy_objective, 0,
          "Keep the loss of this stage's exits against the answers of the "
          "stages after it (with one cloud behind the edge: the full "
          "network), the fraction of all samples an exit answers with "
          "another label, at most this with 97.5 % confidence, from the "
          "samples sent on and audits of the exits' answers; the threshold "
          "is the lowest that keeps it (it wins over --offload_budget and "
          "--latency_objective). 0: off. E.g. 0.01.");
ABSL_FLAG(double, audit_min, 0.02,
          "--accuracy_objective: the audit rate (of the exits' answers) once "
          "the bound is settled.");
ABSL_FLAG(double, audit_max, 0.25,
          "--accuracy_objective: the audit rate while the bound is loose or "
          "after a change of the inputs.");
ABSL_FLAG(double, audit_byte_share, 0.1,
          "--accuracy_objective: audits' bytes at most this share of all "
          "bytes sent on.");

namespace spex {

absl::StatusOr<std::optional<AccuracyObjectiveOptions>>
AccuracyObjectiveFromFlags(double threshold_min, double threshold_max) {
  const double objective = absl::GetFlag(FLAGS_accuracy_objective);
  if (objective == 0) return std::nullopt;
  AccuracyObjectiveOptions options;
  options.objective = objective;
  options.min_threshold = threshold_min;
  options.max_threshold = threshold_max;
  options.audit_min = absl::GetFlag(FLAGS_audit_min);
  options.audit_max = absl::GetFlag(FLAGS_audit_max);
  options.audit_byte_share = absl::GetFlag(FLAGS_audit_byte_share);
  if (absl::Status valid = options.Check(); !valid.ok()) return valid;
  return options;
}

}  // namespace spex
