#include "tools/data/csv_file.h"

#include <cmath>
#include <fstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace spex {
namespace {

// One line's fields: commas separate them, a double-quoted field may hold
// commas, and "" inside quotes is one quote. False on an unclosed quote.
bool SplitFields(const std::string& line, std::vector<std::string>* fields) {
  fields->clear();
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields->push_back(std::move(field));
      field.clear();
    } else {
      field += c;
    }
  }
  fields->push_back(std::move(field));
  return !quoted;
}

}  // namespace

absl::StatusOr<Dataset> ReadCsvDataset(const std::string& path,
                                       const std::string& label_column) {
  std::ifstream file(path);
  if (!file) return absl::NotFoundError(path + ": cannot open");
  return ParseCsvDataset(file, path, label_column);
}

absl::StatusOr<Dataset> ParseCsvDataset(std::istream& file,
                                        const std::string& path,
                                        const std::string& label_column) {
  std::string line;
  std::vector<std::string> header, fields;
  int row = 0;
  const auto error = [&](const std::string& message) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: row %d: %s", path, row, message));
  };
  // Rows end in \n or \r\n; a blank line (the last, usually) is skipped.
  const auto next_line = [&]() {
    while (std::getline(file, line)) {
      ++row;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!absl::StripAsciiWhitespace(line).empty()) return true;
    }
    return false;
  };
  if (!next_line()) return error("empty file: no header");
  if (!SplitFields(line, &header)) return error("a quote is not closed");
  for (std::string& name : header) {
    name = std::string(absl::StripAsciiWhitespace(name));
  }
  int label_at = -1;
  for (size_t c = 0; c < header.size(); ++c) {
    if (header[c] == label_column) label_at = static_cast<int>(c);
  }
  if (label_at < 0) {
    return error(absl::StrFormat(
        "no column named '%s' for the labels (the header has %s)", label_column,
        absl::StrJoin(header, ", ")));
  }
  if (header.size() < 2) return error("no feature column beside the labels");

  Dataset data;
  data.width = static_cast<int>(header.size()) - 1;
  data.shape = {data.width};
  data.eight_bit = true;
  while (next_line()) {
    if (!SplitFields(line, &fields)) return error("a quote is not closed");
    if (fields.size() != header.size()) {
      return error(absl::StrFormat("%d values, the header names %d columns",
                                   fields.size(), header.size()));
    }
    for (size_t c = 0; c < fields.size(); ++c) {
      const std::string where =
          absl::StrFormat("column %d ('%s')", c + 1, header[c]);
      const absl::string_view text = absl::StripAsciiWhitespace(fields[c]);
      double value = 0;
      if (text.empty()) return error(where + ": empty");
      if (!absl::SimpleAtod(text, &value)) {
        return error(absl::StrFormat("%s: '%s' is not a number", where, text));
      }
      if (!std::isfinite(value) || std::fabs(value) > 3.0e38) {
        return error(
            absl::StrFormat("%s: %s is not a finite float", where, text));
      }
      if (static_cast<int>(c) == label_at) {
        if (value != std::floor(value) || value < 0 || value > 255) {
          return error(absl::StrFormat(
              "%s: label %s is not a class number in [0, 255]", where, text));
        }
        data.labels.push_back(static_cast<uint8_t>(value));
        continue;
      }
      const float v = static_cast<float>(value);
      data.eight_bit =
          data.eight_bit && v == std::floor(v) && v >= 0 && v <= 255;
      data.values.push_back(v);
    }
  }
  if (data.labels.empty()) return error("no samples after the header");
  return data;
}

}  // namespace spex
