// The UDP header (RFC 768).
#pragma once

#include <optional>

#include "wire/bytes.h"

namespace ustack::wire {

inline constexpr size_t kUdpHeaderLen = 8;

struct UdpHdr {
  uint16_t source = 0;
  uint16_t dest = 0;
  uint16_t len = 0;
  uint16_t check = 0;

  // Checks 8 <= len <= size. The checksum needs the pseudo-header: the caller verifies it.
  static std::optional<UdpHdr> parse(ConstBytes b) {
    if (b.size() < kUdpHeaderLen) return std::nullopt;
    UdpHdr h;
    h.source = load_be16(b.data());
    h.dest = load_be16(b.data() + 2);
    h.len = load_be16(b.data() + 4);
    h.check = load_be16(b.data() + 6);
    if (h.len < kUdpHeaderLen || h.len > b.size()) return std::nullopt;
    return h;
  }
  void emit(std::byte* p) const {
    store_be16(p, source);
    store_be16(p + 2, dest);
    store_be16(p + 4, len);
    store_be16(p + 6, check);
  }
};

}  // namespace ustack::wire
