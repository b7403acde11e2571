// Plain-text tables for terminal output: columns padded to their widest
// cell, numbers right-aligned.
#ifndef SPEX_TOOLS_COMMON_TEXT_TABLE_H_
#define SPEX_TOOLS_COMMON_TEXT_TABLE_H_

#include <string>
#include <vector>

namespace spex {

class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header);
  void AddRow(std::vector<std::string> cells);
  std::string Render() const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace spex

#endif  // SPEX_TOOLS_COMMON_TEXT_TABLE_H_
