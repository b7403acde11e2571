// `spex-model import`: an ONNX file to a spex model file (tools/onnx), with
// a report of what was found in each layer.
#ifndef SPEX_TOOLS_SPEX_MODEL_IMPORT_COMMAND_H_
#define SPEX_TOOLS_SPEX_MODEL_IMPORT_COMMAND_H_

namespace spex {

// argv[first..argc) follow "import". Returns the exit status: 0 written, 1
// the file cannot be imported (the reason on stderr), 2 a usage error.
int RunImportCommand(int argc, char** argv, int first);

}  // namespace spex

#endif  // SPEX_TOOLS_SPEX_MODEL_IMPORT_COMMAND_H_
