// spex-model: look inside a model file before deploying it.
//
//   spex-model inspect FILE [--json]   the model's summary (table or JSON)
//   spex-model verify FILE             validate; exit 1 with the reason
//   spex-model labels FILE [--dataset=fashion-mnist] [--repeat=N]
//                     [--drift=SPEC --drift_seed=S] [--out=FILE]
//                                      the full network's and the exit's
//                                      label of every test sample
//   spex-model pattern --n_in=N --n_out=M --fan_out=D [--kind=K]
//                     (--seed=S | --model_seed=S --layer=J [--exit=E])
//                                      a junction's connection pattern
//   spex-model import FILE.onnx --split-after N -o FILE.spex
//                     [--exit OUTPUT:LAYER[:THRESHOLD]]... [--allow-dense]
//                                      an ONNX network as a spex model
//
// All load the file exactly as the edge agent and the cloud service do, so
// a file that passes `verify` loads there too (on the same kind of CPU).
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "common/model/model.h"
#include "tools/common/args.h"
#include "tools/common/model_summary.h"
#include "tools/data/corruption.h"
#include "tools/data/dataset.h"
#include "tools/spex_model/full_labels.h"
#include "tools/spex_model/import_command.h"
#include "tools/spex_model/pattern_command.h"

namespace {

constexpr char kUsage[] =
    "usage: spex-model inspect FILE [--json]\n"
    "       spex-model verify FILE\n"
    "       spex-model labels FILE [--dataset=fashion-mnist] [--repeat=N]\n"
    "                         [--drift=SPEC] [--drift_seed=S] [--out=FILE]\n"
    "       spex-model pattern --n_in=N --n_out=M --fan_out=D [--kind=K]\n"
    "                          (--seed=S | --model_seed=S --layer=J "
    "[--exit=E])\n"
    "       spex-model import FILE.onnx --split-after N -o FILE.spex\n"
    "                         [--exit OUTPUT:LAYER[:THRESHOLD]]... "
    "[--allow-dense]\n"
    "                         [--input-scale S] [--input-offset O]\n"
    "                         [--input-range MIN,MAX] [--class-names A,B,...]\n"
    "\n"
    "inspect  prints layers, sparsity, cost per part (MACs, parameters,\n"
    "         bytes), the split and its size per encoding, the exits and\n"
    "         their thresholds, and the model id; --json for programs.\n"
    "verify   validates the file as the daemons load it; exit status 0 if\n"
    "         it is good, 1 with the loader's message if not.\n"
    "labels   one JSON line per test sample: the full network's label (the\n"
    "         cut crossed as int8, as the stages run it), the first exit's\n"
    "         label and confidence; --repeat and --drift make the same\n"
    "         samples as spex-replay with the same flags.\n"
    "pattern  the connection pattern spex gives a junction of N inputs and\n"
    "         M outputs, D outputs per input (a convolution's channels), as\n"
    "         JSON: each output's inputs and the indices a file stores. K is\n"
    "         random (default), block, tile4 or tile8 (random where K does\n"
    "         not fit); --seed is the pattern seed a file records, or\n"
    "         --model_seed/--layer/--exit give spex-train --seed's pattern\n"
    "         of that layer (1-based; --exit for an exit's layer).\n"
    "import   reads an ONNX network (PyTorch's export: Gemm, MatMul + Add,\n"
    "         Relu, Flatten, Reshape, Conv, MaxPool, AveragePool,\n"
    "         GlobalAveragePool, Pad of zeros, Softmax, Identity, Dropout),\n"
    "         recovers each layer's predefined-sparse pattern from its zeros\n"
    "         (tile, block or random; a layer without exact degrees is\n"
    "         refused, or kept dense with --allow-dense) and writes a spex\n"
    "         model; an exit is a graph output branching off after backbone\n"
    "         layer LAYER.\n"
    "         Raw samples are scaled as raw * S + O (defaults 1 and 0).\n";

int Usage(const std::string& problem) {
  std::fprintf(stderr, "spex-model: %s\n\n%s", problem.c_str(), kUsage);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  const std::string command = args[0];
  if (command == "import") return spex::RunImportCommand(argc, argv, 2);
  if (command == "pattern") {
    spex::Args options;
    spex::DeclarePatternOptions(&options);
    if (absl::Status parsed = options.Parse(argc, argv, 2); !parsed.ok()) {
      return Usage(std::string(parsed.message()) + " for pattern");
    }
    if (!options.positional().empty()) {
      return Usage("pattern takes options only, not '" +
                   options.positional()[0] + "'");
    }
    const absl::StatusOr<std::string> json = spex::PatternJson(options);
    if (!json.ok()) return Usage(std::string(json.status().message()));
    std::printf("%s\n", json->c_str());
    return 0;
  }
  if (command != "inspect" && command != "verify" && command != "labels") {
    return Usage("unknown command '" + command + "'");
  }
  spex::Args options;
  if (command == "inspect") options.Flag("json", "JSON for programs");
  if (command == "labels") {
    options.Option("dataset", "fashion-mnist", "the test set")
        .Option("repeat", "1", "the test set this many times")
        .Option("drift", "", "as spex-replay --drift")
        .Option("drift_seed", "1", "as spex-replay --drift_seed")
        .Option("out", "", "the file to write (default: standard output)");
  }
  if (absl::Status parsed = options.Parse(argc, argv, 2); !parsed.ok()) {
    return Usage(std::string(parsed.message()) + " for " + command);
  }
  if (options.positional().size() > 1) return Usage("one FILE at a time");
  if (options.positional().empty()) return Usage(command + " needs a FILE");
  const std::string path = options.positional()[0];
  const bool json = command == "inspect" && options.GetBool("json");

  const auto model = spex::Model::Load(path);
  if (!model.ok()) {
    std::fprintf(stderr, "spex-model: %s: %s\n",
                 command == "verify" ? "INVALID" : "cannot load",
                 std::string(model.status().message()).c_str());
    return 1;
  }
  if (command == "verify") {
    std::printf("OK %s: model %s, %d classes, split after layer %d\n",
                path.c_str(), (*model)->id().c_str(), (*model)->num_classes(),
                (*model)->split_after());
    return 0;
  }
  if (command == "labels") {
    long repeat = 0, seed = 0;
    if (!absl::SimpleAtoi(options.Get("repeat"), &repeat) || repeat < 1 ||
        !absl::SimpleAtoi(options.Get("drift_seed"), &seed)) {
      return Usage("--repeat is at least 1, --drift_seed an integer");
    }
    auto data = spex::LoadDataset(options.Get("dataset"), spex::Split::kTest);
    if (!data.ok()) {
      std::fprintf(stderr, "spex-model: %s\n",
                   std::string(data.status().message()).c_str());
      return 1;
    }
    // The samples spex-replay sends with the same flags.
    spex::DriftSchedule schedule;
    if (!options.Get("drift").empty()) {
      auto parsed = spex::DriftSchedule::Parse(options.Get("drift"),
                                               static_cast<uint64_t>(seed));
      if (!parsed.ok()) return Usage(std::string(parsed.status().message()));
      if (!data->eight_bit || data->shape.size() != 2) {
        return Usage("--drift corrupts 8-bit images; " + data->name +
                     "'s samples are not");
      }
      schedule = *parsed;
    }
    *data = spex::ApplyDrift(*data, static_cast<int64_t>(data->size()) * repeat,
                             schedule);
    std::ofstream file;
    if (!options.Get("out").empty()) file.open(options.Get("out"));
    const absl::Status written = spex::WriteFullLabels(
        **model, *data, options.Get("out").empty() ? std::cout : file);
    if (!written.ok()) {
      std::fprintf(stderr, "spex-model: %s\n",
                   std::string(written.message()).c_str());
      return 1;
    }
    return 0;
  }
  const std::string out = json ? spex::ModelSummaryJson(**model).Dump() + "\n"
                               : spex::ModelSummaryText(**model);
  std::fputs(out.c_str(), stdout);
  return 0;
}
