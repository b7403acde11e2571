// Command-line options of the form --name=value or --name value, declared
// with a default and a help line (or repeatable); unknown options and malformed
// values are errors that name them. Positional arguments are kept in order.
#ifndef SPEX_TOOLS_COMMON_ARGS_H_
#define SPEX_TOOLS_COMMON_ARGS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace spex {

class Args {
 public:
  // Declares --name with a default value ("" for none) and a help line.
  // Flags (options without a value) have default "false".
  Args& Option(const std::string& name, const std::string& default_value,
               const std::string& help);
  Args& Flag(const std::string& name, const std::string& help);
  // Declares --name that may be given several times, each value kept in
  // order (GetAll); none by default.
  Args& Repeated(const std::string& name, const std::string& help);

  // Parses argv[first..argc). InvalidArgument naming an unknown option or a
  // missing value.
  absl::Status Parse(int argc, char** argv, int first);

  std::string Get(const std::string& name) const;
  bool GetBool(const std::string& name) const;
  // InvalidArgument naming the option when the value is not a number.
  absl::StatusOr<long> GetInt(const std::string& name) const;
  absl::StatusOr<double> GetDouble(const std::string& name) const;
  // Whitespace- or comma-separated integers ("784 64 10" or "784,64,10").
  absl::StatusOr<std::vector<int>> GetInts(const std::string& name) const;
  // The same for numbers ("0.3 1").
  absl::StatusOr<std::vector<double>> GetDoubles(const std::string& name) const;
  bool Given(const std::string& name) const;
  // Every value of a Repeated option, in the order given.
  const std::vector<std::string>& GetAll(const std::string& name) const;

  const std::vector<std::string>& positional() const { return positional_; }
  std::string Help() const;

 private:
  struct Spec {
    std::string value;
    std::string help;
    bool flag = false;
    bool given = false;
    bool repeated = false;
    std::vector<std::string> values;  // a Repeated option's
  };
  std::map<std::string, Spec> specs_;
  std::vector<std::string> order_;
  std::vector<std::string> positional_;
};

}  // namespace spex

#endif  // SPEX_TOOLS_COMMON_ARGS_H_
