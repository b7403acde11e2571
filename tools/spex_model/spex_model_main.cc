// spex-model: look inside a model file before deploying it.
//
//   spex-model inspect FILE [--json]   the model's summary (table or JSON)
//   spex-model verify FILE             validate; exit 1 with the reason
//
// Both load the file exactly as the edge agent and the cloud service do, so
// a file that passes `verify` loads there too (on the same kind of CPU).
#include <cstdio>
#include <string>
#include <vector>

#include "common/model/model.h"
#include "tools/common/model_summary.h"

namespace {

constexpr char kUsage[] =
    "usage: spex-model inspect FILE [--json]\n"
    "       spex-model verify FILE\n"
    "\n"
    "inspect  prints layers, sparsity, cost per part (MACs, parameters,\n"
    "         bytes), the split and its size per encoding, the exits and\n"
    "         their thresholds, and the model id; --json for programs.\n"
    "verify   validates the file as the daemons load it; exit status 0 if\n"
    "         it is good, 1 with the loader's message if not.\n";

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
  bool json = false;
  std::string path;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--json" && command == "inspect") {
      json = true;
    } else if (!args[i].empty() && args[i][0] == '-') {
      return Usage("unknown option '" + args[i] + "' for " + command);
    } else if (path.empty()) {
      path = args[i];
    } else {
      return Usage("one FILE at a time");
    }
  }
  if (command != "inspect" && command != "verify") {
    return Usage("unknown command '" + command + "'");
  }
  if (path.empty()) return Usage(command + " needs a FILE");

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
  const std::string out = json ? spex::ModelSummaryJson(**model).Dump() + "\n"
                               : spex::ModelSummaryText(**model);
  std::fputs(out.c_str(), stdout);
  return 0;
}
