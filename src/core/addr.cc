#include <charconv>
#include <cstdio>

#include "ustack/addr.h"
#include "ustack/errc.h"

namespace ustack {

namespace {
bool parse_uint(std::string_view s, uint32_t max, uint32_t& out) {
  if (s.empty() || s.size() > 10) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && out <= max;
}
}  // namespace

std::optional<Ipv4Addr> Ipv4Addr::parse(std::string_view s) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) {
    size_t dot = i < 3 ? s.find('.') : s.size();
    if (dot == std::string_view::npos) return std::nullopt;
    uint32_t octet;
    if (!parse_uint(s.substr(0, dot), 255, octet)) return std::nullopt;
    v = (v << 8) | octet;
    s = i < 3 ? s.substr(dot + 1) : std::string_view{};
  }
  return Ipv4Addr{v};
}

std::string Ipv4Addr::to_string() const {
  char b[16];
  std::snprintf(b, sizeof b, "%u.%u.%u.%u", v_ >> 24, (v_ >> 16) & 255, (v_ >> 8) & 255, v_ & 255);
  return b;
}

std::optional<Ipv4Cidr> Ipv4Cidr::parse(std::string_view s) {
  size_t slash = s.find('/');
  auto a = Ipv4Addr::parse(s.substr(0, slash));
  if (!a) return std::nullopt;
  uint32_t len = 32;
  if (slash != std::string_view::npos && !parse_uint(s.substr(slash + 1), 32, len)) return std::nullopt;
  return Ipv4Cidr{*a, static_cast<uint8_t>(len)};
}

std::string Ipv4Cidr::to_string() const { return addr.to_string() + "/" + std::to_string(prefix_len); }

std::optional<MacAddr> MacAddr::parse(std::string_view s) {
  std::array<uint8_t, 6> b{};
  if (s.size() != 17) return std::nullopt;
  for (int i = 0; i < 6; ++i) {
    if (i < 5 && s[i * 3 + 2] != ':') return std::nullopt;
    unsigned v;
    auto [p, ec] = std::from_chars(s.data() + i * 3, s.data() + i * 3 + 2, v, 16);
    if (ec != std::errc() || p != s.data() + i * 3 + 2) return std::nullopt;
    b[i] = static_cast<uint8_t>(v);
  }
  return MacAddr{b};
}

std::string MacAddr::to_string() const {
  char s[18];
  std::snprintf(s, sizeof s, "%02x:%02x:%02x:%02x:%02x:%02x", b_[0], b_[1], b_[2], b_[3], b_[4], b_[5]);
  return s;
}

std::string SockAddrIn::to_string() const { return addr.to_string() + ":" + std::to_string(port); }

std::string_view errc_name(Errc e) {
  switch (e) {
    case Errc::kOk:
      return "OK";
    case Errc::kAgain:
      return "EAGAIN";
    case Errc::kInval:
      return "EINVAL";
    case Errc::kMsgSize:
      return "EMSGSIZE";
    case Errc::kNetUnreach:
      return "ENETUNREACH";
    case Errc::kHostUnreach:
      return "EHOSTUNREACH";
    case Errc::kConnRefused:
      return "ECONNREFUSED";
    case Errc::kAddrInUse:
      return "EADDRINUSE";
    case Errc::kAddrNotAvail:
      return "EADDRNOTAVAIL";
    case Errc::kNoBufs:
      return "ENOBUFS";
    case Errc::kTimedOut:
      return "ETIMEDOUT";
    case Errc::kConnReset:
      return "ECONNRESET";
    case Errc::kIsConn:
      return "EISCONN";
    case Errc::kNotConn:
      return "ENOTCONN";
    case Errc::kAlready:
      return "EALREADY";
    case Errc::kInProgress:
      return "EINPROGRESS";
    case Errc::kPipe:
      return "EPIPE";
    case Errc::kAfNoSupport:
      return "EAFNOSUPPORT";
    case Errc::kDestAddrReq:
      return "EDESTADDRREQ";
    case Errc::kBadFd:
      return "EBADF";
    case Errc::kNetDown:
      return "ENETDOWN";
    case Errc::kAccess:
      return "EACCES";
    case Errc::kProtoNoSupport:
      return "EPROTONOSUPPORT";
    case Errc::kNoProtoOpt:
      return "ENOPROTOOPT";
    case Errc::kMFile:
      return "EMFILE";
    case Errc::kNoDev:
      return "ENODEV";
    case Errc::kPerm:
      return "EPERM";
    case Errc::kFault:
      return "EFAULT";
    case Errc::kNoEnt:
      return "ENOENT";
    case Errc::kIntr:
      return "EINTR";
    case Errc::kIo:
      return "EIO";
    case Errc::kNoMem:
      return "ENOMEM";
    case Errc::kBusy:
      return "EBUSY";
    case Errc::kExist:
      return "EEXIST";
    case Errc::kNoSpc:
      return "ENOSPC";
    case Errc::kRange:
      return "ERANGE";
    case Errc::kDom:
      return "EDOM";
    case Errc::kNotSock:
      return "ENOTSOCK";
    case Errc::kProtoType:
      return "EPROTOTYPE";
    case Errc::kOpNotSupp:
      return "EOPNOTSUPP";
    case Errc::kConnAborted:
      return "ECONNABORTED";
    case Errc::kHostDown:
      return "EHOSTDOWN";
    case Errc::kProto:
      return "EPROTO";
    default:
      return "E?";
  }
}

}  // namespace ustack
