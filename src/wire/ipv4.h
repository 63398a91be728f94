// The IPv4 header (RFC 791).
#pragma once

#include <optional>

#include "core/checksum.h"
#include "wire/bytes.h"

namespace ustack::wire {

inline constexpr size_t kIpv4HeaderLen = 20;
inline constexpr size_t kIpv4MaxHeaderLen = 60;
inline constexpr uint16_t kIpDf = 0x4000;
inline constexpr uint16_t kIpMf = 0x2000;
inline constexpr uint16_t kIpOffsetMask = 0x1fff;
inline constexpr uint8_t kIpProtoIcmp = 1;
inline constexpr uint8_t kIpProtoTcp = 6;
inline constexpr uint8_t kIpProtoUdp = 17;

enum class Ipv4ParseError { kTruncated, kVersion, kHeaderLength, kTotalLength, kChecksum };

struct Ipv4Hdr {
  uint8_t ihl = 5;  // in 32-bit words
  uint8_t tos = 0;
  uint16_t tot_len = 0;
  uint16_t id = 0;
  uint16_t frag_off = 0;  // flags and offset in 8-byte units, as on the wire
  uint8_t ttl = 64;
  uint8_t protocol = 0;
  uint16_t check = 0;
  Ipv4Addr saddr;
  Ipv4Addr daddr;

  size_t header_len() const { return size_t{ihl} * 4; }
  size_t frag_offset_bytes() const { return size_t(frag_off & kIpOffsetMask) * 8; }
  bool more_fragments() const { return (frag_off & kIpMf) != 0; }
  bool dont_fragment() const { return (frag_off & kIpDf) != 0; }
  bool is_fragment() const { return (frag_off & (kIpMf | kIpOffsetMask)) != 0; }

  // Reads the fixed fields. Checks (ip_rcv_core): at least 20 bytes; version 4; 20 <= ihl*4 <= size;
  // ihl*4 <= tot_len <= size; the header checksum. Options are left in place for the caller to skip.
  static std::optional<Ipv4Hdr> parse(ConstBytes b, Ipv4ParseError* err = nullptr, bool verify_csum = true) {
    auto fail = [err](Ipv4ParseError e) {
      if (err) *err = e;
      return std::nullopt;
    };
    if (b.size() < kIpv4HeaderLen) return fail(Ipv4ParseError::kTruncated);
    const std::byte* p = b.data();
    if ((load8(p) >> 4) != 4) return fail(Ipv4ParseError::kVersion);
    Ipv4Hdr h;
    h.ihl = load8(p) & 0xf;
    if (h.ihl < 5 || h.header_len() > b.size()) return fail(Ipv4ParseError::kHeaderLength);
    h.tos = load8(p + 1);
    h.tot_len = load_be16(p + 2);
    if (h.tot_len < h.header_len()) return fail(Ipv4ParseError::kTotalLength);
    if (h.tot_len > b.size()) return fail(Ipv4ParseError::kTotalLength);
    if (verify_csum && ip_fast_csum(p, h.ihl) != 0) return fail(Ipv4ParseError::kChecksum);
    h.id = load_be16(p + 4);
    h.frag_off = load_be16(p + 6);
    h.ttl = load8(p + 8);
    h.protocol = load8(p + 9);
    h.check = load_be16(p + 10);
    h.saddr = Ipv4Addr{load_be32(p + 12)};
    h.daddr = Ipv4Addr{load_be32(p + 16)};
    return h;
  }

  // Writes a 20-byte header (ihl must be 5) with a fresh checksum.
  void emit(std::byte* p) const {
    store8(p, 0x45);
    store8(p + 1, tos);
    store_be16(p + 2, tot_len);
    store_be16(p + 4, id);
    store_be16(p + 6, frag_off);
    store8(p + 8, ttl);
    store8(p + 9, protocol);
    store_be16(p + 10, 0);
    store_be32(p + 12, saddr.to_u32());
    store_be32(p + 16, daddr.to_u32());
    store_be16(p + 10, header_csum());
  }
  // The checksum of the 20-byte header emit() writes, from the field values: summing the bytes just
  // written with narrow stores would read them back wide, which the CPU cannot forward from its store
  // buffer (a stall on every packet sent). Equal to ip_fast_csum() of the emitted header.
  uint16_t header_csum() const {
    uint32_t a = saddr.to_u32(), b = daddr.to_u32();
    uint32_t s = (0x4500u | tos) + tot_len + id + frag_off + (uint32_t{ttl} << 8 | protocol) + (a >> 16) +
                 (a & 0xffff) + (b >> 16) + (b & 0xffff);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    return static_cast<uint16_t>(~s & 0xffff);
  }
};

// ip_send_check: recompute the checksum of a header already in place.
inline void ip_send_check(std::byte* p) {
  size_t hl = size_t(load8(p) & 0xf) * 4;
  store_be16(p + 10, 0);
  store_be16(p + 10, ip_fast_csum(p, static_cast<unsigned>(hl / 4)));
}

}  // namespace ustack::wire
