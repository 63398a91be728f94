#include "packetdrill/packets.h"

#include "wire/tcp.h"

namespace ustack::drill {

std::string flags_str(uint8_t f) {
  std::string s;
  if (f & 0x02) s += 'S';
  if (f & 0x01) s += 'F';
  if (f & 0x04) s += 'R';
  if (f & 0x08) s += 'P';
  if (f & 0x20) s += 'U';
  if (f & 0x40) s += 'E';
  if (f & 0x80) s += 'W';
  if (f & 0x10) s += '.';
  return s.empty() ? "-" : s;
}

std::string options_str(const std::vector<TcpOptionSpec>& v) {
  std::string s;
  for (const auto& o : v) {
    if (!s.empty()) s += ",";
    switch (o.kind) {
      case TcpOptionSpec::Kind::kNop:
        s += "nop";
        break;
      case TcpOptionSpec::Kind::kEol:
        s += "eol";
        break;
      case TcpOptionSpec::Kind::kMss:
        s += std::string("mss ") + std::to_string(o.a);
        break;
      case TcpOptionSpec::Kind::kWscale:
        s += std::string("wscale ") + std::to_string(o.a);
        break;
      case TcpOptionSpec::Kind::kSackOk:
        s += "sackOK";
        break;
      case TcpOptionSpec::Kind::kSack:
        s += "sack";
        for (auto& b : o.blocks)
          s += std::string(" ") + std::to_string(b.first) + ":" + std::to_string(b.second);
        break;
      case TcpOptionSpec::Kind::kTimestamp:
        s += std::string("TS val ") + std::to_string(o.a) + " ecr " + std::to_string(o.b);
        break;
      case TcpOptionSpec::Kind::kOther:
        s += o.name;
        break;
    }
  }
  return s;
}

std::string packet_str(uint8_t flags, uint32_t start, uint32_t len, std::optional<uint32_t> ack,
                       std::optional<uint32_t> win, const std::vector<TcpOptionSpec>* opts, bool any) {
  std::string s = flags_str(flags) + " " + std::to_string(start) + ":" + std::to_string(start + len) + "(" +
                  std::to_string(len) + ")";
  if (ack) s += std::string(" ack ") + std::to_string(*ack);
  if (win) s += std::string(" win ") + std::to_string(*win);
  if (any)
    s += " <...>";
  else if (opts && !opts->empty())
    s += std::string(" <") + options_str(*opts) + ">";
  return s;
}

// Converts a live option list into the script's form (SACK blocks and TS as they are on the wire).
std::vector<TcpOptionSpec> to_spec(const std::vector<LiveOption>& opts) {
  std::vector<TcpOptionSpec> out;
  for (const auto& o : opts) {
    TcpOptionSpec s;
    const std::byte* d = o.data.data();
    size_t n = o.data.size();
    switch (o.kind) {
      case 0:
        s.kind = TcpOptionSpec::Kind::kEol;
        break;
      case 1:
        s.kind = TcpOptionSpec::Kind::kNop;
        break;
      case 2:
        s.kind = TcpOptionSpec::Kind::kMss;
        if (n == 2) s.a = wire::load_be16(d);
        break;
      case 3:
        s.kind = TcpOptionSpec::Kind::kWscale;
        if (n == 1) s.a = wire::load8(d);
        break;
      case 4:
        s.kind = TcpOptionSpec::Kind::kSackOk;
        break;
      case 5:
        s.kind = TcpOptionSpec::Kind::kSack;
        for (size_t i = 0; i + 8 <= n; i += 8)
          s.blocks.emplace_back(wire::load_be32(d + i), wire::load_be32(d + i + 4));
        break;
      case 8:
        s.kind = TcpOptionSpec::Kind::kTimestamp;
        if (n == 8) {
          s.a = wire::load_be32(d);
          s.b = wire::load_be32(d + 4);
        }
        break;
      default:
        s.kind = TcpOptionSpec::Kind::kOther;
        s.name = std::string("kind") + std::to_string(o.kind);
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace ustack::drill
