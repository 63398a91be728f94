// The TCP header (RFC 9293 §3.1) and its options (RFC 9293 MSS, RFC 7323 window scale and timestamps,
// RFC 2018 SACK). Options are read with a checked walk: every read is preceded by a check that the kind
// and length bytes exist and that 2 <= length <= remaining; MSS, window scale, SACK-permitted and
// timestamps must have their exact lengths, else the option is ignored (as Linux does).
#pragma once

#include <array>
#include <optional>

#include "wire/bytes.h"

namespace ustack::wire {

inline constexpr size_t kTcpHeaderLen = 20;
inline constexpr size_t kTcpMaxOptionLen = 40;

enum TcpFlags : uint8_t {
  kTcpFin = 0x01,
  kTcpSyn = 0x02,
  kTcpRst = 0x04,
  kTcpPsh = 0x08,
  kTcpAck = 0x10,
  kTcpUrg = 0x20,
  kTcpEce = 0x40,
  kTcpCwr = 0x80,
};

// "S.", "P.", "F.", "R" ... as tcpdump prints flags.
inline std::string tcp_flags_string(uint8_t f) {
  std::string s;
  if (f & kTcpSyn) s += 'S';
  if (f & kTcpFin) s += 'F';
  if (f & kTcpRst) s += 'R';
  if (f & kTcpPsh) s += 'P';
  if (f & kTcpUrg) s += 'U';
  if (f & kTcpEce) s += 'E';
  if (f & kTcpCwr) s += 'W';
  if (f & kTcpAck) s += '.';
  return s.empty() ? "none" : s;
}

struct TcpHdr {
  uint16_t source = 0;
  uint16_t dest = 0;
  uint32_t seq = 0;
  uint32_t ack_seq = 0;
  uint8_t doff = 5;  // in 32-bit words
  uint8_t flags = 0;
  uint16_t window = 0;
  uint16_t check = 0;
  uint16_t urg_ptr = 0;

  size_t header_len() const { return size_t{doff} * 4; }

  // Checks 20 <= doff*4 <= size. The checksum needs the pseudo-header: the caller verifies it.
  static std::optional<TcpHdr> parse(ConstBytes b) {
    if (b.size() < kTcpHeaderLen) return std::nullopt;
    const std::byte* p = b.data();
    TcpHdr h;
    h.source = load_be16(p);
    h.dest = load_be16(p + 2);
    h.seq = load_be32(p + 4);
    h.ack_seq = load_be32(p + 8);
    h.doff = load8(p + 12) >> 4;
    h.flags = load8(p + 13);
    h.window = load_be16(p + 14);
    h.check = load_be16(p + 16);
    h.urg_ptr = load_be16(p + 18);
    if (h.doff < 5 || h.header_len() > b.size()) return std::nullopt;
    return h;
  }
  // The one's-complement sum (unfolded) of the 20 bytes emit() writes, from the field values: a checksum
  // taken over bytes just written with narrow stores reads them back wide, which the CPU cannot forward
  // from its store buffer (a stall per segment sent).
  uint32_t fields_sum() const {
    return uint32_t{source} + dest + (seq >> 16) + (seq & 0xffff) + (ack_seq >> 16) + (ack_seq & 0xffff) +
           (uint32_t{doff} << 12 | flags) + window + urg_ptr;
  }
  // Writes the fixed 20 bytes with a zero checksum.
  void emit(std::byte* p) const {
    store_be16(p, source);
    store_be16(p + 2, dest);
    store_be32(p + 4, seq);
    store_be32(p + 8, ack_seq);
    store8(p + 12, static_cast<uint8_t>(doff << 4));
    store8(p + 13, flags);
    store_be16(p + 14, window);
    store_be16(p + 16, 0);
    store_be16(p + 18, urg_ptr);
  }
};

inline constexpr uint8_t kTcpOptEol = 0;
inline constexpr uint8_t kTcpOptNop = 1;
inline constexpr uint8_t kTcpOptMss = 2;
inline constexpr uint8_t kTcpOptWscale = 3;
inline constexpr uint8_t kTcpOptSackPerm = 4;
inline constexpr uint8_t kTcpOptSack = 5;
inline constexpr uint8_t kTcpOptTimestamp = 8;
inline constexpr uint8_t kTcpMaxWscale = 14;  // RFC 7323 §2.3

struct SackBlock {
  uint32_t start = 0;
  uint32_t end = 0;
};

struct TcpOptions {
  static constexpr uint32_t kAlignedTimestamp =
      uint32_t{kTcpOptNop} << 24 | uint32_t{kTcpOptNop} << 16 | uint32_t{kTcpOptTimestamp} << 8 | 10;

  std::optional<uint16_t> mss;
  std::optional<uint8_t> wscale;
  bool sack_ok = false;
  bool ts = false;
  uint32_t tsval = 0;
  uint32_t tsecr = 0;
  uint8_t num_sacks = 0;
  std::array<SackBlock, 4> sacks{};

  // tcp_parse_options. Malformed options end the walk; what was read before stays.
  static TcpOptions parse(ConstBytes opts) {
    TcpOptions o;
    // The layout every segment of a connection with timestamps carries (NOP, NOP, TS), as Linux's
    // tcp_parse_aligned_timestamp takes it: read without walking. The walk would find the same.
    if (opts.size() == 12 && load_be32(opts.data()) == kAlignedTimestamp) {
      o.ts = true;
      o.tsval = load_be32(opts.data() + 4);
      o.tsecr = load_be32(opts.data() + 8);
      return o;
    }
    size_t i = 0;
    while (i < opts.size()) {
      uint8_t kind = load8(opts.data() + i);
      if (kind == kTcpOptEol) break;
      if (kind == kTcpOptNop) {
        ++i;
        continue;
      }
      if (i + 1 >= opts.size()) break;
      uint8_t len = load8(opts.data() + i + 1);
      if (len < 2 || len > opts.size() - i) break;
      const std::byte* v = opts.data() + i + 2;
      switch (kind) {
        case kTcpOptMss:
          if (len == 4) o.mss = load_be16(v);
          break;
        case kTcpOptWscale:
          if (len == 3) o.wscale = std::min<uint8_t>(load8(v), kTcpMaxWscale);
          break;
        case kTcpOptSackPerm:
          if (len == 2) o.sack_ok = true;
          break;
        case kTcpOptTimestamp:
          if (len == 10) {
            o.ts = true;
            o.tsval = load_be32(v);
            o.tsecr = load_be32(v + 4);
          }
          break;
        case kTcpOptSack:
          if (len >= 10 && (len - 2) % 8 == 0) {
            o.num_sacks = 0;
            for (size_t b = 0; b < size_t(len - 2) / 8 && b < o.sacks.size(); ++b) {
              o.sacks[b] = SackBlock{load_be32(v + b * 8), load_be32(v + b * 8 + 4)};
              ++o.num_sacks;
            }
          }
          break;
        default:
          break;
      }
      i += len;
    }
    return o;
  }
};

}  // namespace ustack::wire
