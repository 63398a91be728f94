#include "core/mib.h"

namespace ustack {

namespace {
constexpr std::string_view kMibNames[] = {
    "IpInReceives",
    "IpInHdrErrors",
    "IpInAddrErrors",
    "IpForwDatagrams",
    "IpInUnknownProtos",
    "IpInDiscards",
    "IpInDelivers",
    "IpOutRequests",
    "IpOutDiscards",
    "IpOutNoRoutes",
    "IpReasmTimeout",
    "IpReasmReqds",
    "IpReasmOKs",
    "IpReasmFails",
    "IpFragOKs",
    "IpFragFails",
    "IpFragCreates",
    "IpExtInTruncatedPkts",
    "IpExtInNoRoutes",
    "IpExtInCsumErrors",
    "IcmpInMsgs",
    "IcmpInErrors",
    "IcmpInCsumErrors",
    "IcmpInDestUnreachs",
    "IcmpInTimeExcds",
    "IcmpInParmProbs",
    "IcmpInEchos",
    "IcmpInEchoReps",
    "IcmpOutMsgs",
    "IcmpOutErrors",
    "IcmpOutRateLimitGlobal",
    "IcmpOutRateLimitHost",
    "IcmpOutDestUnreachs",
    "IcmpOutTimeExcds",
    "IcmpOutEchos",
    "IcmpOutEchoReps",
    "UdpInDatagrams",
    "UdpNoPorts",
    "UdpInErrors",
    "UdpOutDatagrams",
    "UdpRcvbufErrors",
    "UdpSndbufErrors",
    "UdpInCsumErrors",
    "ArpInRequests",
    "ArpInReplies",
    "ArpOutRequests",
    "ArpOutReplies",
    "ArpUnresolvedDiscards",
};
static_assert(std::size(kMibNames) == static_cast<size_t>(Mib::kCount));

constexpr std::string_view kDropNames[] = {
    "NOT_SPECIFIED",   "PKT_TOO_SMALL",  "MAC_HEADER",          "OTHERHOST",      "UNHANDLED_PROTO",
    "IP_CSUM",         "IP_INHDR",       "IP_INADDRERRORS",     "IP_INNOROUTES",  "IP_INVALID_SOURCE",
    "IP_NOPROTO",      "IP_TTL_EXPIRED", "IP_FORWARD_DISABLED", "NETFILTER_DROP", "FRAG_REASM_TIMEOUT",
    "FRAG_OVERLAP",    "FRAG_DUP",       "FRAG_TOO_FAR",        "FRAG_MEM_LIMIT", "FRAG_BAD_LENGTH",
    "ICMP_CSUM",       "ICMP_INVALID",   "ARP_INVALID",         "ARP_NOT_FOR_US", "NEIGH_FAILED",
    "NEIGH_QUEUEFULL", "NEIGH_DEAD",     "QDISC_DROP",          "DEV_DOWN",       "TX_ERROR",
    "UDP_CSUM",        "UDP_INVALID",    "NO_SOCKET",           "SOCKET_RCVBUFF", "PKT_TOO_BIG",
    "TCP_INVALID",     "TCP_CSUM",       "TCP_FLAGS",           "TCP_OLD_DATA",   "TCP_OVERWINDOW",
    "TCP_RFC5961",     "TCP_PAWS",       "TCP_LISTEN_OVERFLOW", "TCP_OFO_DROP",   "TCP_CLOSE",
};
static_assert(std::size(kDropNames) == static_cast<size_t>(DropReason::kCount));
}  // namespace

std::string_view mib_name(Mib m) { return kMibNames[static_cast<size_t>(m)]; }
std::string_view drop_reason_name(DropReason r) { return kDropNames[static_cast<size_t>(r)]; }

}  // namespace ustack
