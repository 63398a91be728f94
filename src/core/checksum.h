// The Internet checksum (RFC 1071). csum_partial accumulates 16-bit big-endian words into a 32-bit
// one's-complement partial sum; csum_fold folds it and returns the complement, ready for the header.
// Only the last piece of a multi-part sum may have odd length.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "ustack/addr.h"

namespace ustack {

uint32_t csum_partial(const void* data, size_t len, uint32_t sum);
inline uint32_t csum_partial(std::span<const std::byte> b, uint32_t sum) {
  return csum_partial(b.data(), b.size(), sum);
}

inline uint16_t csum_fold(uint32_t sum) {
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum & 0xffff);
}

// The checksum of a buffer, ready to store (ip_compute_csum).
inline uint16_t ip_compute_csum(std::span<const std::byte> b) { return csum_fold(csum_partial(b, 0)); }

// The TCP/UDP pseudo-header sum (csum_tcpudp_nofold).
inline uint32_t csum_pseudo(Ipv4Addr saddr, Ipv4Addr daddr, uint8_t proto, uint32_t len, uint32_t sum) {
  uint64_t s = sum;
  s += saddr.to_u32() >> 16;
  s += saddr.to_u32() & 0xffff;
  s += daddr.to_u32() >> 16;
  s += daddr.to_u32() & 0xffff;
  s += proto;
  s += len;
  s = (s & 0xffffffff) + (s >> 32);
  s = (s & 0xffffffff) + (s >> 32);
  return static_cast<uint32_t>(s);
}

}  // namespace ustack
