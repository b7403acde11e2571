// spex-train calibrate --exit all: one threshold per exit of a chain,
// chosen together on the validation hold-out (chain_calibration.h), written
// into the model file, with the validation and test figures per stage in
// <prefix>.calibration.json and as a table on stdout.
#ifndef SPEX_TOOLS_TRAIN_CALIBRATE_CHAIN_H_
#define SPEX_TOOLS_TRAIN_CALIBRATE_CHAIN_H_

#include <string>

#include "absl/status/status.h"
#include "common/model/model.h"
#include "spex/v1/activation.pb.h"
#include "spex/v1/model.pb.h"
#include "tools/data/dataset.h"
#include "tools/train/chain_calibration.h"

namespace spex {

// `proto` is the file at `path`, `model` loaded from it.
absl::Status CalibrateChain(const std::string& path, const std::string& prefix,
                            v1::Model proto, const Model& model,
                            const Dataset& validation, const Dataset& test,
                            v1::Encoding encoding, const ChainTarget& target);

}  // namespace spex

#endif  // SPEX_TOOLS_TRAIN_CALIBRATE_CHAIN_H_
