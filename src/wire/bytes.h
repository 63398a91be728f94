// Big-endian field access over byte spans. Header code reads and writes fields through these, never
// through packed structs: no alignment traps, no implementation-defined bitfield order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

namespace ustack::wire {

using ConstBytes = std::span<const std::byte>;
using MutBytes = std::span<std::byte>;

inline uint8_t load8(const std::byte* p) { return static_cast<uint8_t>(*p); }
inline uint16_t load_be16(const std::byte* p) {
  return static_cast<uint16_t>((uint16_t{load8(p)} << 8) | load8(p + 1));
}
inline uint32_t load_be32(const std::byte* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return __builtin_bswap32(v);
}
inline void store8(std::byte* p, uint8_t v) { *p = std::byte{v}; }
inline void store_be16(std::byte* p, uint16_t v) {
  p[0] = std::byte(v >> 8);
  p[1] = std::byte(v & 0xff);
}
inline void store_be32(std::byte* p, uint32_t v) {
  v = __builtin_bswap32(v);
  std::memcpy(p, &v, 4);
}

inline ConstBytes as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

}  // namespace ustack::wire
