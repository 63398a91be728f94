// ustack drill: run packetdrill scripts against ustack, in process, in virtual time (docs/conformance.md).
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "commands.h"
#include "packetdrill/runner.h"

namespace ustack::cli {

namespace {

std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '"':
        o += "\\\"";
        break;
      case '\\':
        o += "\\\\";
        break;
      case '\n':
        o += "\\n";
        break;
      case '\t':
        o += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char b[8];
          std::snprintf(b, sizeof b, "\\u%04x", c);
          o += b;
        } else {
          o += c;
        }
    }
  }
  return o;
}

}  // namespace

int cmd_drill(int argc, char** argv) {
  bool json = false;
  drill::RunOptions opts;
  std::vector<std::string> paths;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--json") {
      json = true;
    } else if (a == "--profile" && i + 1 < argc) {
      opts.profile = argv[++i];
    } else if (a.rfind("--profile=", 0) == 0) {
      opts.profile = a.substr(10);
    } else if (a == "--seed" && i + 1 < argc) {
      opts.seed = std::strtoull(argv[++i], nullptr, 10);
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "ustack drill: unknown option %s\n", a.c_str());
      return 2;
    } else {
      paths.push_back(a);
    }
  }
  if (opts.profile != "linux" && opts.profile != "rfc") {
    std::fprintf(stderr, "ustack drill: --profile is linux or rfc\n");
    return 2;
  }
  if (paths.empty()) {
    std::fprintf(stderr, "usage: ustack drill [--json] [--profile linux|rfc] SCRIPT.pkt|DIR...\n");
    return 2;
  }
  // Directories: every *.pkt below, in name order.
  std::vector<std::string> scripts;
  for (const auto& p : paths) {
    std::error_code ec;
    if (std::filesystem::is_directory(p, ec)) {
      std::vector<std::string> found;
      for (const auto& e : std::filesystem::recursive_directory_iterator(p, ec))
        if (e.is_regular_file() && e.path().extension() == ".pkt") found.push_back(e.path().string());
      std::sort(found.begin(), found.end());
      scripts.insert(scripts.end(), found.begin(), found.end());
    } else {
      scripts.push_back(p);
    }
  }
  int pass = 0, fail = 0, skip = 0;
  if (json) std::printf("{\"profile\": \"%s\", \"results\": [\n", opts.profile.c_str());
  for (size_t i = 0; i < scripts.size(); ++i) {
    drill::ScriptResult r = drill::run_script_file(scripts[i], opts);
    (r.outcome == drill::Outcome::kPass ? pass : r.outcome == drill::Outcome::kFail ? fail : skip)++;
    if (json) {
      std::printf(
          "  {\"script\": \"%s\", \"outcome\": \"%s\", \"reason\": \"%s\", \"line\": %d, "
          "\"source\": \"%s\", \"expected\": \"%s\", \"actual\": \"%s\", \"virtual_usecs\": %lld}%s\n",
          json_escape(r.path).c_str(), drill::outcome_name(r.outcome), json_escape(r.reason).c_str(), r.line,
          json_escape(r.source).c_str(), json_escape(r.expected).c_str(), json_escape(r.actual).c_str(),
          static_cast<long long>(r.virtual_usecs), i + 1 < scripts.size() ? "," : "");
      continue;
    }
    std::printf("%s %s", drill::outcome_name(r.outcome), r.path.c_str());
    if (r.outcome == drill::Outcome::kSkip) std::printf(": %s", r.reason.c_str());
    if (r.outcome == drill::Outcome::kFail) {
      if (r.line) std::printf(":%d: %s", r.line, r.source.c_str());
      std::printf("\n    %s", r.reason.c_str());
      if (!r.expected.empty() || !r.actual.empty())
        std::printf("\n    expected: %s\n    actual:   %s", r.expected.c_str(), r.actual.c_str());
    }
    std::printf("\n");
  }
  if (json)
    std::printf("], \"passed\": %d, \"failed\": %d, \"skipped\": %d}\n", pass, fail, skip);
  else
    std::printf("%d passed, %d failed, %d skipped\n", pass, fail, skip);
  return fail ? 1 : 0;
}

}  // namespace ustack::cli
