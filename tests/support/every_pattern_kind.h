// Parameterised tests over every sparse pattern kind, named by the kind
// ("random", "block", "tile4", "tile8"):
//
//   INSTANTIATE_TEST_SUITE_P(EveryPatternKind, MyTest, EveryPatternKind(),
//                            PatternKindTestName);
#ifndef SPEX_TESTS_SUPPORT_EVERY_PATTERN_KIND_H_
#define SPEX_TESTS_SUPPORT_EVERY_PATTERN_KIND_H_

#include <string>

#include "common/sparsity/pattern.h"
#include "gtest/gtest.h"

namespace spex {

inline auto EveryPatternKind() {
  return testing::Values(PatternKind::kRandom, PatternKind::kBlock,
                         PatternKind::kTile4, PatternKind::kTile8);
}

inline std::string PatternKindTestName(
    const testing::TestParamInfo<PatternKind>& info) {
  return std::string(PatternKindName(info.param));
}

}  // namespace spex

#endif  // SPEX_TESTS_SUPPORT_EVERY_PATTERN_KIND_H_
