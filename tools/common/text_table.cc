#include "tools/common/text_table.h"

#include <algorithm>
#include <cctype>

namespace spex {
namespace {

bool LooksNumeric(const std::string& cell) {
  return !cell.empty() && (std::isdigit(static_cast<unsigned char>(cell[0])) ||
                           (cell[0] == '-' && cell.size() > 1));
}

}  // namespace

TextTable::TextTable(std::vector<std::string> header)
    : header_(std::move(header)) {}

void TextTable::AddRow(std::vector<std::string> cells) {
  cells.resize(header_.size());
  rows_.push_back(std::move(cells));
}

std::string TextTable::Render() const {
  std::vector<size_t> widths(header_.size());
  for (size_t c = 0; c < header_.size(); ++c) widths[c] = header_[c].size();
  for (const auto& row : rows_) {
    for (size_t c = 0; c < row.size(); ++c) {
      widths[c] = std::max(widths[c], row[c].size());
    }
  }
  std::string out;
  const auto line = [&](const std::vector<std::string>& cells, bool header) {
    for (size_t c = 0; c < cells.size(); ++c) {
      const std::string pad(widths[c] - cells[c].size(), ' ');
      if (c > 0) out += "  ";
      if (!header && LooksNumeric(cells[c])) {
        out += pad + cells[c];
      } else {
        out += cells[c] + (c + 1 < cells.size() ? pad : "");
      }
    }
    out += '\n';
  };
  line(header_, true);
  std::vector<std::string> rule;
  for (size_t width : widths) rule.push_back(std::string(width, '-'));
  line(rule, true);
  for (const auto& row : rows_) line(row, false);
  return out;
}

}  // namespace spex
