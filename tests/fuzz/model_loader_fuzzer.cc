// libFuzzer target over the model loader: any bytes must give a model or a
// clear error, never a crash, a hang or a sanitizer report. Mutated bytes
// rarely keep a matching model_id, so every input that parses is also tried
// with its id recomputed, which carries the fuzzer into the structural checks.
//
// Built into model_test, whose driver feeds it mutations for a bounded time
// on every test run. It also links as-is with libFuzzer for longer runs,
// from the repository root after a native build (one command line):
//   clang++-14 -std=c++17 -fsanitize=fuzzer -I. -Ibuild/native/proto
//     tests/fuzz/model_loader_fuzzer.cc build/native/common/libspex_common.a
//     build/native/proto/libspex_proto.a -lprotobuf
//     /usr/lib/x86_64-linux-gnu/libabsl_*.so -o model_loader_fuzzer
//   ./model_loader_fuzzer -max_total_time=600 CORPUS_DIR
// (a directory holding a model file or two, e.g. results/fashion-default.spex).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/model/model.h"
#include "common/model/model_file.h"

namespace {

void RunIfLoaded(const spex::v1::Model& proto) {
  auto model = spex::Model::FromProto(proto);
  if (!model.ok()) return;
  // A model that loads must also run.
  const spex::ModelPart& full = (*model)->full();
  spex::Workspace workspace(full);
  std::vector<float> x(full.input_width(), 0.5f), y(full.output_width());
  std::vector<float> exits(full.exits().size() * full.exit_width());
  full.Forward(x.data(), y.data(), exits.data(), &workspace);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::StatusOr<spex::v1::Model> proto = spex::ParseModel(
      absl::string_view(reinterpret_cast<const char*>(data), size));
  if (!proto.ok()) return 0;
  RunIfLoaded(*proto);
  spex::SerializeModel(&*proto);
  RunIfLoaded(*proto);
  return 0;
}
