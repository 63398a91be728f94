#include "core/checksum.h"

#include <cstring>

namespace ustack {

namespace {

uint64_t load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
uint32_t load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
uint16_t load16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// One's-complement add of 64-bit words: the carry out of bit 63 wraps around into bit 0.
inline uint64_t add_wrap(uint64_t acc, uint64_t w) {
  unsigned long long out;
  bool carry = __builtin_uaddll_overflow(acc, w, &out);
  return out + carry;
}

}  // namespace

uint32_t csum_partial(const void* data, size_t len, uint32_t sum) {
  const auto* p = static_cast<const uint8_t*>(data);
  // RFC 1071 §2(B): the one's-complement sum does not depend on byte order, so the words are summed as
  // the machine loads them (little-endian, 64 bits at a time) and the folded result is byte-swapped once
  // at the end. This is the per-byte cost of every segment sent and received, so it matters more than
  // anything else on the data path; long inputs use four independent accumulators so that the carry
  // chains overlap. Most calls are for headers of 20 to 60 bytes, which skip that set-up.
  uint64_t acc = 0;
  if (len >= 32) {
    uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    do {
      a0 = add_wrap(a0, load64(p));
      a1 = add_wrap(a1, load64(p + 8));
      a2 = add_wrap(a2, load64(p + 16));
      a3 = add_wrap(a3, load64(p + 24));
      p += 32;
      len -= 32;
    } while (len >= 32);
    acc = add_wrap(add_wrap(a0, a1), add_wrap(a2, a3));
  }
  while (len >= 8) {
    acc = add_wrap(acc, load64(p));
    p += 8;
    len -= 8;
  }
  // The tail, zero-padded to a word as a little-endian load would see it: byte i of the tail at bits
  // 8i. (An odd last byte is the high byte of a big-endian 16-bit word, the low byte in little-endian
  // order.) Fixed-size loads instead of a variable-length copy, which would be a library call.
  uint64_t tail = 0;
  if (len & 4) {
    tail = load32(p);
    p += 4;
  }
  if (len & 2) {
    tail |= uint64_t{load16(p)} << ((len & 4) * 8);
    p += 2;
  }
  if (len & 1) tail |= uint64_t{*p} << ((len & 6) * 8);
  acc = add_wrap(acc, tail);
  // Fold 64 -> 16 bits, then swap into network order.
  uint32_t s32 = static_cast<uint32_t>(acc) + static_cast<uint32_t>(acc >> 32);
  if (s32 < static_cast<uint32_t>(acc)) ++s32;
  uint32_t s16 = (s32 & 0xffff) + (s32 >> 16);
  s16 = (s16 & 0xffff) + (s16 >> 16);
  uint32_t be = ((s16 & 0xff) << 8) | (s16 >> 8);
  uint64_t total = uint64_t(be) + sum;
  total = (total & 0xffffffff) + (total >> 32);
  return static_cast<uint32_t>(total);
}

}  // namespace ustack
