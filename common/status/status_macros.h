// Early-return helpers for absl::Status and absl::StatusOr.
//
// Abseil 20220623 ships no status macros, so spex defines exactly one pair
// here (as TensorFlow Serving defines TF_RETURN_IF_ERROR). Every module uses
// these; none defines its own.
#ifndef SPEX_COMMON_STATUS_STATUS_MACROS_H_
#define SPEX_COMMON_STATUS_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Evaluates `expr` (an absl::Status) and returns it from the enclosing
// function if it is not OK.
#define SPEX_RETURN_IF_ERROR(expr)               \
  do {                                           \
    ::absl::Status spex_status_ = (expr);        \
    if (!spex_status_.ok()) return spex_status_; \
  } while (false)

#define SPEX_STATUS_CONCAT_INNER_(a, b) a##b
#define SPEX_STATUS_CONCAT_(a, b) SPEX_STATUS_CONCAT_INNER_(a, b)

// Evaluates `rexpr` (an absl::StatusOr<T>); on error returns its status from
// the enclosing function, otherwise moves the value into `lhs`, which may be a
// declaration (`auto x`) or an existing variable.
#define SPEX_ASSIGN_OR_RETURN(lhs, rexpr)                                    \
  SPEX_ASSIGN_OR_RETURN_IMPL_(SPEX_STATUS_CONCAT_(spex_statusor_, __LINE__), \
                              lhs, rexpr)

#define SPEX_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr)  \
  auto statusor = (rexpr);                                 \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#endif  // SPEX_COMMON_STATUS_STATUS_MACROS_H_
