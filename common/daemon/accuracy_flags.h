// The accuracy objective's flags (--accuracy_objective, --audit_min,
// --audit_max, --audit_byte_share), the same on spex-edge and on a middle
// stage of spex-cloud: defined once here, listed by both daemons' --help.
#ifndef SPEX_COMMON_DAEMON_ACCURACY_FLAGS_H_
#define SPEX_COMMON_DAEMON_ACCURACY_FLAGS_H_

#include <optional>

#include "absl/status/statusor.h"
#include "common/policy/accuracy_controller.h"

namespace spex {

// The objective the flags ask for, within [threshold_min, threshold_max]
// (the daemon's --threshold_min and --threshold_max); none when
// --accuracy_objective is 0; InvalidArgument naming the flags when a value
// is out of range.
absl::StatusOr<std::optional<AccuracyObjectiveOptions>>
AccuracyObjectiveFromFlags(double threshold_min, double threshold_max);

}  // namespace spex

#endif  // SPEX_COMMON_DAEMON_ACCURACY_FLAGS_H_
