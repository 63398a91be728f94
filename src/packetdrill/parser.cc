#include "packetdrill/parser.h"

#include <cstdlib>

namespace ustack::drill {

int64_t parse_time_usecs(std::string_view n) {
  int64_t whole = 0, frac = 0;
  size_t i = 0;
  for (; i < n.size() && n[i] != '.'; ++i) whole = whole * 10 + (n[i] - '0');
  int digits = 0;
  if (i < n.size()) {
    for (++i; i < n.size(); ++i) {
      if (digits < 6) {
        frac = frac * 10 + (n[i] - '0');
        ++digits;
      }
    }
  }
  for (; digits < 6; ++digits) frac *= 10;
  return whole * 1000000 + frac;
}

std::string Expr::str() const {
  switch (kind) {
    case Kind::kInt:
      return std::to_string(num);
    case Kind::kIdent:
      return text;
    case Kind::kString:
      return std::string("\"") + text + "\"";
    case Kind::kEllipsis:
      return "...";
    case Kind::kOr: {
      std::string s;
      for (const Expr& e : items) {
        if (!s.empty()) s += '|';
        s += e.str();
      }
      return s;
    }
    case Kind::kList:
    case Kind::kStruct:
    case Kind::kCall: {
      std::string s = kind == Kind::kList     ? std::string("[")
                      : kind == Kind::kStruct ? std::string("{")
                                              : text;
      if (kind == Kind::kCall) s += '(';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) s += ", ";
        if (kind == Kind::kStruct && !fields[i].empty()) s += fields[i] + "=";
        s += items[i].str();
      }
      s += kind == Kind::kList ? "]" : kind == Kind::kStruct ? "}" : ")";
      return s;
    }
  }
  return "?";
}

namespace {

using K = Token::Kind;

class Parser {
 public:
  Parser(std::string_view text, std::string path) : src_(text), lx_(text) { script_.path = std::move(path); }

  Script run() {
    for (;;) {
      const Token& t = lx_.peek();
      if (t.kind == K::kEnd) break;
      if (t.kind == K::kOption) {
        Token o = lx_.next();
        size_t eq = o.text.find('=');
        script_.options.emplace_back(o.text.substr(0, eq),
                                     eq == std::string::npos ? "" : o.text.substr(eq + 1));
        continue;
      }
      if (t.kind == K::kDirective) {
        script_.directives.push_back(lx_.next().text);
        continue;
      }
      script_.events.push_back(event());
    }
    return std::move(script_);
  }

 private:
  [[noreturn]] void fail(const Token& t, const std::string& what) {
    throw ParseError(t.line,
                     what + " near '" + (t.kind == K::kEnd ? std::string("end of file") : t.text) + "'");
  }
  Token expect_punct(std::string_view p) {
    Token t = lx_.next();
    if (!t.is(p)) fail(t, std::string("expected '") + std::string(p) + "'");
    return t;
  }
  int64_t number(const Token& t) {
    if (t.kind != K::kNumber) fail(t, "expected a number");
    return std::strtoll(t.text.c_str(), nullptr, 0);
  }
  uint32_t u32() { return static_cast<uint32_t>(number(lx_.next())); }
  void skip_line(int line) {
    while (lx_.peek().kind != K::kEnd && lx_.peek().line == line) lx_.next();
  }

  // time: '*' | ['+'] number ['~' ['+'] number]
  EventTime time() {
    EventTime et;
    Token t = lx_.next();
    if (t.is("*")) {
      et.type = TimeType::kAny;
      return et;
    }
    bool rel = false;
    if (t.is("+")) {
      rel = true;
      t = lx_.next();
    }
    if (t.kind != K::kNumber) fail(t, "expected a time");
    et.type = rel ? TimeType::kRelative : TimeType::kAbsolute;
    et.usecs = parse_time_usecs(t.text);
    if (lx_.peek().is("~")) {
      lx_.next();
      Token e = lx_.next();
      bool erel = false;
      if (e.is("+")) {
        erel = true;
        e = lx_.next();
      }
      if (e.kind != K::kNumber) fail(e, "expected a time after '~'");
      if (erel != rel) fail(e, "a time range must be both absolute or both relative");
      et.type = rel ? TimeType::kRelativeRange : TimeType::kAbsoluteRange;
      et.end_usecs = parse_time_usecs(e.text);
    }
    return et;
  }

  Event event() {
    Event ev;
    ev.line = lx_.peek().line;
    ev.source = Lexer::line_text(src_, ev.line);
    const Token& first = lx_.peek();
    if (first.kind == K::kBacktick || first.kind == K::kCode) {
      // A command without a time (as `../common/defaults.sh` at the top of most scripts).
      ev.time.type = TimeType::kRelative;
    } else {
      ev.time = time();
      if (lx_.peek().is("...")) {
        lx_.next();
        Token e = lx_.next();
        bool rel = false;
        if (e.is("+")) {
          rel = true;
          e = lx_.next();
        }
        if (e.kind != K::kNumber) fail(e, "expected the end time of a blocking call");
        ev.call.blocking = true;
        ev.call.end_usecs = parse_time_usecs(e.text);
        ev.call.end_relative = rel;
      }
    }
    const Token& t = lx_.peek();
    if (t.kind == K::kBacktick) {
      ev.type = Event::Type::kCommand;
      ev.text = lx_.next().text;
    } else if (t.kind == K::kCode) {
      ev.type = Event::Type::kCode;
      ev.text = lx_.next().text;
    } else if (t.is("<") || t.is(">")) {
      ev.type = Event::Type::kPacket;
      ev.packet = packet();
    } else if (t.kind == K::kIdent) {
      ev.type = Event::Type::kSyscall;
      bool blocking = ev.call.blocking;
      int64_t end = ev.call.end_usecs;
      bool end_rel = ev.call.end_relative;
      ev.call = syscall();
      ev.call.blocking = blocking;
      ev.call.end_usecs = end;
      ev.call.end_relative = end_rel;
    } else {
      fail(t, "expected a packet, a system call or a command");
    }
    if (ev.call.blocking && ev.type != Event::Type::kSyscall) fail(t, "only system calls can block");
    return ev;
  }

  static bool flag_word(const std::string& w) {
    for (char c : w)
      if (std::string_view("FSRPUEWCA").find(c) == std::string_view::npos) return false;
    return true;
  }

  PacketSpec packet() {
    PacketSpec p;
    Token dir = lx_.next();
    p.inbound = dir.is("<");
    int line = dir.line;
    if (lx_.peek().is("[")) {
      lx_.next();
      Token e = lx_.next();
      p.ecn = e.text;
      expect_punct("]");
    }
    const Token& f = lx_.peek();
    if (f.kind == K::kIdent && !flag_word(f.text)) {
      // udp, icmp, and other protocols: kept, not run yet.
      p.proto = f.text;
      p.unsupported = std::string(p.inbound ? "inbound " : "outbound ") + f.text + " packets";
      skip_line(line);
      return p;
    }
    // Flags: adjacent letters and dots, e.g. `S.`, `F.`, `.`, `SEW`, `-` for none.
    bool first = true;
    for (;;) {
      const Token& x = lx_.peek();
      if (!first && x.space_before) break;
      if (x.kind == K::kIdent && flag_word(x.text)) {
        p.flags_text += x.text;
      } else if (x.is(".") || x.is("-")) {
        p.flags_text += x.text;
      } else {
        break;
      }
      lx_.next();
      first = false;
    }
    if (p.flags_text.empty()) fail(lx_.peek(), "expected TCP flags");
    for (char c : p.flags_text) {
      switch (c) {
        case 'F':
          p.flags |= 0x01;
          break;
        case 'S':
          p.flags |= 0x02;
          break;
        case 'R':
          p.flags |= 0x04;
          break;
        case 'P':
          p.flags |= 0x08;
          break;
        case '.':
          p.flags |= 0x10;
          break;
        case 'U':
          p.flags |= 0x20;
          break;
        case 'E':
          p.flags |= 0x40;
          break;
        case 'W':
          p.flags |= 0x80;
          break;
        default:
          break;  // A (AE, accurate ECN) and C are not modelled
      }
      if (c == 'A' || c == 'C') p.unsupported = "AccECN flags";
    }
    // start:end(len)
    p.start = u32();
    expect_punct(":");
    p.end = u32();
    expect_punct("(");
    p.len = u32();
    expect_punct(")");
    if (lx_.peek().is("!")) lx_.next();  // nplab: "don't check the segment's checksum"
    for (;;) {
      const Token& x = lx_.peek();
      if (x.ident("ack")) {
        lx_.next();
        p.ack = u32();
      } else if (x.ident("win")) {
        lx_.next();
        p.win = u32();
      } else if (x.ident("urg")) {
        lx_.next();
        p.urg = u32();
      } else if (x.is("<")) {
        options(p);
      } else if (x.is("/") && !x.space_before) {
        p.unsupported = "UDP encapsulation (nplab /udp suffix)";  // <...>/udp(9811 > 1)
        skip_line(x.line);
      } else {
        break;
      }
    }
    return p;
  }

  void options(PacketSpec& p) {
    expect_punct("<");
    p.has_options = true;
    if (lx_.peek().is("...")) {
      lx_.next();
      p.any_options = true;
      expect_punct(">");
      return;
    }
    for (;;) {
      Token n = lx_.next();
      TcpOptionSpec o;
      if (n.ident("nop")) {
        o.kind = TcpOptionSpec::Kind::kNop;
      } else if (n.ident("eol")) {
        o.kind = TcpOptionSpec::Kind::kEol;
      } else if (n.ident("mss")) {
        o.kind = TcpOptionSpec::Kind::kMss;
        o.a = u32();
      } else if (n.ident("wscale")) {
        o.kind = TcpOptionSpec::Kind::kWscale;
        o.a = u32();
      } else if (n.ident("sackOK")) {
        o.kind = TcpOptionSpec::Kind::kSackOk;
      } else if (n.ident("sack")) {
        o.kind = TcpOptionSpec::Kind::kSack;
        while (lx_.peek().kind == K::kNumber) {
          uint32_t a = u32();
          expect_punct(":");
          o.blocks.emplace_back(a, u32());
        }
      } else if (n.ident("TS")) {
        o.kind = TcpOptionSpec::Kind::kTimestamp;
        Token v = lx_.next();
        if (!v.ident("val")) fail(v, "expected 'val'");
        o.a = u32();
        Token e = lx_.next();
        if (!e.ident("ecr")) fail(e, "expected 'ecr'");
        o.b = u32();
      } else if (n.kind == K::kIdent) {
        // FO (Fast Open), md5, exp, mpcapable, ...: kept by name; the runner skips the script.
        o.kind = TcpOptionSpec::Kind::kOther;
        o.name = n.text;
        int depth = 0;
        while (lx_.peek().kind != K::kEnd) {
          const Token& x = lx_.peek();
          if (depth == 0 && (x.is(",") || x.is(">"))) break;
          if (x.is("(") || x.is("[")) ++depth;
          if (x.is(")") || x.is("]")) --depth;
          lx_.next();
        }
        p.unsupported = std::string("TCP option ") + n.text;
      } else {
        fail(n, "expected a TCP option");
      }
      p.options.push_back(std::move(o));
      Token sep = lx_.next();
      if (sep.is(">")) break;
      if (!sep.is(",")) fail(sep, "expected ',' or '>' in TCP options");
    }
  }

  SyscallSpec syscall() {
    SyscallSpec c;
    Token name = lx_.next();
    c.name = name.text;
    expect_punct("(");
    if (!lx_.peek().is(")")) {
      for (;;) {
        c.args.push_back(expr());
        Token sep = lx_.next();
        if (sep.is(")")) break;
        if (!sep.is(",")) fail(sep, "expected ',' or ')' in the arguments");
      }
    } else {
      lx_.next();
    }
    expect_punct("=");
    Token r = lx_.next();
    if (r.is("...")) {
      c.result.kind = Expr::Kind::kEllipsis;
    } else {
      bool neg = false;
      if (r.is("-")) {
        neg = true;
        r = lx_.next();
      }
      c.result.kind = Expr::Kind::kInt;
      c.result.num = neg ? -number(r) : number(r);
      const Token& e = lx_.peek();
      if (e.kind == K::kIdent && e.line == r.line) c.errno_name = lx_.next().text;
      {
        if (lx_.peek().is("(") && lx_.peek().line == r.line) {
          // Free text: (Resource temporarily unavailable).
          int depth = 0;
          do {
            Token x = lx_.next();
            if (x.kind == K::kEnd) fail(x, "unterminated errno text");
            if (x.is("(")) ++depth;
            if (x.is(")")) --depth;
          } while (depth > 0);
        }
      }
    }
    return c;
  }

  Expr expr() {
    Expr e = primary();
    if (!lx_.peek().is("|")) return e;
    Expr o;
    o.kind = Expr::Kind::kOr;
    o.items.push_back(std::move(e));
    while (lx_.peek().is("|")) {
      lx_.next();
      o.items.push_back(primary());
    }
    return o;
  }

  Expr primary() {
    Token t = lx_.next();
    Expr e;
    if (t.is("...")) return e;
    if (t.kind == K::kNumber || t.is("-")) {
      bool neg = t.is("-");
      if (neg) t = lx_.next();
      e.kind = Expr::Kind::kInt;
      e.num = neg ? -number(t) : number(t);
      return e;
    }
    if (t.kind == K::kString) {
      e.kind = Expr::Kind::kString;
      e.text = t.text;
      return e;
    }
    if (t.kind == K::kIdent) {
      e.text = t.text;
      if (lx_.peek().is("(")) {
        e.kind = Expr::Kind::kCall;
        lx_.next();
        if (lx_.peek().is(")")) {
          lx_.next();
          return e;
        }
        for (;;) {
          e.items.push_back(expr());
          Token sep = lx_.next();
          if (sep.is(")")) break;
          if (!sep.is(",")) fail(sep, "expected ',' or ')'");
        }
        return e;
      }
      e.kind = Expr::Kind::kIdent;
      return e;
    }
    if (t.is("[")) {
      e.kind = Expr::Kind::kList;
      if (lx_.peek().is("]")) {
        lx_.next();
        return e;
      }
      for (;;) {
        e.items.push_back(expr());
        Token sep = lx_.next();
        if (sep.is("]")) break;
        if (!sep.is(",")) fail(sep, "expected ',' or ']'");
      }
      return e;
    }
    if (t.is("{")) {
      e.kind = Expr::Kind::kStruct;
      if (lx_.peek().is("}")) {
        lx_.next();
        return e;
      }
      for (;;) {
        // name=value, name(arg)=value, or a positional value.
        Expr v = expr();
        if (lx_.peek().is("=")) {
          lx_.next();
          if (v.kind != Expr::Kind::kIdent && v.kind != Expr::Kind::kCall) fail(lx_.peek(), "bad field name");
          e.fields.push_back(v.text);
          e.items.push_back(expr());
        } else {
          e.fields.emplace_back();
          e.items.push_back(std::move(v));
        }
        Token sep = lx_.next();
        if (sep.is("}")) break;
        if (!sep.is(",")) fail(sep, "expected ',' or '}'");
      }
      return e;
    }
    fail(t, "expected an expression");
  }

  std::string_view src_;
  Lexer lx_;
  Script script_;
};

}  // namespace

Script parse_script(std::string_view text, std::string path) { return Parser(text, std::move(path)).run(); }

}  // namespace ustack::drill
