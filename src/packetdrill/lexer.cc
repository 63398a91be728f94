#include "packetdrill/lexer.h"

#include <cctype>

namespace ustack::drill {

const Token& Lexer::peek() {
  if (!have_) {
    tok_ = scan();
    have_ = true;
  }
  return tok_;
}

Token Lexer::next() {
  peek();
  have_ = false;
  return tok_;
}

std::string Lexer::line_text(std::string_view src, int n) {
  size_t p = 0;
  for (int i = 1; i < n && p != std::string_view::npos; ++i) {
    p = src.find('\n', p);
    if (p != std::string_view::npos) ++p;
  }
  if (p == std::string_view::npos || p >= src.size()) return "";
  size_t e = src.find('\n', p);
  std::string l(src.substr(p, e == std::string_view::npos ? std::string_view::npos : e - p));
  size_t a = l.find_first_not_of(" \t");
  size_t b = l.find_last_not_of(" \t\r");
  return a == std::string::npos ? "" : l.substr(a, b - a + 1);
}

Token Lexer::scan() {
  Token t;
  bool at_line_start = pos_ == 0;
  // White space and comments.
  for (;;) {
    if (pos_ >= s_.size()) break;
    char c = s_[pos_];
    if (c == '\n') {
      ++line_;
      ++pos_;
      t.space_before = true;
      at_line_start = true;
    } else if (c == ' ' || c == '\t' || c == '\r') {
      ++pos_;
      t.space_before = true;
    } else if (s_.substr(pos_, 2) == "//") {
      while (pos_ < s_.size() && s_[pos_] != '\n') ++pos_;
    } else if (s_.substr(pos_, 2) == "/*") {
      size_t e = s_.find("*/", pos_ + 2);
      if (e == std::string_view::npos) throw ParseError(line_, "unterminated /* comment");
      for (size_t i = pos_; i < e; ++i) line_ += s_[i] == '\n';
      pos_ = e + 2;
      t.space_before = true;
    } else {
      break;
    }
  }
  t.line = line_;
  if (pos_ >= s_.size()) return t;
  char c = s_[pos_];
  auto take_until = [&](std::string_view close, size_t skip) {
    size_t e = s_.find(close, pos_ + skip);
    if (e == std::string_view::npos)
      throw ParseError(line_, "unterminated " + std::string(s_.substr(pos_, skip)));
    std::string body(s_.substr(pos_ + skip, e - pos_ - skip));
    for (char x : body) line_ += x == '\n';
    pos_ = e + close.size();
    return body;
  };
  if (c == '`') {
    t.kind = Token::Kind::kBacktick;
    t.text = take_until("`", 1);
    return t;
  }
  if (s_.substr(pos_, 2) == "%{") {
    t.kind = Token::Kind::kCode;
    t.text = take_until("}%", 2);
    return t;
  }
  if (c == '"') {
    t.kind = Token::Kind::kString;
    size_t e = pos_ + 1;
    std::string v;
    while (e < s_.size() && s_[e] != '"') {
      if (s_[e] == '\\' && e + 1 < s_.size()) ++e;
      v += s_[e++];
    }
    if (e >= s_.size()) throw ParseError(line_, "unterminated string");
    pos_ = e + 1;
    t.text = v;
    return t;
  }
  if (at_line_start && c == '#') {
    t.kind = Token::Kind::kDirective;
    size_t e = s_.find('\n', pos_);
    if (e == std::string_view::npos) e = s_.size();
    t.text = std::string(s_.substr(pos_, e - pos_));
    pos_ = e;
    return t;
  }
  if (at_line_start && s_.substr(pos_, 2) == "--") {
    t.kind = Token::Kind::kOption;
    size_t e = pos_;
    while (e < s_.size() && !std::isspace(static_cast<unsigned char>(s_[e]))) ++e;
    t.text = std::string(s_.substr(pos_ + 2, e - pos_ - 2));
    pos_ = e;
    return t;
  }
  auto digit = [&](size_t i) { return i < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i])); };
  if (digit(pos_) || (c == '.' && digit(pos_ + 1) && s_.substr(pos_, 3) != "...")) {
    t.kind = Token::Kind::kNumber;
    size_t e = pos_;
    if (s_.substr(pos_, 2) == "0x" || s_.substr(pos_, 2) == "0X") {
      e += 2;
      while (e < s_.size() && std::isxdigit(static_cast<unsigned char>(s_[e]))) ++e;
    } else {
      while (digit(e)) ++e;
      // A fraction, but not the start of `...` (as in `+0...0.1`).
      if (e < s_.size() && s_[e] == '.' && s_.substr(e, 3) != "...") {
        ++e;
        while (digit(e)) ++e;
      }
    }
    t.text = std::string(s_.substr(pos_, e - pos_));
    pos_ = e;
    return t;
  }
  if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
    t.kind = Token::Kind::kIdent;
    size_t e = pos_;
    while (e < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[e])) || s_[e] == '_')) ++e;
    t.text = std::string(s_.substr(pos_, e - pos_));
    pos_ = e;
    return t;
  }
  t.kind = Token::Kind::kPunct;
  if (s_.substr(pos_, 3) == "...") {
    t.text = "...";
    pos_ += 3;
    return t;
  }
  t.text = std::string(1, c);
  ++pos_;
  return t;
}

}  // namespace ustack::drill
