#include "tools/train/train_workflow.h"

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "common/model/model.h"
#include "common/model/model_file.h"
#include "common/model/model_init.h"
#include "common/status/status_macros.h"
#include "tools/common/json.h"
#include "tools/common/model_summary.h"
#include "tools/common/text_file.h"
#include "tools/train/evaluate.h"
#include "tools/train/input_from_data.h"
#include "tools/train/layer_list.h"
#include "tools/train/train_report.h"

namespace spex {

std::string OutputPrefix(const std::string& model_path) {
  const size_t dot = model_path.rfind(".spex");
  return dot != std::string::npos && dot + 5 == model_path.size()
             ? model_path.substr(0, dot)
             : model_path;
}

absl::Status TrainModel(const TrainSpec& spec) {
  SPEX_ASSIGN_OR_RETURN(Dataset all_train,
                        LoadDataset(spec.dataset, Split::kTrain));
  SPEX_ASSIGN_OR_RETURN(const Dataset test,
                        LoadDataset(spec.dataset, Split::kTest));
  if (spec.validation_samples < 1 ||
      spec.validation_samples >= all_train.size()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--validation %d must be between 1 and the %d training samples",
        spec.validation_samples, all_train.size() - 1));
  }
  Dataset train, validation;
  SplitHoldOut(all_train, static_cast<int>(spec.validation_samples),
               HoldOutSeed(spec.options.seed), &train, &validation);

  for (int i = 0; i < test.size(); ++i) {
    if (test.labels[i] >= all_train.classes) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: test sample %d has label %d, but the training samples have "
          "%d classes (0 to %d)",
          spec.dataset, i, test.labels[i], all_train.classes,
          all_train.classes - 1));
    }
  }
  if (test.width != all_train.width) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: test samples have %d values, training samples %d",
                        spec.dataset, test.width, all_train.width));
  }

  ModelTopology topology;
  SetInputFromData(train, &topology);
  if (!spec.layers.empty()) {
    if (all_train.shape.size() != 2) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "--layers with convolutions needs images; %s's samples are not "
          "two-dimensional",
          spec.dataset));
    }
    SPEX_ASSIGN_OR_RETURN(topology.backbone,
                          ParseLayerList(spec.layers, 1, "--layers"));
    if (topology.backbone.widths.back() != all_train.classes) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "--layers: the classifier has %d outputs, %s has %d classes",
          topology.backbone.widths.back(), spec.dataset, all_train.classes));
    }
  } else {
    if (spec.config.empty() || spec.config[0] < all_train.width) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "--config must start with the input width, at least %d",
          all_train.width));
    }
    if (spec.config.size() < 3 || spec.config.back() != all_train.classes) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "--config needs the input width, at least one hidden width and the "
          "class count last (%d for %s)",
          all_train.classes, spec.dataset));
    }
    topology.padded_width =
        spec.config[0] > all_train.width ? spec.config[0] : 0;
    topology.backbone.widths = spec.config;
    topology.backbone.fan_out = spec.fan_out;
  }
  topology.split_after = spec.split_after;
  topology.later_cuts = spec.later_cuts;
  if (!spec.exit_layer_lists.empty() && spec.exit_layer_lists.size() != 1 &&
      spec.exit_layer_lists.size() != spec.exit_layers.size()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--exit-layers: %d lists for %d exits; give one for all or one per "
        "exit",
        spec.exit_layer_lists.size(), spec.exit_layers.size()));
  }
  const int depth = static_cast<int>(topology.backbone.widths.size()) - 1;
  for (size_t e = 0; e < spec.exit_layers.size(); ++e) {
    const int after = spec.exit_layers[e];
    if (after < 1 || after >= depth) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "--exits: exit %d after layer %d; the backbone's layers before its "
          "classifier are 1 to %d",
          e + 1, after, depth - 1));
    }
    ExitTopology exit;
    exit.after_layer = after;
    exit.loss_weight = static_cast<float>(
        spec.exit_weights[spec.exit_weights.size() == 1 ? 0 : e]);
    if (spec.exit_layer_lists.empty()) {
      exit.widths = {all_train.classes};
      exit.fan_out = {all_train.classes};
    } else {
      const std::string flag =
          absl::StrFormat("--exit-layers (exit %d)", e + 1);
      SPEX_ASSIGN_OR_RETURN(
          ChainTopology chain,
          ParseLayerList(
              spec.exit_layer_lists[spec.exit_layer_lists.size() == 1 ? 0 : e],
              topology.backbone.widths[after], flag));
      if (chain.widths.back() != all_train.classes) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "%s: the classifier has %d outputs, %s has %d classes", flag,
            chain.widths.back(), spec.dataset, all_train.classes));
      }
      exit.widths.assign(chain.widths.begin() + 1, chain.widths.end());
      exit.fan_out = std::move(chain.fan_out);
      exit.geometry = std::move(chain.geometry);
    }
    topology.exits.push_back(std::move(exit));
  }
  // A dense twin: every layer full, whatever the fan-outs say.
  if (spec.dense) {
    const auto densify = [](const std::vector<int>& outputs,
                            std::vector<int>* fan_out) {
      for (size_t j = 0; j < fan_out->size() && j < outputs.size(); ++j) {
        (*fan_out)[j] = outputs[j];
      }
    };
    ChainTopology& chain = topology.backbone;
    densify(std::vector<int>(chain.widths.begin() + 1, chain.widths.end()),
            &chain.fan_out);
    for (ExitTopology& exit : topology.exits) {
      densify(exit.widths, &exit.fan_out);
    }
  }
  topology.class_names = all_train.class_names;
  topology.pattern = spec.pattern;
  SPEX_ASSIGN_OR_RETURN(v1::Model model,
                        InitializeModel(topology, spec.options.seed));
  // Check the whole structure before spending time on training.
  {
    v1::Model probe = model;
    SerializeModel(&probe);
    SPEX_RETURN_IF_ERROR(Model::FromProto(probe).status());
  }

  std::fprintf(
      stderr,
      "training %s on %s: %d train / %d validation samples, %d threads\n",
      ChainTopologyString(topology.backbone).c_str(), spec.dataset.c_str(),
      train.size(), validation.size(), spec.options.threads);
  SPEX_ASSIGN_OR_RETURN(const TrainResult result,
                        Train(train, validation, spec.options, &model));

  v1::TrainingInfo* info = model.mutable_training();
  info->set_dataset(spec.dataset);
  info->set_seed(spec.options.seed);
  info->set_epochs(static_cast<uint32_t>(result.epochs.size()));
  info->set_batch_size(spec.options.batch_size);
  info->set_learning_rate(spec.options.learning_rate);
  info->set_l2(spec.options.l2);
  info->set_train_samples(train.size());
  info->set_validation_samples(validation.size());
  info->set_trainer(spec.command);
  // Test accuracies through the runtime path, then stored in the file.
  {
    v1::Model probe = model;
    SerializeModel(&probe);
    SPEX_ASSIGN_OR_RETURN(auto loaded, Model::FromProto(probe));
    SPEX_ASSIGN_OR_RETURN(const Predictions predictions,
                          Predict(*loaded, test));
    info->set_final_test_accuracy(
        static_cast<float>(predictions.FinalAccuracy()));
    for (int e = 0; e < static_cast<int>(loaded->full().exits().size()); ++e) {
      info->add_exit_test_accuracy(
          static_cast<float>(predictions.ExitAccuracy(e)));
    }
  }
  SPEX_RETURN_IF_ERROR(WriteModelFile(spec.out, &model));
  SPEX_ASSIGN_OR_RETURN(auto loaded, Model::Load(spec.out));

  TrainRun run;
  run.dataset = spec.dataset;
  run.topology = ChainTopologyString(topology.backbone);
  run.pattern =
      spec.dense ? "dense" : std::string(PatternKindName(spec.pattern));
  run.model_path = spec.out;
  run.model = loaded.get();
  run.result = &result;
  run.options = &spec.options;
  run.train_samples = train.size();
  run.validation_samples = validation.size();
  run.test = &test;
  SPEX_ASSIGN_OR_RETURN(const Json report, TrainReportJson(run));
  const std::string report_path = OutputPrefix(spec.out) + ".report.json";
  SPEX_RETURN_IF_ERROR(WriteTextFile(report_path, report.Dump() + "\n"));
  std::fputs(TrainReportText(run, report_path).c_str(), stdout);
  return absl::OkStatus();
}

}  // namespace spex
