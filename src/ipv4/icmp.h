// ICMP (RFC 792, RFC 1122 §3.2.2; Linux net/ipv4/icmp.c): echo replies, errors about packets we cannot
// deliver, and the errors others send us, which update the path MTU and reach the transport protocol.
// Errors we generate are rate-limited globally and per destination and never sent about an ICMP error,
// a broadcast or multicast, or a fragment other than the first.
#pragma once

#include <functional>
#include <span>
#include <unordered_map>

#include "ipv4/ip.h"
#include "wire/icmp.h"

namespace ustack {

struct EchoReply {
  Ipv4Addr from;
  uint16_t id = 0;
  uint16_t seq = 0;
  uint8_t ttl = 0;
  std::span<const std::byte> payload;  // after the 8-byte ICMP header
};

// An ICMP error about an echo request we sent (ping shows these as "Destination Host Unreachable").
struct EchoError {
  Ipv4Addr from;  // who reported it
  uint16_t id = 0;
  uint16_t seq = 0;
  uint8_t type = 0;
  uint8_t code = 0;
};

class Icmp {
 public:
  struct EchoListener {
    std::function<void(const EchoReply&)> on_reply;
    std::function<void(const EchoError&)> on_error;
  };

  explicit Icmp(Ipv4& ip);

  // icmp_rcv: data at the ICMP header, network header set.
  void icmp_rcv(SkbPtr skb);
  // icmp_send: an error about `skb_in`, whose network header is set.
  void icmp_send(const SkBuff& skb_in, uint8_t type, uint8_t code, uint32_t info = 0);
  // An echo request, as a ping socket sends it.
  Status send_echo(Ipv4Addr dst, uint16_t id, uint16_t seq, std::span<const std::byte> payload,
                   uint8_t ttl = 0);
  void set_echo_listener(uint16_t id, EchoListener l) { echo_listeners_[id] = std::move(l); }
  void remove_echo_listener(uint16_t id) { echo_listeners_.erase(id); }

 private:
  void icmp_echo(SkbPtr skb, const wire::IcmpHdr& h);
  void icmp_unreach(SkbPtr skb, const wire::IcmpHdr& h);
  void icmp_err(const IcmpErrInfo& e);
  bool icmpv4_xrlim_allow(Ipv4Addr dst);
  static IcmpErrInfo icmp_err_convert(uint8_t type, uint8_t code);

  Ipv4& ip_;
  // icmp_global_allow: a token bucket over all destinations.
  double global_tokens_;
  TimePoint global_stamp_{};
  // inet_peer rate limit: one token per icmp_ratelimit, up to 6 (XRLIM_BURST_FACTOR).
  struct PeerBucket {
    double tokens;
    TimePoint stamp;
  };
  std::unordered_map<Ipv4Addr, PeerBucket> peers_;
  std::unordered_map<uint16_t, EchoListener> echo_listeners_;
};

}  // namespace ustack
