// Addresses: IPv4 and Ethernet, as value types. Ipv4Addr holds host byte order; the wire code converts.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace ustack {

class Ipv4Addr {
 public:
  constexpr Ipv4Addr() = default;
  constexpr explicit Ipv4Addr(uint32_t host_order) : v_(host_order) {}
  constexpr Ipv4Addr(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
      : v_((uint32_t{a} << 24) | (uint32_t{b} << 16) | (uint32_t{c} << 8) | d) {}

  static std::optional<Ipv4Addr> parse(std::string_view s);
  std::string to_string() const;

  constexpr uint32_t to_u32() const { return v_; }
  constexpr bool is_any() const { return v_ == 0; }
  constexpr bool is_broadcast() const { return v_ == 0xffffffffu; }
  constexpr bool is_multicast() const { return (v_ >> 28) == 0xe; }
  constexpr bool is_loopback() const { return (v_ >> 24) == 127; }
  // Class E and 0.0.0.0/8 sources are never valid on the wire (RFC 1122 §3.2.1.3).
  constexpr bool is_zeronet() const { return (v_ >> 24) == 0; }
  constexpr bool is_lbcast_or_mcast() const { return is_broadcast() || is_multicast(); }

  static constexpr Ipv4Addr any() { return Ipv4Addr{}; }
  static constexpr Ipv4Addr broadcast() { return Ipv4Addr{0xffffffffu}; }

  constexpr auto operator<=>(const Ipv4Addr&) const = default;

 private:
  uint32_t v_ = 0;
};

// An address with its prefix length, as `ip addr add 198.18.0.1/24` takes it.
struct Ipv4Cidr {
  Ipv4Addr addr;
  uint8_t prefix_len = 32;

  static std::optional<Ipv4Cidr> parse(std::string_view s);
  constexpr uint32_t mask() const { return prefix_len == 0 ? 0 : ~uint32_t{0} << (32 - prefix_len); }
  constexpr Ipv4Addr network() const { return Ipv4Addr{addr.to_u32() & mask()}; }
  constexpr Ipv4Addr subnet_broadcast() const { return Ipv4Addr{addr.to_u32() | ~mask()}; }
  constexpr bool contains(Ipv4Addr a) const { return (a.to_u32() & mask()) == (addr.to_u32() & mask()); }
  std::string to_string() const;
};

class MacAddr {
 public:
  constexpr MacAddr() = default;
  constexpr explicit MacAddr(std::array<uint8_t, 6> b) : b_(b) {}
  static std::optional<MacAddr> parse(std::string_view s);
  std::string to_string() const;

  constexpr const std::array<uint8_t, 6>& bytes() const { return b_; }
  constexpr bool is_broadcast() const { return *this == broadcast(); }
  constexpr bool is_multicast() const { return (b_[0] & 1) != 0; }
  constexpr bool is_zero() const { return *this == MacAddr{}; }
  static constexpr MacAddr broadcast() { return MacAddr{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}; }

  constexpr auto operator<=>(const MacAddr&) const = default;

 private:
  std::array<uint8_t, 6> b_{};
};

inline constexpr uint16_t kAfUnspec = 0;
inline constexpr uint16_t kAfInet = 2;

// struct sockaddr_in in host order. family kAfUnspec given to connect() disconnects, as in Linux.
struct SockAddrIn {
  Ipv4Addr addr;
  uint16_t port = 0;  // host order
  uint16_t family = kAfInet;
  constexpr auto operator<=>(const SockAddrIn&) const = default;
  std::string to_string() const;
};

}  // namespace ustack

template <>
struct std::hash<ustack::Ipv4Addr> {
  size_t operator()(ustack::Ipv4Addr a) const noexcept {
    // Fibonacci hashing spreads consecutive addresses over the buckets.
    return static_cast<size_t>(uint64_t{a.to_u32()} * 0x9e3779b97f4a7c15ull >> 16);
  }
};
