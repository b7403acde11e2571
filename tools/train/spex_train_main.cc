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
#include "absl/strings/str_split.h"
#include "common/codec/activation_codec.h"
#include "common/model/model.h"
#include "common/model/model_file.h"
#include "common/status/status_macros.h"
#include "tools/common/args.h"
#include "tools/data/dataset.h"
#include "tools/train/calibrate_chain.h"
#include "tools/train/calibrate_exit.h"
#include "tools/train/train_workflow.h"
#include "tools/train/trainer.h"

namespace spex {
namespace {

constexpr char kUsage[] =
    "usage: spex-train train --dataset NAME --config \"W0 W1 ... Wn\" "
    "--fo \"F1 ... Fn\" --out FILE [options]\n"
    "       spex-train train --dataset NAME --layers \"L1, L2, ...\" "
    "--out FILE [options]\n"
    "       spex-train calibrate --model FILE [--max-drop POINTS | "
    "--max-loss POINTS | --exit-fraction F] [options]\n";

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
  args.Option("dataset", "fashion-mnist",
              "fashion-mnist, mnist-digits, or files: "
              "train=FILE[,test=FILE][,label=COLUMN][,shape=HxW]"
              "[,train_labels=FILE.npy][,test_labels=FILE.npy] (.csv, .npz, "
              ".npy; docs/TRAINING.md)")
      .Option("config", "", "layer widths, input first (800: pad 784 to 800)")
      .Option("fo", "", "out-degree (fan-out) per junction; = width: dense")
      .Option("layers", "",
              "or, layer by layer: \"conv3x3 32, maxpool2, conv3x3 64 fo 16, "
              "gap, fc 10\" (convKxK W [fo F] [stride S] [pad P], maxpoolK, "
              "avgpoolK, gap, fc W [fo F])")
      .Option("split-after", "1", "layers on the edge (the head)")
      .Option("later-cuts", "",
              "further cuts of a chain: the last layer of each middle stage")
      .Option("exits", "", "backbone layers with an exit after them")
      .Option("exit-layers", "",
              "each exit's layers, as --layers (default: \"fc <classes>\", "
              "a linear classifier); one list for all exits or one per exit, "
              "separated by ';', e.g. \"maxpool2, fc 10\"")
      .Option(
          "exit-weight", "1",
          "loss weight of each exit (final: 1); one for all, or one per exit")
      .Option("pattern", "random",
              "random, block, tile4 or tile8 (sparse junctions the kind "
              "cannot fit use random)")
      .Flag("dense", "every junction fully connected (the baseline twin)")
      .Option("epochs", "15", "epochs")
      .Option("batch", "256", "mini-batch size")
      .Option("lr", "0.001", "Adam learning rate")
      .Option("schedule", "inverse",
              "learning rate over the run: inverse (lr / (1 + 1e-5 step)) or "
              "cosine (to 0 at the last step)")
      .Option("shift", "0",
              "augmentation: shift images by up to this many pixels")
      .Flag("flip", "augmentation: flip images left-right at random")
      .Option("l2", "0.00008", "L2 penalty on weights")
      .Option("seed", "1", "seed of patterns, weights, order and hold-out")
      .Option("threads", "1", "threads per mini-batch")
      .Option("patience", "0",
              "stop after this many epochs without gain (0: off)")
      .Option("validation", "5000", "training samples held out for validation")
      .Option("out", "", "model file to write");
  return args;
}

absl::Status RunTrain(int argc, char** argv) {
  Args args = TrainArgs();
  SPEX_RETURN_IF_ERROR(ParseNoPositional(&args, argc, argv));
  const bool by_layer = !args.Get("layers").empty();
  const bool by_width = !args.Get("config").empty() || !args.Get("fo").empty();
  if (args.Get("out").empty() || by_layer == by_width ||
      (by_width && (args.Get("config").empty() || args.Get("fo").empty()))) {
    return absl::InvalidArgumentError(
        absl::StrCat("train needs --out and either --config with --fo, or "
                     "--layers\n",
                     kUsage, args.Help()));
  }
  TrainSpec spec;
  spec.dataset = args.Get("dataset");
  spec.out = args.Get("out");
  spec.layers = args.Get("layers");
  SPEX_ASSIGN_OR_RETURN(spec.config, args.GetInts("config"));
  SPEX_ASSIGN_OR_RETURN(spec.fan_out, args.GetInts("fo"));
  spec.dense = args.GetBool("dense");
  SPEX_ASSIGN_OR_RETURN(spec.pattern, ParsePatternKind(args.Get("pattern")));
  SPEX_ASSIGN_OR_RETURN(const long split_after, args.GetInt("split-after"));
  spec.split_after = static_cast<int>(split_after);
  SPEX_ASSIGN_OR_RETURN(spec.later_cuts, args.GetInts("later-cuts"));
  SPEX_ASSIGN_OR_RETURN(spec.exit_layers, args.GetInts("exits"));
  SPEX_ASSIGN_OR_RETURN(spec.exit_weights, args.GetDoubles("exit-weight"));
  if (!args.Get("exit-layers").empty()) {
    spec.exit_layer_lists = absl::StrSplit(args.Get("exit-layers"), ';');
  }
  if (spec.exit_weights.size() != 1 &&
      spec.exit_weights.size() != spec.exit_layers.size()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("--exit-weight: %d weights for %d exits; give one for "
                        "all or one per exit",
                        spec.exit_weights.size(), spec.exit_layers.size()));
  }
  SPEX_ASSIGN_OR_RETURN(const long epochs, args.GetInt("epochs"));
  SPEX_ASSIGN_OR_RETURN(const long batch, args.GetInt("batch"));
  SPEX_ASSIGN_OR_RETURN(const double lr, args.GetDouble("lr"));
  SPEX_ASSIGN_OR_RETURN(const double l2, args.GetDouble("l2"));
  SPEX_ASSIGN_OR_RETURN(const long seed, args.GetInt("seed"));
  SPEX_ASSIGN_OR_RETURN(const long threads, args.GetInt("threads"));
  SPEX_ASSIGN_OR_RETURN(const long patience, args.GetInt("patience"));
  SPEX_ASSIGN_OR_RETURN(const long shift, args.GetInt("shift"));
  if (args.Get("schedule") == "cosine") {
    spec.options.schedule = LrSchedule::kCosine;
  } else if (args.Get("schedule") != "inverse") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--schedule ", args.Get("schedule"), ": inverse or cosine"));
  }
  spec.options.shift = static_cast<int>(shift);
  spec.options.flip = args.GetBool("flip");
  SPEX_ASSIGN_OR_RETURN(spec.validation_samples, args.GetInt("validation"));
  spec.options.epochs = static_cast<int>(epochs);
  spec.options.batch_size = static_cast<int>(batch);
  spec.options.learning_rate = static_cast<float>(lr);
  spec.options.l2 = static_cast<float>(l2);
  spec.options.seed = static_cast<uint64_t>(seed);
  spec.options.threads = static_cast<int>(threads);
  spec.options.patience = static_cast<int>(patience);
  spec.command =
      absl::StrJoin(std::vector<std::string>(argv, argv + argc), " ");
  return TrainModel(spec);
}

// --- calibrate -------------------------------------------------------------

Args CalibrateArgs() {
  Args args;
  args.Option("model", "", "model file (updated in place)")
      .Option("dataset", "",
              "dataset (default: the one the model was trained on)")
      .Option("max-drop", "", "largest accuracy loss allowed, in points")
      .Option("max-loss", "",
              "or (one exit): the largest loss against the full network, in "
              "points: samples the exit answers with a label the full "
              "network would not give (spex-edge --accuracy_objective's "
              "measure)")
      .Option("exit-fraction", "",
              "or: the fraction of samples that should exit")
      .Option(
          "exit", "0",
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
  const int targets = args.Given("max-drop") + args.Given("max-loss") +
                      args.Given("exit-fraction") + args.Given("stage-budget");
  if (path.empty() || targets != 1 ||
      (chain ? args.Given("exit-fraction") || args.Given("max-loss")
             : args.Given("stage-budget"))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "calibrate needs --model and one of --max-drop, --max-loss or "
        "--exit-fraction (one exit), or --max-drop or --stage-budget (--exit "
        "all)\n",
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
  const std::string dataset_name = args.Get("dataset").empty()
                                       ? proto.training().dataset()
                                       : args.Get("dataset");
  SPEX_ASSIGN_OR_RETURN(const Dataset all_train,
                        LoadDataset(dataset_name, Split::kTrain));
  SPEX_ASSIGN_OR_RETURN(const Dataset test,
                        LoadDataset(dataset_name, Split::kTest));
  if (proto.training().validation_samples() == 0) {
    return absl::FailedPreconditionError(
        path + " records no validation hold-out (training.validation_samples)");
  }
  Dataset train, validation;
  SplitHoldOut(all_train,
               static_cast<int>(proto.training().validation_samples()),
               HoldOutSeed(proto.training().seed()), &train, &validation);

  SPEX_ASSIGN_OR_RETURN(const v1::Encoding encoding,
                        ParseEncoding(args.Get("encoding")));
  SPEX_ASSIGN_OR_RETURN(const double z, args.GetDouble("z"));
  double max_drop_points = -1;
  if (args.Given("max-drop")) {
    SPEX_ASSIGN_OR_RETURN(max_drop_points, args.GetDouble("max-drop"));
    if (!(max_drop_points >= 0 && max_drop_points <= 100)) {
      return absl::InvalidArgumentError(
          "--max-drop must be in [0, 100] points");
    }
  }
  const std::string prefix = args.Get("out-prefix").empty()
                                 ? OutputPrefix(path)
                                 : args.Get("out-prefix");
  if (chain) {
    ChainTarget target;
    target.max_drop_points = max_drop_points;
    if (!args.Given("max-drop")) {
      SPEX_ASSIGN_OR_RETURN(target.stage_budget,
                            args.GetDoubles("stage-budget"));
      for (double b : target.stage_budget) {
        if (!(b >= 0 && b <= 1)) {
          return absl::InvalidArgumentError(
              "--stage-budget fractions are in [0, 1]");
        }
      }
    }
    target.z = z;
    target.judged_samples = test.size();
    return CalibrateChain(path, prefix, std::move(proto), *model, validation,
                          test, encoding, target);
  }
  CalibrationTarget target;
  target.max_drop_points = max_drop_points;
  if (args.Given("max-loss")) {
    SPEX_ASSIGN_OR_RETURN(target.max_loss_points, args.GetDouble("max-loss"));
    if (!(target.max_loss_points >= 0 && target.max_loss_points <= 100)) {
      return absl::InvalidArgumentError(
          "--max-loss must be in [0, 100] points");
    }
  } else if (!args.Given("max-drop")) {
    SPEX_ASSIGN_OR_RETURN(target.exit_fraction,
                          args.GetDouble("exit-fraction"));
    if (!(target.exit_fraction >= 0 && target.exit_fraction <= 1)) {
      return absl::InvalidArgumentError("--exit-fraction must be in [0, 1]");
    }
  }
  target.z = z;
  target.judged_samples = test.size();
  return CalibrateExit(path, prefix, std::move(proto), *model, exit,
                       dataset_name, validation, test, encoding, target);
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
                spex::TrainArgs().Help().c_str(),
                spex::CalibrateArgs().Help().c_str());
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
