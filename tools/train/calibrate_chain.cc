#include "tools/train/calibrate_chain.h"

#include <cstdio>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/codec/activation_codec.h"
#include "common/model/confidence.h"
#include "common/model/model_file.h"
#include "common/status/status_macros.h"
#include "tools/common/json.h"
#include "tools/common/text_file.h"
#include "tools/common/text_table.h"
#include "tools/train/evaluate.h"

namespace spex {

absl::Status CalibrateChain(const std::string& path, const std::string& prefix,
                            v1::Model proto, const Model& model,
                            const Dataset& validation, const Dataset& test,
                            v1::Encoding encoding, const ChainTarget& target) {
  SPEX_ASSIGN_OR_RETURN(const Predictions on_validation,
                        Predict(model, validation));
  SPEX_ASSIGN_OR_RETURN(const ChainPoint choice,
                        ChooseChainThresholds(model, on_validation, target));
  const std::string target_text =
      target.max_drop_points >= 0
          ? absl::StrFormat("max drop %.2f points", target.max_drop_points)
          : absl::StrFormat("stage budgets %s",
                            absl::StrJoin(target.stage_budget, " "));
  std::string thresholds;
  for (int e = 0; e < proto.exits_size(); ++e) {
    proto.mutable_exits(e)->set_confidence(choice.measure);
    proto.mutable_exits(e)->set_threshold(
        static_cast<float>(choice.thresholds[e]));
    absl::StrAppendFormat(&thresholds, "%sexit %d >= %.3f", e > 0 ? ", " : "",
                          e + 1, choice.thresholds[e]);
  }
  proto.mutable_training()->set_calibration(absl::StrFormat(
      "every exit together: %s %s for %s on %d validation samples (z %.3f): "
      "validation accuracy %.2f %%, mean stage %.2f",
      ConfidenceMeasureName(choice.measure), thresholds, target_text,
      validation.size(), target.z, 100 * choice.overall_accuracy,
      choice.mean_stage));
  SPEX_RETURN_IF_ERROR(WriteModelFile(path, &proto));

  SPEX_ASSIGN_OR_RETURN(auto calibrated, Model::Load(path));
  SPEX_ASSIGN_OR_RETURN(const Predictions on_test, Predict(*calibrated, test));
  const ChainPoint at_test =
      EvaluateChain(*calibrated, on_test, choice.measure, choice.thresholds);
  std::vector<double> cut_bytes;
  for (int s = 1; s + 1 < static_cast<int>(calibrated->boundaries().size());
       ++s) {
    cut_bytes.push_back(static_cast<double>(EncodedBytes(
        encoding, calibrated->WidthAfter(calibrated->boundaries()[s]), 1)));
  }
  const auto point_json = [&](const ChainPoint& p) {
    Json stages = Json::Array();
    for (size_t s = 0; s < p.stage_fraction.size(); ++s) {
      Json stage = Json::Object()
                       .Set("stage", static_cast<int>(s + 1))
                       .Set("answered_fraction", p.stage_fraction[s])
                       .Set("accuracy", p.stage_accuracy[s]);
      if (s < p.crossing.size()) {
        stage.Set("forwarded_fraction", p.crossing[s])
            .Set("bytes_per_sample", p.crossing[s] * cut_bytes[s]);
      }
      stages.Push(std::move(stage));
    }
    return Json::Object()
        .Set("overall_accuracy", p.overall_accuracy)
        .Set("full_accuracy", p.full_accuracy)
        .Set("drop_points", 100 * p.drop)
        .Set("mean_stage", p.mean_stage)
        .Set("stages", std::move(stages));
  };
  Json exits = Json::Array();
  for (int e = 0; e < proto.exits_size(); ++e) {
    exits.Push(
        Json::Object()
            .Set("exit", e + 1)
            .Set("after_layer", static_cast<int>(proto.exits(e).after_layer()))
            .Set("threshold", choice.thresholds[e]));
  }
  Json json =
      Json::Object()
          .Set("model", path)
          .Set("model_id", calibrated->id())
          .Set("target", target_text)
          .Set("measure", std::string(ConfidenceMeasureName(choice.measure)))
          .Set("encoding", std::string(EncodingName(encoding)))
          .Set("exits", std::move(exits))
          .Set("validation", point_json(choice))
          .Set("test", point_json(at_test));
  SPEX_RETURN_IF_ERROR(
      WriteTextFile(prefix + ".calibration.json", json.Dump() + "\n"));

  TextTable table({"stage", "answered % (val)", "answered % (test)",
                   "accuracy % (test)", "forwarded bytes/sample (test)"});
  for (size_t s = 0; s < at_test.stage_fraction.size(); ++s) {
    table.AddRow(
        {absl::StrCat(s + 1),
         absl::StrFormat("%.2f", 100 * choice.stage_fraction[s]),
         absl::StrFormat("%.2f", 100 * at_test.stage_fraction[s]),
         absl::StrFormat("%.2f", 100 * at_test.stage_accuracy[s]),
         s < at_test.crossing.size()
             ? absl::StrFormat("%.1f", at_test.crossing[s] * cut_bytes[s])
             : std::string("-")});
  }
  std::printf("calibrated %s: %s %s (%s)\n", path.c_str(),
              std::string(ConfidenceMeasureName(choice.measure)).c_str(),
              thresholds.c_str(), target_text.c_str());
  std::fputs(table.Render().c_str(), stdout);
  std::printf(
      "overall accuracy: validation %.2f %%, test %.2f %% (full network %.2f "
      "%%, "
      "drop %.2f points); mean stage %.2f\n",
      100 * choice.overall_accuracy, 100 * at_test.overall_accuracy,
      100 * at_test.full_accuracy, 100 * at_test.drop, at_test.mean_stage);
  std::printf("wrote %s.calibration.json\n", prefix.c_str());
  return absl::OkStatus();
}

}  // namespace spex
