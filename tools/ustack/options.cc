#include "options.h"

#include <cstdlib>

namespace ustack::cli {

Options::Options(int argc, char** argv, std::set<std::string> with_value, std::set<std::string> flags) {
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a.size() < 2 || a[0] != '-') {
      positional_.push_back(a);
      continue;
    }
    std::string value;
    bool inline_value = false;
    if (auto eq = a.find('='); eq != std::string::npos && a.rfind("--", 0) == 0) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
      inline_value = true;
    }
    if (flags.count(a)) {
      flags_set_.insert(a);
    } else if (with_value.count(a)) {
      if (!inline_value) {
        if (i + 1 >= argc) {
          error_ = "option " + a + " needs a value";
          return;
        }
        value = argv[++i];
      }
      values_[a] = value;
    } else {
      error_ = "unknown option " + a;
      return;
    }
  }
}

std::optional<std::string> Options::get(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::nullopt : std::optional(it->second);
}

double Options::get_double(const std::string& name, double def) {
  auto v = get(name);
  if (!v) return def;
  char* end = nullptr;
  double d = std::strtod(v->c_str(), &end);
  if (end == v->c_str() || *end != '\0') {
    error_ = "bad number for " + name + ": " + *v;
    return def;
  }
  return d;
}

long Options::get_long(const std::string& name, long def) {
  auto v = get(name);
  if (!v) return def;
  char* end = nullptr;
  long d = std::strtol(v->c_str(), &end, 10);
  if (end == v->c_str() || *end != '\0') {
    error_ = "bad number for " + name + ": " + *v;
    return def;
  }
  return d;
}

}  // namespace ustack::cli
