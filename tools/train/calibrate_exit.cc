#include "tools/train/calibrate_exit.h"

#include <cstdio>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/codec/activation_codec.h"
#include "common/model/confidence.h"
#include "common/model/model_file.h"
#include "common/status/status_macros.h"
#include "tools/common/json.h"
#include "tools/common/text_file.h"
#include "tools/common/text_table.h"
#include "tools/train/evaluate.h"

namespace spex {

absl::Status CalibrateExit(const std::string& path, const std::string& prefix,
                           v1::Model proto, const Model& model, int exit,
                           const std::string& dataset_name,
                           const Dataset& validation, const Dataset& test,
                           v1::Encoding encoding,
                           const CalibrationTarget& target) {
  CostModel cost;
  cost.edge_macs = model.head().cost().macs;
  cost.split_bytes = EncodedBytes(encoding, model.split_width(), 1);
  SPEX_ASSIGN_OR_RETURN(const Predictions on_validation,
                        Predict(model, validation));
  std::vector<Sweep> sweeps;
  for (v1::ConfidenceMeasure measure :
       {v1::CONFIDENCE_MEASURE_MAX_SOFTMAX,
        v1::CONFIDENCE_MEASURE_NORMALIZED_ENTROPY}) {
    sweeps.push_back(SweepThresholds(on_validation, exit, measure, cost));
  }
  SPEX_ASSIGN_OR_RETURN(const CalibrationChoice choice,
                        ChooseThreshold(sweeps, validation.size(), target));

  for (const Sweep& sweep : sweeps) {
    SPEX_RETURN_IF_ERROR(WriteSweepCsv(
        absl::StrCat(prefix, ".calibration.",
                     ConfidenceMeasureName(sweep.measure), ".csv"),
        sweep));
  }
  const std::string svg_path = prefix + ".tradeoff.svg";
  SPEX_RETURN_IF_ERROR(WriteTradeOffSvg(
      svg_path,
      absl::StrFormat("%s: exit after layer %d, %d validation samples",
                      dataset_name, model.full().exits()[exit].after_layer,
                      validation.size()),
      sweeps, choice));

  const std::string target_text =
      target.max_drop_points >= 0
          ? absl::StrFormat("max drop %.2f points", target.max_drop_points)
      : target.max_loss_points >= 0
          ? absl::StrFormat("max loss against the full network %.2f points",
                            target.max_loss_points)
          : absl::StrFormat("exit fraction %.3f", target.exit_fraction);
  v1::ExitBranch* branch = proto.mutable_exits(exit);
  branch->set_confidence(choice.measure);
  branch->set_threshold(static_cast<float>(choice.validation.threshold));
  proto.mutable_training()->set_calibration(absl::StrFormat(
      "exit %d: %s >= %.3f for %s on %d validation samples (margin %.2f "
      "points, "
      "z %.3f): validation exit %.1f %%, accuracy %.2f %%",
      exit + 1, ConfidenceMeasureName(choice.measure),
      choice.validation.threshold, target_text, validation.size(),
      100 * choice.margin, target.z, 100 * choice.validation.exit_fraction,
      100 * choice.validation.overall_accuracy));
  SPEX_RETURN_IF_ERROR(WriteModelFile(path, &proto));

  // The test set judges the choice: it played no part in it.
  SPEX_ASSIGN_OR_RETURN(auto calibrated, Model::Load(path));
  SPEX_ASSIGN_OR_RETURN(const Predictions on_test, Predict(*calibrated, test));
  const PolicyPoint at_test = EvaluatePolicy(on_test, exit, choice.measure,
                                             choice.validation.threshold, cost);
  const auto point_json = [](const PolicyPoint& p, double full) {
    return Json::Object()
        .Set("exit_fraction", p.exit_fraction)
        .Set("exit_accuracy", p.exit_accuracy)
        .Set("overall_accuracy", p.overall_accuracy)
        .Set("full_accuracy", full)
        .Set("drop_points", 100 * p.drop)
        .Set("bytes_sent_per_sample", p.bytes_sent_per_sample)
        .Set("edge_macs_per_sample", p.edge_macs_per_sample);
  };
  Json json =
      Json::Object()
          .Set("model", path)
          .Set("model_id", calibrated->id())
          .Set("exit", exit + 1)
          .Set("target", target_text)
          .Set("measure", std::string(ConfidenceMeasureName(choice.measure)))
          .Set("threshold", choice.validation.threshold)
          .Set("margin_points", 100 * choice.margin)
          .Set("encoding", std::string(EncodingName(encoding)))
          .Set("validation",
               point_json(choice.validation, sweeps[0].full_accuracy))
          .Set("test", point_json(at_test, on_test.FinalAccuracy()));
  SPEX_RETURN_IF_ERROR(
      WriteTextFile(prefix + ".calibration.json", json.Dump() + "\n"));

  TextTable table({"", "validation", "test"});
  // `digits` after the point.
  const auto row = [&](const std::string& name, double v, double t,
                       int digits) {
    table.AddRow({name, absl::StrFormat("%.*f", digits, v),
                  absl::StrFormat("%.*f", digits, t)});
  };
  row("exit fraction %", 100 * choice.validation.exit_fraction,
      100 * at_test.exit_fraction, 2);
  row("exit accuracy %", 100 * choice.validation.exit_accuracy,
      100 * at_test.exit_accuracy, 2);
  row("overall accuracy %", 100 * choice.validation.overall_accuracy,
      100 * at_test.overall_accuracy, 2);
  row("full network %", 100 * sweeps[0].full_accuracy,
      100 * on_test.FinalAccuracy(), 2);
  row("drop (points)", 100 * choice.validation.drop, 100 * at_test.drop, 2);
  row("bytes sent/sample", choice.validation.bytes_sent_per_sample,
      at_test.bytes_sent_per_sample, 1);
  std::printf("calibrated %s: exit %d, %s >= %.3f (%s, margin %.2f points)\n",
              path.c_str(), exit + 1,
              std::string(ConfidenceMeasureName(choice.measure)).c_str(),
              choice.validation.threshold, target_text.c_str(),
              100 * choice.margin);
  std::fputs(table.Render().c_str(), stdout);
  std::printf(
      "wrote %s, "
      "%s.calibration.{json,max_softmax.csv,normalized_entropy.csv}\n",
      svg_path.c_str(), prefix.c_str());
  return absl::OkStatus();
}

}  // namespace spex
