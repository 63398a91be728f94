#include "core/checksum.h"

#include <cstring>

namespace ustack {

uint32_t csum_partial(const void* data, size_t len, uint32_t sum) {
  const auto* p = static_cast<const uint8_t*>(data);
  // Sum 32-bit big-endian words into 64 bits; the carries fold back at the end (RFC 1071 §2(C): the
  // sum is independent of word size once folded).
  uint64_t acc = sum;
  while (len >= 8) {
    uint32_t a, b;
    std::memcpy(&a, p, 4);
    std::memcpy(&b, p + 4, 4);
    acc += __builtin_bswap32(a);
    acc += __builtin_bswap32(b);
    p += 8;
    len -= 8;
  }
  if (len >= 4) {
    uint32_t a;
    std::memcpy(&a, p, 4);
    acc += __builtin_bswap32(a);
    p += 4;
    len -= 4;
  }
  if (len >= 2) {
    acc += (uint32_t{p[0]} << 8) | p[1];
    p += 2;
    len -= 2;
  }
  if (len == 1) acc += uint32_t{p[0]} << 8;
  acc = (acc & 0xffffffff) + (acc >> 32);
  acc = (acc & 0xffffffff) + (acc >> 32);
  return static_cast<uint32_t>(acc);
}

}  // namespace ustack
