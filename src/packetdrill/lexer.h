// The lexer for packetdrill scripts (packetdrill's lexer.l): numbers (decimal, hex, with a fraction for
// times), identifiers, "strings", `shell commands`, %{ python }% blocks, --options, `...` and
// punctuation. Comments (// and /* */) and white space are skipped; each token knows its line and
// whether white space preceded it (packet flags like `S.` are two adjacent tokens).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace ustack::drill {

struct ParseError : std::runtime_error {
  ParseError(int l, const std::string& m) : std::runtime_error(m), line(l) {}
  int line;
};

struct Token {
  enum class Kind { kEnd, kNumber, kIdent, kString, kBacktick, kCode, kOption, kDirective, kPunct };
  Kind kind = Kind::kEnd;
  std::string text;  // as written (kString, kBacktick, kCode: the contents)
  int line = 1;
  bool space_before = false;
  bool is(std::string_view p) const { return kind == Kind::kPunct && text == p; }
  bool ident(std::string_view s) const { return kind == Kind::kIdent && text == s; }
};

class Lexer {
 public:
  explicit Lexer(std::string_view src) : s_(src) {}
  const Token& peek();
  Token next();
  int line() { return peek().line; }
  // The source line `n` (1-based), for reports.
  static std::string line_text(std::string_view src, int n);

 private:
  Token scan();
  std::string_view s_;
  size_t pos_ = 0;
  int line_ = 1;
  bool have_ = false;
  Token tok_;
};

}  // namespace ustack::drill
