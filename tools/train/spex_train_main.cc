// spex-train: trains predefined-sparse networks with early exits, and
// calibrates the edge's exit threshold.
//
//   spex-train train --dataset fashion-mnist --config "784 64 512 512 10"
//       --fo "8 128 128 10" --split-after 1 --exits 1 --out model.spex
//   spex-train calibrate --model model.spex --max-drop 0.5
//
// `train` writes the model file and <model>.report.json (also printed as a
// table); `calibrate` writes the threshold into the model file, a CSV per
// confidence measure and an SVG of accuracy against offload.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/codec/activation_codec.h"
#include "common/model/confidence.h"
#include "common/model/model.h"
#include "common/model/model_file.h"
#include "common/model/model_init.h"
#include "common/status/status_macros.h"
#include "tools/common/args.h"
#include "tools/common/json.h"
#include "tools/common/model_summary.h"
#include "tools/common/text_file.h"
#include "tools/common/text_table.h"
#include "tools/data/dataset.h"
#include "tools/train/calibration.h"
#include "tools/train/calibrate_chain.h"
#include "tools/train/evaluate.h"
#include "tools/train/train_report.h"
#include "tools/train/trainer.h"

namespace spex {
namespace {

constexpr char kUsage[] =
    "usage: spex-train train --dataset NAME --config \"W0 W1 ... Wn\" "
    "--fo \"F1 ... Fn\" --out FILE [options]\n"
    "       spex-train calibrate --model FILE [--max-drop POINTS | "
    "--exit-fraction F] [options]\n";

std::string StripExtension(const std::string& path) {
  const size_t dot = path.rfind(".spex");
  return dot != std::string::npos && dot + 5 == path.size() ? path.substr(0, dot)
                                                            : path;
}


// Options after the command; every argument must be an option.
absl::Status ParseNoPositional(Args* args, int argc, char** argv) {
  SPEX_RETURN_IF_ERROR(args->Parse(argc, argv, 2));
  if (!args->positional().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unexpected argument '", args->positional().front(),
                     "' (options are --name value)"));
  }
  return absl::OkStatus();
}


// --- train -----------------------------------------------------------------

Args TrainArgs() {
  Args args;
  args.Option("dataset", "fashion-mnist", "fashion-mnist or mnist-digits")
      .Option("config", "", "layer widths, input first (800: pad 784 to 800)")
      .Option("fo", "", "out-degree (fan-out) per junction; = width: dense")
      .Option("split-after", "1", "layers on the edge (the head)")
      .Option("later-cuts", "",
              "further cuts of a chain: the last layer of each middle stage")
      .Option("exits", "", "backbone layers with a linear exit after them")
      .Option("exit-weight", "1",
              "loss weight of each exit (final: 1); one for all, or one per exit")
      .Option("pattern", "random",
              "random, block, tile4 or tile8 (sparse junctions the kind "
              "cannot fit use random)")
      .Flag("dense", "every junction fully connected (the baseline twin)")
      .Option("epochs", "15", "epochs")
      .Option("batch", "256", "mini-batch size")
      .Option("lr", "0.001", "Adam learning rate")
      .Option("l2", "0.00008", "L2 penalty on weights")
      .Option("seed", "1", "seed of patterns, weights, order and hold-out")
      .Option("threads", "1", "threads per mini-batch")
      .Option("patience", "0", "stop after this many epochs without gain (0: off)")
      .Option("validation", "5000", "training samples held out for validation")
      .Option("out", "", "model file to write");
  return args;
}

absl::Status RunTrain(int argc, char** argv) {
  Args args = TrainArgs();
  SPEX_RETURN_IF_ERROR(ParseNoPositional(&args, argc, argv));
  if (args.Get("config").empty() || args.Get("fo").empty() || args.Get("out").empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "train needs --config, --fo and --out\n", kUsage, args.Help()));
  }
  SPEX_ASSIGN_OR_RETURN(const std::vector<int> config, args.GetInts("config"));
  SPEX_ASSIGN_OR_RETURN(std::vector<int> fan_out, args.GetInts("fo"));
  SPEX_ASSIGN_OR_RETURN(const std::vector<int> exit_layers, args.GetInts("exits"));
  SPEX_ASSIGN_OR_RETURN(const long split_after, args.GetInt("split-after"));
  SPEX_ASSIGN_OR_RETURN(const std::vector<int> later_cuts, args.GetInts("later-cuts"));
  SPEX_ASSIGN_OR_RETURN(const std::vector<double> exit_weights,
                        args.GetDoubles("exit-weight"));
  if (exit_weights.size() != 1 && exit_weights.size() != exit_layers.size()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--exit-weight: %d weights for %d exits; give one for all or one per exit",
        exit_weights.size(), exit_layers.size()));
  }
  SPEX_ASSIGN_OR_RETURN(const PatternKind pattern, ParsePatternKind(args.Get("pattern")));
  const bool dense = args.GetBool("dense");
  TrainOptions options;
  SPEX_ASSIGN_OR_RETURN(const long epochs, args.GetInt("epochs"));
  SPEX_ASSIGN_OR_RETURN(const long batch, args.GetInt("batch"));
  SPEX_ASSIGN_OR_RETURN(const double lr, args.GetDouble("lr"));
  SPEX_ASSIGN_OR_RETURN(const double l2, args.GetDouble("l2"));
  SPEX_ASSIGN_OR_RETURN(const long seed, args.GetInt("seed"));
  SPEX_ASSIGN_OR_RETURN(const long threads, args.GetInt("threads"));
  SPEX_ASSIGN_OR_RETURN(const long patience, args.GetInt("patience"));
  SPEX_ASSIGN_OR_RETURN(const long validation_count, args.GetInt("validation"));
  options.epochs = static_cast<int>(epochs);
  options.batch_size = static_cast<int>(batch);
  options.learning_rate = static_cast<float>(lr);
  options.l2 = static_cast<float>(l2);
  options.seed = static_cast<uint64_t>(seed);
  options.threads = static_cast<int>(threads);
  options.patience = static_cast<int>(patience);
  const std::string out = args.Get("out");

  SPEX_ASSIGN_OR_RETURN(Dataset all_train, LoadDataset(args.Get("dataset"), Split::kTrain));
  SPEX_ASSIGN_OR_RETURN(const Dataset test, LoadDataset(args.Get("dataset"), Split::kTest));
  if (validation_count < 1 || validation_count >= all_train.size()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--validation %d must be between 1 and the %d training samples",
        validation_count, all_train.size() - 1));
  }
  Dataset train, validation;
  SplitHoldOut(all_train, static_cast<int>(validation_count),
               HoldOutSeed(options.seed), &train, &validation);

  ModelTopology topology;
  topology.input_shape = all_train.shape;
  if (config.empty() || config[0] < all_train.width) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--config must start with the input width, at least %d", all_train.width));
  }
  if (config.size() < 3 || config.back() != all_train.classes) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--config needs the input width, at least one hidden width and the "
        "class count last (%d for %s)",
        all_train.classes, args.Get("dataset")));
  }
  topology.padded_width = config[0] > all_train.width ? config[0] : 0;
  topology.input_scale = 1.0f / 255.0f;
  topology.backbone.widths = config;
  if (dense) {
    for (size_t j = 0; j < fan_out.size() && j + 1 < config.size(); ++j) {
      fan_out[j] = config[j + 1];
    }
  }
  topology.backbone.fan_out = fan_out;
  topology.split_after = static_cast<int>(split_after);
  topology.later_cuts = later_cuts;
  for (size_t e = 0; e < exit_layers.size(); ++e) {
    const double weight = exit_weights[exit_weights.size() == 1 ? 0 : e];
    topology.exits.push_back({exit_layers[e], {all_train.classes}, {all_train.classes},
                              static_cast<float>(weight)});
  }
  topology.class_names = all_train.class_names;
  topology.pattern = pattern;
  SPEX_ASSIGN_OR_RETURN(v1::Model model, InitializeModel(topology, options.seed));
  // Check the whole structure before spending time on training.
  {
    v1::Model probe = model;
    SerializeModel(&probe);
    SPEX_RETURN_IF_ERROR(Model::FromProto(probe).status());
  }

  std::fprintf(stderr, "training %s on %s: %d train / %d validation samples, %d threads\n",
               ChainTopologyString(topology.backbone).c_str(),
               args.Get("dataset").c_str(), train.size(), validation.size(),
               options.threads);
  SPEX_ASSIGN_OR_RETURN(const TrainResult result,
                        Train(train, validation, options, &model));

  v1::TrainingInfo* info = model.mutable_training();
  info->set_dataset(args.Get("dataset"));
  info->set_seed(options.seed);
  info->set_epochs(static_cast<uint32_t>(result.epochs.size()));
  info->set_batch_size(options.batch_size);
  info->set_learning_rate(options.learning_rate);
  info->set_l2(options.l2);
  info->set_train_samples(train.size());
  info->set_validation_samples(validation.size());
  std::vector<std::string> command(argv, argv + argc);
  info->set_trainer(absl::StrJoin(command, " "));
  // Test accuracies through the runtime path, then stored in the file.
  {
    v1::Model probe = model;
    SerializeModel(&probe);
    SPEX_ASSIGN_OR_RETURN(auto loaded, Model::FromProto(probe));
    SPEX_ASSIGN_OR_RETURN(const Predictions predictions, Predict(*loaded, test));
    info->set_final_test_accuracy(static_cast<float>(predictions.FinalAccuracy()));
    for (int e = 0; e < static_cast<int>(loaded->full().exits().size()); ++e) {
      info->add_exit_test_accuracy(static_cast<float>(predictions.ExitAccuracy(e)));
    }
  }
  SPEX_RETURN_IF_ERROR(WriteModelFile(out, &model));
  SPEX_ASSIGN_OR_RETURN(auto loaded, Model::Load(out));

  TrainRun run;
  run.dataset = args.Get("dataset");
  run.topology = ChainTopologyString(topology.backbone);
  run.pattern = dense ? "dense" : std::string(PatternKindName(pattern));
  run.model_path = out;
  run.model = loaded.get();
  run.result = &result;
  run.options = &options;
  run.train_samples = train.size();
  run.validation_samples = validation.size();
  run.test = &test;
  SPEX_ASSIGN_OR_RETURN(const Json report, TrainReportJson(run));
  const std::string report_path = StripExtension(out) + ".report.json";
  SPEX_RETURN_IF_ERROR(WriteTextFile(report_path, report.Dump() + "\n"));
  std::fputs(TrainReportText(run, report_path).c_str(), stdout);
  return absl::OkStatus();
}

// --- calibrate -------------------------------------------------------------

Args CalibrateArgs() {
  Args args;
  args.Option("model", "", "model file (updated in place)")
      .Option("dataset", "", "dataset (default: the one the model was trained on)")
      .Option("max-drop", "", "largest accuracy loss allowed, in points")
      .Option("exit-fraction", "", "or: the fraction of samples that should exit")
      .Option("exit", "0",
              "which exit, from 1 (0: the last in the head, nearest the split); "
              "all: every exit together, for a chain of stages")
      .Option("stage-budget", "",
              "with --exit all, instead of --max-drop: the largest fraction of "
              "samples crossing each cut")
      .Option("encoding", "int8", "split encoding, for bytes sent")
      .Option("z", "1.645", "one-sided z of the noise margin (1.645: 95 %)")
      .Option("out-prefix", "", "CSV/SVG/JSON prefix (default: model path)");
  return args;
}

absl::Status RunCalibrate(int argc, char** argv) {
  Args args = CalibrateArgs();
  SPEX_RETURN_IF_ERROR(ParseNoPositional(&args, argc, argv));
  const std::string path = args.Get("model");
  const bool chain = args.Get("exit") == "all";
  const int targets = args.Given("max-drop") + args.Given("exit-fraction") +
                      args.Given("stage-budget");
  if (path.empty() || targets != 1 ||
      (chain ? args.Given("exit-fraction") : args.Given("stage-budget"))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "calibrate needs --model and one of --max-drop, --exit-fraction (one "
        "exit) or --stage-budget (--exit all)\n",
        kUsage, args.Help()));
  }
  SPEX_ASSIGN_OR_RETURN(v1::Model proto, ReadModelFile(path));
  SPEX_ASSIGN_OR_RETURN(auto model, Model::FromProto(proto));
  if (model->full().exits().empty()) {
    return absl::FailedPreconditionError(path + " has no exit to calibrate");
  }
  const int n_exits = static_cast<int>(model->full().exits().size());
  // The last exit in the head (the edge's deepest), else the model's first.
  int exit = model->head().exits().empty()
                 ? 0
                 : static_cast<int>(model->head().exits().size()) - 1;
  if (!chain) {
    SPEX_ASSIGN_OR_RETURN(const long exit_flag, args.GetInt("exit"));
    if (exit_flag < 0 || exit_flag > n_exits) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "--exit %d: the model has %d exits", exit_flag, n_exits));
    }
    if (exit_flag > 0) exit = static_cast<int>(exit_flag) - 1;
  }
  const std::string dataset_name =
      args.Get("dataset").empty() ? proto.training().dataset() : args.Get("dataset");
  SPEX_ASSIGN_OR_RETURN(const Dataset all_train, LoadDataset(dataset_name, Split::kTrain));
  SPEX_ASSIGN_OR_RETURN(const Dataset test, LoadDataset(dataset_name, Split::kTest));
  if (proto.training().validation_samples() == 0) {
    return absl::FailedPreconditionError(
        path + " records no validation hold-out (training.validation_samples)");
  }
  Dataset train, validation;
  SplitHoldOut(all_train, static_cast<int>(proto.training().validation_samples()),
               HoldOutSeed(proto.training().seed()), &train, &validation);

  SPEX_ASSIGN_OR_RETURN(const v1::Encoding encoding, ParseEncoding(args.Get("encoding")));
  if (chain) {
    ChainTarget target;
    if (args.Given("max-drop")) {
      SPEX_ASSIGN_OR_RETURN(target.max_drop_points, args.GetDouble("max-drop"));
      if (!(target.max_drop_points >= 0 && target.max_drop_points <= 100)) {
        return absl::InvalidArgumentError("--max-drop must be in [0, 100] points");
      }
    } else {
      SPEX_ASSIGN_OR_RETURN(target.stage_budget, args.GetDoubles("stage-budget"));
      for (double b : target.stage_budget) {
        if (!(b >= 0 && b <= 1)) {
          return absl::InvalidArgumentError("--stage-budget fractions are in [0, 1]");
        }
      }
    }
    SPEX_ASSIGN_OR_RETURN(target.z, args.GetDouble("z"));
    target.judged_samples = test.size();
    const std::string prefix =
        args.Get("out-prefix").empty() ? StripExtension(path) : args.Get("out-prefix");
    return CalibrateChain(path, prefix, proto, *model, validation, test, encoding,
                          target);
  }
  CostModel cost;
  cost.edge_macs = model->head().cost().macs;
  cost.split_bytes = EncodedBytes(encoding, model->split_width(), 1);
  CalibrationTarget target;
  if (args.Given("max-drop")) {
    SPEX_ASSIGN_OR_RETURN(target.max_drop_points, args.GetDouble("max-drop"));
    if (!(target.max_drop_points >= 0 && target.max_drop_points <= 100)) {
      return absl::InvalidArgumentError("--max-drop must be in [0, 100] points");
    }
  } else {
    SPEX_ASSIGN_OR_RETURN(target.exit_fraction, args.GetDouble("exit-fraction"));
    if (!(target.exit_fraction >= 0 && target.exit_fraction <= 1)) {
      return absl::InvalidArgumentError("--exit-fraction must be in [0, 1]");
    }
  }
  SPEX_ASSIGN_OR_RETURN(target.z, args.GetDouble("z"));
  target.judged_samples = test.size();

  SPEX_ASSIGN_OR_RETURN(const Predictions on_validation, Predict(*model, validation));
  std::vector<Sweep> sweeps;
  for (v1::ConfidenceMeasure measure : {v1::CONFIDENCE_MEASURE_MAX_SOFTMAX,
                                        v1::CONFIDENCE_MEASURE_NORMALIZED_ENTROPY}) {
    sweeps.push_back(SweepThresholds(on_validation, exit, measure, cost));
  }
  SPEX_ASSIGN_OR_RETURN(const CalibrationChoice choice,
                        ChooseThreshold(sweeps, validation.size(), target));

  const std::string prefix =
      args.Get("out-prefix").empty() ? StripExtension(path) : args.Get("out-prefix");
  for (const Sweep& sweep : sweeps) {
    SPEX_RETURN_IF_ERROR(WriteSweepCsv(
        absl::StrCat(prefix, ".calibration.", ConfidenceMeasureName(sweep.measure), ".csv"),
        sweep));
  }
  const std::string svg_path = prefix + ".tradeoff.svg";
  SPEX_RETURN_IF_ERROR(WriteTradeOffSvg(
      svg_path,
      absl::StrFormat("%s: exit after layer %d, %d validation samples", dataset_name,
                      model->full().exits()[exit].after_layer, validation.size()),
      sweeps, choice));

  const std::string target_text =
      target.max_drop_points >= 0
          ? absl::StrFormat("max drop %.2f points", target.max_drop_points)
          : absl::StrFormat("exit fraction %.3f", target.exit_fraction);
  v1::ExitBranch* branch = proto.mutable_exits(exit);
  branch->set_confidence(choice.measure);
  branch->set_threshold(static_cast<float>(choice.validation.threshold));
  proto.mutable_training()->set_calibration(absl::StrFormat(
      "exit %d: %s >= %.3f for %s on %d validation samples (margin %.2f points, "
      "z %.3f): validation exit %.1f %%, accuracy %.2f %%",
      exit + 1, ConfidenceMeasureName(choice.measure), choice.validation.threshold,
      target_text, validation.size(), 100 * choice.margin, target.z,
      100 * choice.validation.exit_fraction, 100 * choice.validation.overall_accuracy));
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
  Json json = Json::Object()
                  .Set("model", path)
                  .Set("model_id", calibrated->id())
                  .Set("exit", exit + 1)
                  .Set("target", target_text)
                  .Set("measure", std::string(ConfidenceMeasureName(choice.measure)))
                  .Set("threshold", choice.validation.threshold)
                  .Set("margin_points", 100 * choice.margin)
                  .Set("encoding", std::string(EncodingName(encoding)))
                  .Set("validation", point_json(choice.validation, sweeps[0].full_accuracy))
                  .Set("test", point_json(at_test, on_test.FinalAccuracy()));
  SPEX_RETURN_IF_ERROR(WriteTextFile(prefix + ".calibration.json", json.Dump() + "\n"));

  TextTable table({"", "validation", "test"});
  const auto row = [&](const std::string& name, double v, double t, const char* format) {
    table.AddRow({name, absl::StrFormat(format, v), absl::StrFormat(format, t)});
  };
  row("exit fraction %", 100 * choice.validation.exit_fraction, 100 * at_test.exit_fraction, "%.2f");
  row("exit accuracy %", 100 * choice.validation.exit_accuracy, 100 * at_test.exit_accuracy, "%.2f");
  row("overall accuracy %", 100 * choice.validation.overall_accuracy,
      100 * at_test.overall_accuracy, "%.2f");
  row("full network %", 100 * sweeps[0].full_accuracy, 100 * on_test.FinalAccuracy(), "%.2f");
  row("drop (points)", 100 * choice.validation.drop, 100 * at_test.drop, "%.2f");
  row("bytes sent/sample", choice.validation.bytes_sent_per_sample,
      at_test.bytes_sent_per_sample, "%.1f");
  std::printf("calibrated %s: exit %d, %s >= %.3f (%s, margin %.2f points)\n",
              path.c_str(), exit + 1,
              std::string(ConfidenceMeasureName(choice.measure)).c_str(),
              choice.validation.threshold, target_text.c_str(), 100 * choice.margin);
  std::fputs(table.Render().c_str(), stdout);
  std::printf("wrote %s, %s.calibration.{json,max_softmax.csv,normalized_entropy.csv}\n",
              svg_path.c_str(), prefix.c_str());
  return absl::OkStatus();
}

}  // namespace
}  // namespace spex

int main(int argc, char** argv) {
  const std::string command = argc > 1 ? argv[1] : "";
  absl::Status status;
  if (command == "train") {
    status = spex::RunTrain(argc, argv);
  } else if (command == "calibrate") {
    status = spex::RunCalibrate(argc, argv);
  } else if (command == "--help" || command == "-h") {
    std::printf("%s\ntrain options:\n%s\ncalibrate options:\n%s", spex::kUsage,
                spex::TrainArgs().Help().c_str(), spex::CalibrateArgs().Help().c_str());
    return 0;
  } else {
    std::fprintf(stderr, "%s", spex::kUsage);
    return 2;
  }
  if (!status.ok()) {
    std::fprintf(stderr, "spex-train %s: %s\n", command.c_str(),
                 std::string(status.message()).c_str());
    return status.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  return 0;
}
