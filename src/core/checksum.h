// The Internet checksum (RFC 1071). csum_partial accumulates 16-bit big-endian words into a 32-bit
// one's-complement partial sum; csum_fold folds it and returns the complement, ready for the header.
// Only the last piece of a multi-part sum may have odd length.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
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

// ip_fast_csum: the checksum, ready to store, of an IPv4 header of `ihl` 32-bit words (5 to 15). Every
// packet has its header summed once on the way out and once on the way in; for that one short, fixed
// shape an inline sum of 32-bit words beats the general csum_partial. The result equals
// csum_fold(csum_partial(iph, ihl * 4, 0)).
inline uint16_t ip_fast_csum(const void* iph, unsigned ihl) {
  const auto* p = static_cast<const unsigned char*>(iph);
  // Words as the machine loads them (little-endian): RFC 1071 §2(B), the sum comes out byte-swapped.
  uint64_t sum = 0;
  for (unsigned i = 0; i < ihl; ++i) {
    uint32_t w;
    std::memcpy(&w, p + 4 * i, 4);
    sum += w;
  }
  sum = (sum & 0xffffffff) + (sum >> 32);
  sum = (sum & 0xffffffff) + (sum >> 32);
  auto s = static_cast<uint32_t>(sum);
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  s = ~s & 0xffff;
  return static_cast<uint16_t>((s >> 8) | ((s & 0xff) << 8));
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
