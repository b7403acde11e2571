// libFuzzer target over the ONNX importer (spex-model import): any bytes
// must give a model or a clear error, never a crash, a hang, a sanitizer
// report or an allocation far beyond the input's size (scripts/fuzz.sh
// runs it with a 2 GB limit). An import that succeeds must load and run.
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "common/model/model.h"
#include "tools/onnx/onnx_import.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  // As the seeds are imported: the MLP with its exit, the CNN without.
  spex::OnnxImportOptions with_exit, plain;
  with_exit.split_after = 1;
  with_exit.exits = {{"exit", 1, 0.5f}};
  with_exit.input_range = std::make_pair(-1.0f, 1.0f);
  plain.split_after = 2;
  plain.allow_dense = true;
  for (const spex::OnnxImportOptions* options : {&with_exit, &plain}) {
    absl::StatusOr<spex::OnnxImport> imported =
        spex::ImportOnnx(bytes, *options);
    if (!imported.ok()) continue;
    auto model = spex::Model::FromProto(imported->model);
    if (!model.ok())
      __builtin_trap();  // the importer promised a loadable model
    const spex::ModelPart& full = (*model)->full();
    spex::Workspace workspace(full);
    std::vector<float> x(full.input_width(), 0.5f), y(full.output_width());
    std::vector<float> exits(full.exits().size() * full.exit_width());
    full.Forward(x.data(), y.data(), exits.data(), &workspace);
  }
  return 0;
}
