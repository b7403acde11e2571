// spex-train calibrate (one exit): the exit's confidence measure and
// threshold chosen on the validation hold-out for an accuracy drop or an
// exit fraction (calibration.h), written into the model file, judged on the
// test set; <prefix>.calibration.json, a CSV per confidence measure, the
// accuracy-against-offload picture <prefix>.tradeoff.svg, and a table on
// stdout.
#ifndef SPEX_TOOLS_TRAIN_CALIBRATE_EXIT_H_
#define SPEX_TOOLS_TRAIN_CALIBRATE_EXIT_H_

#include <string>

#include "absl/status/status.h"
#include "common/model/model.h"
#include "spex/v1/activation.pb.h"
#include "spex/v1/model.pb.h"
#include "tools/data/dataset.h"
#include "tools/train/calibration.h"

namespace spex {

// `proto` is the file at `path`, `model` loaded from it; `exit` indexes the
// model's exits; `dataset_name` labels the picture.
absl::Status CalibrateExit(const std::string& path, const std::string& prefix,
                           v1::Model proto, const Model& model, int exit,
                           const std::string& dataset_name,
                           const Dataset& validation, const Dataset& test,
                           v1::Encoding encoding,
                           const CalibrationTarget& target);

}  // namespace spex

#endif  // SPEX_TOOLS_TRAIN_CALIBRATE_EXIT_H_
