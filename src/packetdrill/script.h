// The parsed form of a packetdrill script (github.com/google/packetdrill, gtests/net/packetdrill/script.h
// and parser.y): command-line options given in the script, then events, each with a time and an action
// (a packet, a system call, a shell command or a %{ python }% block).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ustack::drill {

// An expression in a system call: a number, a symbol (SOCK_STREAM), a string, `...`, a list [1, 2],
// a struct {l_onoff=1, l_linger=0}, a function call htons(8080), or an OR of those (O_RDWR|O_NONBLOCK).
struct Expr {
  enum class Kind { kInt, kIdent, kString, kEllipsis, kList, kStruct, kCall, kOr };
  Kind kind = Kind::kEllipsis;
  int64_t num = 0;
  std::string text;                 // kIdent, kString; kCall: the function's name
  std::vector<Expr> items;          // kList, kStruct (values), kCall (arguments), kOr (operands)
  std::vector<std::string> fields;  // kStruct: the field names ("" for positional), parallel to items
  std::string str() const;
};

// Absolute `1.5`, relative `+.1`, any `*`, ranges `1~2` and `+1~+2`.
enum class TimeType { kAbsolute, kRelative, kAny, kAbsoluteRange, kRelativeRange };
struct EventTime {
  TimeType type = TimeType::kAbsolute;
  int64_t usecs = 0;
  int64_t end_usecs = 0;  // ranges
};

struct TcpOptionSpec {
  enum class Kind { kNop, kEol, kMss, kWscale, kSackOk, kSack, kTimestamp, kOther };
  Kind kind = Kind::kNop;
  uint32_t a = 0, b = 0;                              // mss / wscale / TS val, ecr
  std::vector<std::pair<uint32_t, uint32_t>> blocks;  // SACK start:end
  std::string name;                                   // kOther: as written (FO, md5, mpcapable, ...)
};

struct PacketSpec {
  bool inbound = true;
  std::string proto = "tcp";  // "tcp"; "udp", "icmp" and others are parsed but not run yet
  std::string ecn;            // "", "noecn", "ect0", "ect1", "ce", "ect01"
  uint8_t flags = 0;
  std::string flags_text;
  uint32_t start = 0, end = 0, len = 0;
  std::optional<uint32_t> ack, win, urg;
  bool any_options = false;  // <...>
  bool has_options = false;
  std::vector<TcpOptionSpec> options;
  std::string unsupported;  // why the runner can't send or check this packet ("" if it can)
};

struct SyscallSpec {
  std::string name;
  std::vector<Expr> args;
  Expr result;             // kInt, or kEllipsis
  std::string errno_name;  // "EAGAIN" when the script expects -1 EAGAIN
  bool blocking = false;   // `start...end name(...)`
  int64_t end_usecs = 0;   // the end time as written (relative to the previous event, as packetdrill)
  bool end_relative = false;
};

struct Event {
  enum class Type { kPacket, kSyscall, kCommand, kCode };
  Type type = Type::kPacket;
  int line = 0;
  EventTime time;
  PacketSpec packet;
  SyscallSpec call;
  std::string text;    // kCommand: the shell command; kCode: the %{ }% block
  std::string source;  // the script line, for reports
};

struct Script {
  std::string path;
  std::vector<std::pair<std::string, std::string>> options;  // --name=value, from the script
  std::vector<std::string> directives;                       // #ifdef and other nplab extensions
  std::vector<Event> events;
};

}  // namespace ustack::drill
