// `%{ ... }%` blocks: packetdrill runs them as Python with the socket's TCP_INFO fields bound as
// tcpi_* names. The runner evaluates the form the corpus uses to check them, without Python: lines (or
// `;`-separated statements) of `assert EXPR[, message]`, where EXPR is a chain of comparisons
// (`==`, `!=`, `<`, `<=`, `>`, `>=`) between integers, tcpi_* names and TCP_CA_* constants. Anything
// else is reported as unsupported, so the script is skipped rather than passed.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace ustack::drill {

struct CodeResult {
  enum class Kind { kOk, kFailed, kUnsupported };
  Kind kind = Kind::kOk;
  std::string what;  // kFailed: the assertion and the values; kUnsupported: the statement or name
};

// `lookup` gives a tcpi_* field's value, or nothing if the runner doesn't have that field.
CodeResult eval_code_block(const std::string& code,
                           const std::function<std::optional<int64_t>(const std::string&)>& lookup);

}  // namespace ustack::drill
