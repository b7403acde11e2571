// Runs a built tool as an operator would, through the shell, and captures
// what it prints and its exit status.
#ifndef SPEX_TESTS_TOOLS_RUN_TOOL_H_
#define SPEX_TESTS_TOOLS_RUN_TOOL_H_

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace spex {

struct ToolRun {
  int exit_code;
  std::string output;  // stdout, and stderr unless dropped
};

inline ToolRun RunTool(const std::string& binary, const std::string& arguments,
                       bool with_stderr = true) {
  const std::string command =
      binary + " " + arguments + (with_stderr ? " 2>&1" : " 2>/dev/null");
  FILE* pipe = ::popen(command.c_str(), "r");
  std::string output;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
    output.append(buffer.data(), n);
  }
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

}  // namespace spex

#endif  // SPEX_TESTS_TOOLS_RUN_TOOL_H_
