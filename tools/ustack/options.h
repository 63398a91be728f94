// A small command-line parser: `--name value`, `--name=value`, `-x value` and flags, plus positionals.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace ustack::cli {

class Options {
 public:
  // `with_value`: options that take a value; `flags`: options that do not. Anything else starting with
  // '-' is an error.
  Options(int argc, char** argv, std::set<std::string> with_value, std::set<std::string> flags);
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  bool has(const std::string& name) const { return values_.count(name) > 0 || flags_set_.count(name) > 0; }
  std::optional<std::string> get(const std::string& name) const;
  // Parsed numbers; a malformed value sets an error and returns the default.
  double get_double(const std::string& name, double def);
  long get_long(const std::string& name, long def);
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::string> values_;
  std::set<std::string> flags_set_;
  std::vector<std::string> positional_;
  std::string error_;
};

}  // namespace ustack::cli
