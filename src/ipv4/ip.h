// Ipv4: one stack's IPv4 layer (Linux net/ipv4): addresses, routing, input and output, fragmentation and
// reassembly, netfilter hook points, forwarding, and the protocol switch that hands datagrams to ICMP,
// UDP and TCP. ARP and ICMP are its parts, as in the kernel's tree.
//
//   output: ip_queue_xmit -> ip_local_out [LOCAL_OUT] -> ip_output [POST_ROUTING] -> ip_finish_output
//           -> (ip_fragment) -> ip_finish_output2 -> neigh_output -> dev_queue_xmit
//   input:  ip_rcv [PRE_ROUTING] -> ip_rcv_finish -> ip_route_input -> ip_local_deliver (ip_defrag)
//           [LOCAL_IN] -> ip_local_deliver_finish -> protocol handler
//                                                  -> ip_forward [FORWARD] -> ip_output
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

#include "core/net.h"
#include "dev/dev.h"
#include "ipv4/route.h"
#include "netfilter/hooks.h"
#include "ustack/result.h"
#include "wire/ipv4.h"

namespace ustack {

class Arp;
class Icmp;
class IpFragQueues;

// net.ipv4.* settings, with Linux's defaults.
struct Ipv4Sysctl {
  bool ip_forward = false;
  uint8_t ip_default_ttl = 64;
  uint32_t ip_min_pmtu = 552;   // net.ipv4.route.min_pmtu
  Duration mtu_expires = 600s;  // net.ipv4.route.mtu_expires
  size_t ipfrag_high_thresh = 4 * 1024 * 1024;
  Duration ipfrag_time = 30s;
  Duration icmp_ratelimit = 1000ms;   // per destination: one error per interval, bursts of 6
  uint32_t icmp_msgs_per_sec = 1000;  // all destinations together
  uint32_t icmp_msgs_burst = 50;
  bool icmp_echo_ignore_broadcasts = true;
  size_t dst_cache_max = 4096;
};

struct InIfaddr {
  Ipv4Cidr local;
  int ifindex = 0;
};

// What an ICMP error (or a local link failure) tells the transport protocol (err_handler's arguments).
struct IcmpErrInfo {
  uint8_t type = 0;
  uint8_t code = 0;
  uint32_t info = 0;  // the next-hop MTU for fragmentation needed
  Errc err = Errc::kOk;
  bool fatal = false;
  Ipv4Addr reporter;  // who sent the ICMP error (ourselves for a local link failure)  // a hard error
                      // (icmp_err_convert[].fatal)
  // The offending datagram as quoted: its addresses and the first bytes of its transport header.
  Ipv4Addr saddr, daddr;
  uint8_t protocol = 0;
  std::span<const std::byte> transport;
};

// struct net_protocol: a transport's receive and error entries.
struct InetProtocol {
  // The skb's data starts at the transport header; the network header is set.
  std::function<void(SkbPtr skb)> handler;
  std::function<void(const IcmpErrInfo& e)> err_handler;
};

// IP_MTU_DISCOVER modes. kWant (Linux's default for UDP): DF on datagrams that fit the path MTU, larger
// ones fragmented locally. kDo: DF always, EMSGSIZE for anything larger. kDont: never DF.
enum class PmtuDisc : uint8_t { kDont, kWant, kDo };

// The flow of one outgoing datagram (struct flowi4 plus the socket's IP options).
struct IpFlow {
  Ipv4Addr saddr;
  Ipv4Addr daddr;
  uint8_t protocol = 0;
  uint8_t tos = 0;
  uint8_t ttl = 0;  // 0: ip_default_ttl
  PmtuDisc pmtudisc = PmtuDisc::kWant;
};

class Ipv4 {
 public:
  Ipv4(NetCore& net, DevCore& dev);
  ~Ipv4();
  Ipv4(const Ipv4&) = delete;
  Ipv4& operator=(const Ipv4&) = delete;

  NetCore& net() { return net_; }
  DevCore& devs() { return dev_; }
  Ipv4Sysctl& sysctl() { return sysctl_; }
  NfHooks& netfilter() { return nf_; }
  Fib& fib() { return fib_; }
  Arp& arp() { return *arp_; }
  Icmp& icmp() { return *icmp_; }
  IpFragQueues& frags() { return *frags_; }

  // --- addresses (devinet.c) ---
  // inet_insert_ifa: adds the address, its connected route and announces it (gratuitous ARP).
  Status add_address(int ifindex, Ipv4Cidr cidr);
  Status del_address(int ifindex, Ipv4Addr addr);
  const std::vector<InIfaddr>& addresses() const { return ifaddrs_; }
  // inet_addr_type: is `a` one of ours (on any device)?
  bool is_local_address(Ipv4Addr a) const;
  bool is_local_on(Ipv4Addr a, int ifindex) const;
  // Limited or subnet broadcast of a device's address.
  bool is_broadcast_on(Ipv4Addr a, int ifindex) const;
  // inet_select_addr: a source address for packets leaving `ifindex` towards `dst`.
  Ipv4Addr inet_select_addr(int ifindex, Ipv4Addr dst) const;

  // --- routes (route.c) ---
  Status add_route(const FibRoute& r);
  Status del_route(const Ipv4Cidr& dst, uint32_t metric = 0);
  // ip_route_output_key: kNetUnreach when nothing matches.
  Result<DstPtr> ip_route_output(Ipv4Addr daddr, Ipv4Addr saddr = Ipv4Addr::any(), int oif = 0);
  // ip_rt_update_pmtu: an ICMP fragmentation-needed (or a local EMSGSIZE) lowered the path MTU.
  void ip_rt_update_pmtu(Ipv4Addr daddr, uint32_t mtu);
  uint32_t path_mtu(Ipv4Addr daddr);
  void rt_cache_flush() {
    ++genid_;
    dst_cache_clear();
  }
  // dst_check (Linux's __sk_dst_check): may a Dst cached by a socket (sk_dst_cache) still be used? Not
  // once routes or addresses changed (genid), the route cache dropped it (obsolete) or its neighbour entry
  // died. A learned path MTU that expired is forgotten on the way, as a lookup would. This is what a
  // connected socket pays per segment instead of a lookup.
  bool dst_check(Dst& d) const {
    if (d.obsolete || d.genid != genid_ || (d.neigh && d.neigh->dead())) return false;
    if (d.pmtu != 0 && d.pmtu_expires <= net_.now()) d.pmtu = 0;
    return true;
  }

  // --- protocols (af_inet.c inet_add_protocol) ---
  void inet_add_protocol(uint8_t proto, InetProtocol p) { protos_[proto] = std::move(p); }
  const InetProtocol& inet_protocol(uint8_t proto) const { return protos_[proto]; }

  // --- output (ip_output.c) ---
  // ip_queue_xmit / ip_build_and_send_pkt: the skb holds the transport header and payload; pushes the IP
  // header and sends. kMsgSize if DF is set and the datagram exceeds the path MTU.
  Status ip_queue_xmit(SkbPtr skb, const IpFlow& flow, const DstPtr& dst);
  // ip_local_out: a complete IP datagram (data at the IP header) from this host.
  Status ip_local_out(SkbPtr skb, const DstPtr& dst);
  // Headroom a transport should reserve in front of its header for packets on `dst`.
  static size_t max_header_room(const Dst& dst) {
    return dst.dev->ll_reserved_space() + wire::kIpv4MaxHeaderLen;
  }

  // --- input (ip_input.c) ---
  void ip_rcv(SkbPtr skb, NetDevice& dev);
  // The re-entry point after reassembly: a whole datagram for this host.
  void ip_local_deliver_finish(SkbPtr skb);

  // ARP's error report: a queued packet could not be delivered (ipv4_link_failure).
  void ip_link_failure(SkBuff& skb);

 private:
  friend class IpFragQueues;
  friend class Icmp;
  Status ip_output(SkbPtr skb, const DstPtr& dst);
  Status ip_finish_output(SkbPtr skb, const DstPtr& dst);
  Status ip_fragment(SkbPtr skb, const DstPtr& dst, uint32_t mtu);
  Status ip_finish_output2(SkbPtr skb, const DstPtr& dst);
  void ip_rcv_finish(SkbPtr skb, NetDevice& dev);
  void ip_local_deliver(SkbPtr skb);
  void ip_forward(SkbPtr skb, NetDevice& in, const DstPtr& dst);
  DstPtr make_dst(const FibRoute& r, Ipv4Addr daddr, Ipv4Addr saddr);
  // Empty the route cache, marking what it held obsolete for the sockets that still hold it.
  void dst_cache_clear() {
    for (auto& [key, d] : dst_cache_) d->obsolete = true;
    dst_cache_.clear();
  }
  uint16_t ip_select_ident(Ipv4Addr saddr, Ipv4Addr daddr, uint8_t proto, uint16_t segs = 1);
  void deliver_err(const IcmpErrInfo& e);

  NetCore& net_;
  DevCore& dev_;
  Ipv4Sysctl sysctl_;
  NfHooks nf_;
  Fib fib_;
  std::vector<InIfaddr> ifaddrs_;
  std::array<InetProtocol, 256> protos_;
  struct PmtuException {
    uint32_t mtu;
    TimePoint expires;
  };
  std::unordered_map<Ipv4Addr, PmtuException> pmtu_;
  std::unordered_map<uint64_t, DstPtr> dst_cache_;
  uint32_t genid_ = 1;
  std::array<uint32_t, 2048> idents_{};
  uint32_t ident_secret_;
  std::unique_ptr<Arp> arp_;
  std::unique_ptr<Icmp> icmp_;
  std::unique_ptr<IpFragQueues> frags_;
};

}  // namespace ustack
