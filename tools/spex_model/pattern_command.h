// `spex-model pattern`: the connection pattern spex gives a junction, as
// JSON, so that code outside spex (the PyTorch package in python/) trains
// on exactly the patterns spex generates instead of a second generator that
// could drift from it.
#ifndef SPEX_TOOLS_SPEX_MODEL_PATTERN_COMMAND_H_
#define SPEX_TOOLS_SPEX_MODEL_PATTERN_COMMAND_H_

#include <string>

#include "absl/status/statusor.h"
#include "tools/common/args.h"

namespace spex {

// Options: n_in, n_out, fan_out (outputs per input, as spex-train's --fo),
// kind (random, block, tile4, tile8; a kind that does not fit the junction
// falls back to random, as spex-train does), and either seed (the pattern
// seed itself, a file's pattern_seed) or model_seed with layer (1-based
// backbone layer) and optionally exit (1-based), which give the pattern
// spex-train --seed=model_seed writes for that layer.
//
// Returns one JSON object: n_in, n_out, d_in, d_out, kind (the kind used,
// "dense" when fan_out == n_out), group_size, seed, rows (n_out lists of
// d_in ascending inputs) and indices (the layer's stored form: rows for
// random, tile inputs for tile, block codes for block, none for dense).
// InvalidArgument naming the option at fault.
absl::StatusOr<std::string> PatternJson(const Args& options);

// Declares the options above on `args`.
void DeclarePatternOptions(Args* args);

}  // namespace spex

#endif  // SPEX_TOOLS_SPEX_MODEL_PATTERN_COMMAND_H_
