// ARP for IPv4 over Ethernet (RFC 826): the only hardware/protocol pair we speak.
#pragma once

#include <optional>

#include "wire/ethernet.h"

namespace ustack::wire {

inline constexpr size_t kArpLen = 28;
inline constexpr uint16_t kArpOpRequest = 1;
inline constexpr uint16_t kArpOpReply = 2;

struct ArpPacket {
  uint16_t op = 0;
  MacAddr sha;
  Ipv4Addr spa;
  MacAddr tha;
  Ipv4Addr tpa;

  // Accepts only htype 1 (Ethernet), ptype 0x0800, hlen 6, plen 4, op request or reply.
  static std::optional<ArpPacket> parse(ConstBytes b) {
    if (b.size() < kArpLen) return std::nullopt;
    const std::byte* p = b.data();
    if (load_be16(p) != 1 || load_be16(p + 2) != kEthPIp || load8(p + 4) != 6 || load8(p + 5) != 4)
      return std::nullopt;
    ArpPacket a;
    a.op = load_be16(p + 6);
    if (a.op != kArpOpRequest && a.op != kArpOpReply) return std::nullopt;
    a.sha = EthHdr::mac_at(p + 8);
    a.spa = Ipv4Addr{load_be32(p + 14)};
    a.tha = EthHdr::mac_at(p + 18);
    a.tpa = Ipv4Addr{load_be32(p + 24)};
    return a;
  }
  void emit(std::byte* p) const {
    store_be16(p, 1);
    store_be16(p + 2, kEthPIp);
    store8(p + 4, 6);
    store8(p + 5, 4);
    store_be16(p + 6, op);
    std::memcpy(p + 8, sha.bytes().data(), 6);
    store_be32(p + 14, spa.to_u32());
    std::memcpy(p + 18, tha.bytes().data(), 6);
    store_be32(p + 24, tpa.to_u32());
  }
};

}  // namespace ustack::wire
