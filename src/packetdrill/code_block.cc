#include "packetdrill/code_block.h"

#include <cctype>
#include <map>
#include <vector>

namespace ustack::drill {

namespace {

// Linux's tcp_ca_state values (include/net/tcp.h), as packetdrill's Python code sees them.
const std::map<std::string, int64_t>& constants() {
  static const std::map<std::string, int64_t> m = {
      {"TCP_CA_Open", 0},     {"TCP_CA_Disorder", 1}, {"TCP_CA_CWR", 2},
      {"TCP_CA_Recovery", 3}, {"TCP_CA_Loss", 4},
  };
  return m;
}

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r\n");
  size_t b = s.find_last_not_of(" \t\r\n");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

// Splits the block into statements: newlines and `;` end one, a trailing `\` continues it, `#` starts a
// comment. Quotes are respected so that `'a;b'` in a message stays whole.
std::vector<std::string> statements(const std::string& code) {
  std::vector<std::string> out;
  std::string cur;
  char quote = 0;
  bool comment = false;
  for (size_t i = 0; i < code.size(); ++i) {
    char c = code[i];
    if (comment) {
      if (c == '\n') {
        comment = false;
        out.push_back(cur);
        cur.clear();
      }
      continue;
    }
    if (quote) {
      cur += c;
      if (c == quote) quote = 0;
      continue;
    }
    if (c == '\'' || c == '"') {
      quote = c;
      cur += c;
    } else if (c == '#') {
      comment = true;
    } else if (c == '\\' && i + 1 < code.size() && code[i + 1] == '\n') {
      ++i;
      cur += ' ';
    } else if (c == '\n' || c == ';') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  std::vector<std::string> kept;
  for (auto& s : out)
    if (!trim(s).empty()) kept.push_back(trim(s));
  return kept;
}

struct Operand {
  std::string text;
  int64_t value = 0;
};

}  // namespace

CodeResult eval_code_block(const std::string& code,
                           const std::function<std::optional<int64_t>(const std::string&)>& lookup) {
  auto unsupported = [](std::string what) {
    return CodeResult{CodeResult::Kind::kUnsupported, std::move(what)};
  };
  for (const std::string& st : statements(code)) {
    if (st.rfind("assert", 0) != 0 || st.size() < 7 || !std::isspace(static_cast<unsigned char>(st[6])))
      return unsupported(std::string("statement `") + st + "`");
    // The expression ends at the first top-level comma (the message follows it).
    std::string expr = st.substr(7);
    int depth = 0;
    for (size_t i = 0; i < expr.size(); ++i) {
      if (expr[i] == '(') ++depth;
      if (expr[i] == ')') --depth;
      if (expr[i] == ',' && depth == 0) {
        expr = expr.substr(0, i);
        break;
      }
    }
    // Tokens: operands and comparison operators, alternating.
    std::vector<Operand> operands;
    std::vector<std::string> ops;
    size_t i = 0;
    auto skip_space = [&] {
      while (i < expr.size() && std::isspace(static_cast<unsigned char>(expr[i]))) ++i;
    };
    for (;;) {
      skip_space();
      size_t start = i;
      while (i < expr.size() && (std::isalnum(static_cast<unsigned char>(expr[i])) || expr[i] == '_')) ++i;
      std::string word = expr.substr(start, i - start);
      if (word.empty()) return unsupported(std::string("expression `") + trim(expr) + "`");
      Operand o{word, 0};
      if (std::isdigit(static_cast<unsigned char>(word[0]))) {
        size_t used = 0;
        o.value = std::stoll(word, &used, 0);
        if (used != word.size()) return unsupported(std::string("number ") + word);
      } else if (auto c = constants().find(word); c != constants().end()) {
        o.value = c->second;
      } else if (word.rfind("tcpi_", 0) == 0) {
        auto v = lookup(word);
        if (!v) return unsupported(word + " (not in ustack's TCP_INFO)");
        o.value = *v;
      } else {
        return unsupported(std::string("name ") + word);
      }
      operands.push_back(o);
      skip_space();
      if (i >= expr.size()) break;
      std::string op;
      for (const char* cand : {"==", "!=", "<=", ">=", "<", ">"}) {
        if (expr.compare(i, std::char_traits<char>::length(cand), cand) == 0) {
          op = cand;
          break;
        }
      }
      if (op.empty()) return unsupported(std::string("expression `") + trim(expr) + "`");
      ops.push_back(op);
      i += op.size();
    }
    if (ops.empty()) return unsupported(std::string("expression `") + trim(expr) + "`");
    for (size_t k = 0; k < ops.size(); ++k) {
      int64_t a = operands[k].value, b = operands[k + 1].value;
      const std::string& op = ops[k];
      bool ok = op == "=="   ? a == b
                : op == "!=" ? a != b
                : op == "<=" ? a <= b
                : op == ">=" ? a >= b
                : op == "<"  ? a < b
                             : a > b;
      if (!ok) {
        std::string values;
        for (const auto& o : operands) {
          if (o.text.rfind("tcpi_", 0) != 0) continue;
          if (!values.empty()) values += ", ";
          values += o.text + "=" + std::to_string(o.value);
        }
        return CodeResult{CodeResult::Kind::kFailed,
                          std::string("assert ") + trim(expr) + " (" + values + ")"};
      }
    }
  }
  return {};
}

}  // namespace ustack::drill
