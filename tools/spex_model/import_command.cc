#include "tools/spex_model/import_command.h"

#include <cmath>
#include <cstdio>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/model/model_file.h"
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

int RunImportCommand(const std::vector<std::string>& args) {
  OnnxImportOptions options;
  std::string input, output;
  bool split_given = false;
  options.source = absl::StrCat("spex-model import ", absl::StrJoin(args, " "));
  for (size_t i = 0; i < args.size(); ++i) {
    std::string name = args[i], value;
    const bool option = name.rfind("-", 0) == 0;
    if (!option) {
      if (!input.empty()) return Usage("one ONNX file at a time");
      input = name;
      continue;
    }
    if (name == "--allow-dense") {
      options.allow_dense = true;
      continue;
    }
    if (const size_t equals = name.find('='); equals != std::string::npos) {
      value = name.substr(equals + 1);
      name = name.substr(0, equals);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return Usage(name + " needs a value");
    }
    if (name == "-o" || name == "--out") {
      output = value;
    } else if (name == "--split-after") {
      split_given = absl::SimpleAtoi(value, &options.split_after);
      if (!split_given) return Usage("--split-after takes a layer number");
    } else if (name == "--exit") {
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
    } else if (name == "--input-scale") {
      if (!ParseFloat(value, &options.input_scale) ||
          options.input_scale == 0) {
        return Usage("--input-scale takes a finite non-zero number");
      }
    } else if (name == "--input-offset") {
      if (!ParseFloat(value, &options.input_offset)) {
        return Usage("--input-offset takes a finite number");
      }
    } else if (name == "--input-range") {
      const std::vector<std::string> parts = absl::StrSplit(value, ',');
      std::pair<float, float> range;
      if (parts.size() != 2 || !ParseFloat(parts[0], &range.first) ||
          !ParseFloat(parts[1], &range.second) || range.first > range.second) {
        return Usage("--input-range takes MIN,MAX");
      }
      options.input_range = range;
    } else if (name == "--class-names") {
      options.class_names = absl::StrSplit(value, ',');
    } else {
      return Usage("unknown option '" + name + "'");
    }
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
