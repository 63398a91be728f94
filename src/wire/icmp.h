// ICMP for IPv4 (RFC 792): the 8-byte header; the body depends on the type.
#pragma once

#include <optional>

#include "wire/bytes.h"

namespace ustack::wire {

inline constexpr size_t kIcmpHeaderLen = 8;
inline constexpr uint8_t kIcmpEchoReply = 0;
inline constexpr uint8_t kIcmpDestUnreach = 3;
inline constexpr uint8_t kIcmpSourceQuench = 4;
inline constexpr uint8_t kIcmpRedirect = 5;
inline constexpr uint8_t kIcmpEcho = 8;
inline constexpr uint8_t kIcmpTimeExceeded = 11;
inline constexpr uint8_t kIcmpParameterProb = 12;
// Destination unreachable codes.
inline constexpr uint8_t kIcmpNetUnreach = 0;
inline constexpr uint8_t kIcmpHostUnreach = 1;
inline constexpr uint8_t kIcmpProtUnreach = 2;
inline constexpr uint8_t kIcmpPortUnreach = 3;
inline constexpr uint8_t kIcmpFragNeeded = 4;
// Time exceeded codes.
inline constexpr uint8_t kIcmpExcTtl = 0;
inline constexpr uint8_t kIcmpExcFragTime = 1;

// RFC 1122 §3.2.2: the error types, which must never be answered with another error.
inline constexpr bool icmp_is_error(uint8_t type) {
  return type == kIcmpDestUnreach || type == kIcmpSourceQuench || type == kIcmpRedirect ||
         type == kIcmpTimeExceeded || type == kIcmpParameterProb;
}

struct IcmpHdr {
  uint8_t type = 0;
  uint8_t code = 0;
  uint16_t checksum = 0;
  uint32_t rest = 0;  // id/sequence for echo, next-hop MTU for frag-needed

  uint16_t echo_id() const { return static_cast<uint16_t>(rest >> 16); }
  uint16_t echo_seq() const { return static_cast<uint16_t>(rest & 0xffff); }
  uint16_t frag_mtu() const { return static_cast<uint16_t>(rest & 0xffff); }

  static std::optional<IcmpHdr> parse(ConstBytes b) {
    if (b.size() < kIcmpHeaderLen) return std::nullopt;
    IcmpHdr h;
    h.type = load8(b.data());
    h.code = load8(b.data() + 1);
    h.checksum = load_be16(b.data() + 2);
    h.rest = load_be32(b.data() + 4);
    return h;
  }
  // Writes the header with a zero checksum; the caller sums header and body and stores it at +2.
  void emit(std::byte* p) const {
    store8(p, type);
    store8(p + 1, code);
    store_be16(p + 2, 0);
    store_be32(p + 4, rest);
  }
};

}  // namespace ustack::wire
