#include "tools/spex_model/import_command.h"

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/model/model_file.h"
#include "tools/common/args.h"
#include "tools/onnx/onnx_file.h"
#include "tools/onnx/onnx_import.h"

namespace spex {
namespace {

int Usage(const std::string& problem) {
  std::fprintf(
      stderr,
      "spex-model import: %s\n\n"
      "usage: spex-model import FILE.onnx --split-after N -o FILE.spex\n"
      "         [--exit OUTPUT:LAYER[:THRESHOLD]]... [--allow-dense]\n"
      "         [--input-scale S] [--input-offset O]\n"
      "         [--input-range MIN,MAX] [--class-names A,B,...]\n",
      problem.c_str());
  return 2;
}

bool ParseFloat(const std::string& text, float* value) {
  return absl::SimpleAtof(text, value) && std::isfinite(*value);
}

}  // namespace

int RunImportCommand(int argc, char** argv, int first) {
  // -o, as compilers take it, is --out.
  std::vector<std::string> words(argv + first, argv + argc);
  for (std::string& word : words) {
    if (word == "-o") word = "--out";
  }
  std::vector<char*> pointers;
  for (std::string& word : words) pointers.push_back(word.data());
  Args args;
  args.Option("split-after", "", "the edge runs layers 1..N")
      .Option("out", "", "the spex model file to write (-o)")
      .Repeated("exit", "OUTPUT:LAYER[:THRESHOLD], an exit's graph output")
      .Flag("allow-dense", "keep a layer without exact degrees dense")
      .Option("input-scale", "1", "raw samples are scaled as raw * S + O")
      .Option("input-offset", "0", "O above")
      .Option("input-range", "", "MIN,MAX: the raw values the daemons take")
      .Option("class-names", "", "A,B,...: one name per class");
  if (absl::Status parsed =
          args.Parse(static_cast<int>(pointers.size()), pointers.data(), 0);
      !parsed.ok()) {
    return Usage(std::string(parsed.message()));
  }
  if (args.positional().size() != 1) {
    return Usage("one ONNX file, with --split-after and -o");
  }
  const std::string input = args.positional()[0];
  const std::string output = args.Get("out");
  OnnxImportOptions options;
  options.source = absl::StrCat("spex-model import ",
                                absl::StrJoin(argv + first, argv + argc, " "));
  options.allow_dense = args.GetBool("allow-dense");
  const bool split_given =
      absl::SimpleAtoi(args.Get("split-after"), &options.split_after);
  if (args.Given("split-after") && !split_given) {
    return Usage("--split-after takes a layer number");
  }
  for (const std::string& value : args.GetAll("exit")) {
    const std::vector<std::string> parts = absl::StrSplit(value, ':');
    OnnxExit e;
    float threshold = 0;
    if (parts.size() < 2 || parts.size() > 3 || parts[0].empty() ||
        !absl::SimpleAtoi(parts[1], &e.after_layer) ||
        (parts.size() == 3 && (!ParseFloat(parts[2], &threshold) ||
                               threshold < 0 || threshold > 1))) {
      return Usage("--exit " + value +
                   ": OUTPUT:LAYER or OUTPUT:LAYER:THRESHOLD (in [0, 1])");
    }
    e.output = parts[0];
    if (parts.size() == 3) e.threshold = threshold;
    options.exits.push_back(e);
  }
  if (!ParseFloat(args.Get("input-scale"), &options.input_scale) ||
      options.input_scale == 0) {
    return Usage("--input-scale takes a finite non-zero number");
  }
  if (!ParseFloat(args.Get("input-offset"), &options.input_offset)) {
    return Usage("--input-offset takes a finite number");
  }
  if (args.Given("input-range")) {
    const std::vector<std::string> parts =
        absl::StrSplit(args.Get("input-range"), ',');
    std::pair<float, float> range;
    if (parts.size() != 2 || !ParseFloat(parts[0], &range.first) ||
        !ParseFloat(parts[1], &range.second) || range.first > range.second) {
      return Usage("--input-range takes MIN,MAX");
    }
    options.input_range = range;
  }
  if (args.Given("class-names")) {
    options.class_names = absl::StrSplit(args.Get("class-names"), ',');
  }
  if (input.empty() || output.empty() || !split_given) {
    return Usage("FILE.onnx, --split-after and -o are needed");
  }
  const absl::StatusOr<std::string> bytes =
      ReadFileBytes(input, kMaxOnnxFileBytes);
  absl::StatusOr<OnnxImport> imported =
      bytes.ok() ? ImportOnnx(*bytes, options) : bytes.status();
  if (!imported.ok()) {
    std::fprintf(stderr, "spex-model import: %s: %s\n", input.c_str(),
                 std::string(imported.status().message()).c_str());
    return 1;
  }
  for (const std::string& line : imported->report) {
    std::printf("%s\n", line.c_str());
  }
  if (const absl::Status written = WriteModelFile(output, &imported->model);
      !written.ok()) {
    std::fprintf(stderr, "spex-model import: %s\n",
                 std::string(written.message()).c_str());
    return 1;
  }
  std::printf("wrote %s: model %s, %d layers, split after layer %d, %d exits\n",
              output.c_str(), imported->model.model_id().c_str(),
              imported->model.layers_size(), options.split_after,
              imported->model.exits_size());
  return 0;
}

}  // namespace spex
