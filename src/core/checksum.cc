#include "core/checksum.h"

#include <cstring>

namespace ustack {

namespace {

uint64_t load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
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
  // the machine loads them (little-endian, 64 bits at a time, four independent accumulators so that the
  // carry chains overlap) and the folded result is byte-swapped once at the end. This is the per-byte
  // cost of every segment sent and received, so it matters more than anything else on the data path.
  uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  while (len >= 32) {
    a0 = add_wrap(a0, load64(p));
    a1 = add_wrap(a1, load64(p + 8));
    a2 = add_wrap(a2, load64(p + 16));
    a3 = add_wrap(a3, load64(p + 24));
    p += 32;
    len -= 32;
  }
  uint64_t acc = add_wrap(add_wrap(a0, a1), add_wrap(a2, a3));
  while (len >= 8) {
    acc = add_wrap(acc, load64(p));
    p += 8;
    len -= 8;
  }
  // The tail, zero-padded to a word: an odd last byte is the high byte of a big-endian 16-bit word,
  // which is the low byte in little-endian order.
  uint64_t tail = 0;
  std::memcpy(&tail, p, len);
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
