// Ethernet II header (IEEE 802.3 with an EtherType, RFC 894).
#pragma once

#include <optional>

#include "ustack/addr.h"
#include "wire/bytes.h"

namespace ustack::wire {

inline constexpr size_t kEthHeaderLen = 14;
inline constexpr size_t kEthMinFrame = 60;  // without the FCS
inline constexpr uint16_t kEthPIp = 0x0800;
inline constexpr uint16_t kEthPArp = 0x0806;
inline constexpr uint16_t kEthPIpv6 = 0x86dd;

struct EthHdr {
  MacAddr dst;
  MacAddr src;
  uint16_t ethertype = 0;

  // Needs 14 bytes; VLAN tags and 802.3 length fields are reported as their raw type for the caller to
  // drop as unhandled.
  static std::optional<EthHdr> parse(ConstBytes b) {
    if (b.size() < kEthHeaderLen) return std::nullopt;
    EthHdr h;
    h.dst = mac_at(b.data());
    h.src = mac_at(b.data() + 6);
    h.ethertype = load_be16(b.data() + 12);
    return h;
  }
  void emit(std::byte* p) const {
    std::memcpy(p, dst.bytes().data(), 6);
    std::memcpy(p + 6, src.bytes().data(), 6);
    store_be16(p + 12, ethertype);
  }
  static MacAddr mac_at(const std::byte* p) {
    std::array<uint8_t, 6> a;
    std::memcpy(a.data(), p, 6);
    return MacAddr{a};
  }
};

}  // namespace ustack::wire
