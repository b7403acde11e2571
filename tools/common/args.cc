#include "tools/common/args.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace spex {

Args& Args::Option(const std::string& name, const std::string& default_value,
                   const std::string& help) {
  specs_[name] = {default_value, help, false, false, false, {}};
  order_.push_back(name);
  return *this;
}

Args& Args::Flag(const std::string& name, const std::string& help) {
  specs_[name] = {"false", help, true, false, false, {}};
  order_.push_back(name);
  return *this;
}

Args& Args::Repeated(const std::string& name, const std::string& help) {
  specs_[name] = {"", help, false, false, true, {}};
  order_.push_back(name);
  return *this;
}

absl::Status Args::Parse(int argc, char** argv, int first) {
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0 || arg == "--") {
      positional_.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2), value;
    const size_t eq = name.find('=');
    const bool inline_value = eq != std::string::npos;
    if (inline_value) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    auto it = specs_.find(name);
    if (it == specs_.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown option --", name));
    }
    if (it->second.flag) {
      if (inline_value && value != "true" && value != "false") {
        return absl::InvalidArgumentError(
            absl::StrCat("--", name, " takes no value (or =true / =false)"));
      }
      it->second.value = inline_value ? value : "true";
    } else {
      if (!inline_value) {
        if (i + 1 >= argc) {
          return absl::InvalidArgumentError(
              absl::StrCat("--", name, " needs a value"));
        }
        value = argv[++i];
      }
      it->second.value = value;
      if (it->second.repeated) it->second.values.push_back(value);
    }
    it->second.given = true;
  }
  return absl::OkStatus();
}

std::string Args::Get(const std::string& name) const {
  return specs_.at(name).value;
}

bool Args::GetBool(const std::string& name) const {
  return specs_.at(name).value == "true";
}

bool Args::Given(const std::string& name) const {
  return specs_.at(name).given;
}

const std::vector<std::string>& Args::GetAll(const std::string& name) const {
  return specs_.at(name).values;
}

absl::StatusOr<long> Args::GetInt(const std::string& name) const {
  int64_t value;
  if (!absl::SimpleAtoi(Get(name), &value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, ": '", Get(name), "' is not an integer"));
  }
  return static_cast<long>(value);
}

absl::StatusOr<double> Args::GetDouble(const std::string& name) const {
  double value;
  if (!absl::SimpleAtod(Get(name), &value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, ": '", Get(name), "' is not a number"));
  }
  return value;
}

absl::StatusOr<std::vector<int>> Args::GetInts(const std::string& name) const {
  std::vector<int> values;
  for (absl::string_view part :
       absl::StrSplit(Get(name), absl::ByAnyChar(" ,"), absl::SkipEmpty())) {
    int value;
    if (!absl::SimpleAtoi(part, &value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", name, ": '", part, "' is not an integer"));
    }
    values.push_back(value);
  }
  return values;
}

absl::StatusOr<std::vector<double>> Args::GetDoubles(
    const std::string& name) const {
  std::vector<double> values;
  for (absl::string_view part :
       absl::StrSplit(Get(name), absl::ByAnyChar(" ,"), absl::SkipEmpty())) {
    double value;
    if (!absl::SimpleAtod(part, &value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", name, ": '", part, "' is not a number"));
    }
    values.push_back(value);
  }
  return values;
}

std::string Args::Help() const {
  std::string out;
  for (const std::string& name : order_) {
    const Spec& spec = specs_.at(name);
    std::string left =
        "  --" + name + (spec.flag ? "" : " V") + (spec.repeated ? "..." : "");
    if (left.size() < 26) left.resize(26, ' ');
    absl::StrAppend(&out, left, " ", spec.help);
    if (!spec.flag && !spec.value.empty())
      absl::StrAppend(&out, " [", spec.value, "]");
    out += '\n';
  }
  return out;
}

}  // namespace spex
