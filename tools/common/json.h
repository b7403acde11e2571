// A small JSON value for the tools' machine-readable output (reports,
// `--json`). Objects keep their keys in insertion order so that output is
// stable and diffs stay readable.
#ifndef SPEX_TOOLS_COMMON_JSON_H_
#define SPEX_TOOLS_COMMON_JSON_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace spex {

class Json {
 public:
  Json() : kind_(Kind::kNull) {}
  Json(bool value) : kind_(Kind::kBool), bool_(value) {}        // NOLINT
  Json(int value) : Json(static_cast<int64_t>(value)) {}        // NOLINT
  Json(unsigned value) : Json(static_cast<int64_t>(value)) {}   // NOLINT
  Json(int64_t value) : kind_(Kind::kInt), int_(value) {}       // NOLINT
  Json(double value) : kind_(Kind::kDouble), double_(value) {}  // NOLINT
  Json(float value) : Json(static_cast<double>(value)) {}       // NOLINT
  Json(std::string value)
      : kind_(Kind::kString), string_(std::move(value)) {}  // NOLINT
  Json(const char* value) : Json(std::string(value)) {}     // NOLINT

  static Json Object();
  static Json Array();

  // Object: adds or replaces `key`. Returns *this for chaining.
  Json& Set(const std::string& key, Json value);
  // Array: appends.
  Json& Push(Json value);

  // Pretty-printed with `indent` spaces per level; 0: one line. Non-finite
  // doubles become null (JSON has no NaN).
  std::string Dump(int indent = 2) const;

 private:
  enum class Kind { kNull, kBool, kInt, kDouble, kString, kArray, kObject };
  void DumpTo(std::string* out, int indent, int depth) const;

  Kind kind_;
  bool bool_ = false;
  int64_t int_ = 0;
  double double_ = 0;
  std::string string_;
  std::vector<Json> items_;
  std::vector<std::string> keys_;  // objects: keys_[i] names items_[i]
};

// `text` as a JSON string literal, quotes included.
std::string JsonQuote(const std::string& text);

}  // namespace spex

#endif  // SPEX_TOOLS_COMMON_JSON_H_
