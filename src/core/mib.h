// SNMP MIB counters with Linux's names (/proc/net/snmp and /proc/net/netstat), and the drop reasons that
// every discarded packet records (Linux's enum skb_drop_reason). Both are plain arrays indexed by enum:
// counting is one increment on the per-packet path.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace ustack {

enum class Mib : uint16_t {
  // Ip
  IpInReceives,
  IpInHdrErrors,
  IpInAddrErrors,
  IpForwDatagrams,
  IpInUnknownProtos,
  IpInDiscards,
  IpInDelivers,
  IpOutRequests,
  IpOutDiscards,
  IpOutNoRoutes,
  IpReasmTimeout,
  IpReasmReqds,
  IpReasmOKs,
  IpReasmFails,
  IpFragOKs,
  IpFragFails,
  IpFragCreates,
  IpExtInTruncatedPkts,
  IpExtInNoRoutes,
  IpExtInCsumErrors,
  // Icmp
  IcmpInMsgs,
  IcmpInErrors,
  IcmpInCsumErrors,
  IcmpInDestUnreachs,
  IcmpInTimeExcds,
  IcmpInParmProbs,
  IcmpInEchos,
  IcmpInEchoReps,
  IcmpOutMsgs,
  IcmpOutErrors,
  IcmpOutRateLimitGlobal,
  IcmpOutRateLimitHost,
  IcmpOutDestUnreachs,
  IcmpOutTimeExcds,
  IcmpOutEchos,
  IcmpOutEchoReps,
  // Udp
  UdpInDatagrams,
  UdpNoPorts,
  UdpInErrors,
  UdpOutDatagrams,
  UdpRcvbufErrors,
  UdpSndbufErrors,
  UdpInCsumErrors,
  // Arp (Linux keeps these per neighbour table: /proc/net/stat/arp_cache)
  ArpInRequests,
  ArpInReplies,
  ArpOutRequests,
  ArpOutReplies,
  ArpUnresolvedDiscards,
  kCount
};

std::string_view mib_name(Mib m);

enum class DropReason : uint16_t {
  NOT_SPECIFIED,
  PKT_TOO_SMALL,
  MAC_HEADER,
  OTHERHOST,
  UNHANDLED_PROTO,
  IP_CSUM,
  IP_INHDR,
  IP_INADDRERRORS,
  IP_INNOROUTES,
  IP_INVALID_SOURCE,
  IP_NOPROTO,
  IP_TTL_EXPIRED,
  IP_FORWARD_DISABLED,
  NETFILTER_DROP,
  FRAG_REASM_TIMEOUT,
  FRAG_OVERLAP,
  FRAG_DUP,
  FRAG_TOO_FAR,
  FRAG_MEM_LIMIT,
  FRAG_BAD_LENGTH,
  ICMP_CSUM,
  ICMP_INVALID,
  ARP_INVALID,
  ARP_NOT_FOR_US,
  NEIGH_FAILED,
  NEIGH_QUEUEFULL,
  NEIGH_DEAD,
  QDISC_DROP,
  DEV_DOWN,
  TX_ERROR,
  UDP_CSUM,
  UDP_INVALID,
  NO_SOCKET,
  SOCKET_RCVBUFF,
  PKT_TOO_BIG,
  TCP_INVALID,
  TCP_CSUM,
  TCP_FLAGS,
  TCP_OLD_DATA,
  TCP_OVERWINDOW,
  TCP_RFC5961,
  TCP_PAWS,
  TCP_LISTEN_OVERFLOW,
  TCP_OFO_DROP,
  TCP_CLOSE,
  kCount
};

std::string_view drop_reason_name(DropReason r);

template <class E>
class Counters {
 public:
  void inc(E e, uint64_t n = 1) { v_[static_cast<size_t>(e)] += n; }
  uint64_t get(E e) const { return v_[static_cast<size_t>(e)]; }
  uint64_t operator[](E e) const { return get(e); }
  static constexpr size_t size() { return static_cast<size_t>(E::kCount); }

 private:
  std::array<uint64_t, static_cast<size_t>(E::kCount)> v_{};
};

using MibCounters = Counters<Mib>;
using DropCounters = Counters<DropReason>;

}  // namespace ustack
