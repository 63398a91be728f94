// IPv4 input (Linux net/ipv4/ip_input.c, ip_forward.c and the input half of route.c).
#include <algorithm>

#include "ipv4/icmp.h"
#include "ipv4/ip.h"
#include "ipv4/ip_fragment.h"
#include "wire/tcp.h"

namespace ustack {

using namespace wire;

// flatten: the input steps below (ip_rcv_finish .. ip_local_deliver_finish) are Linux's separate functions,
// but a call and an skb hand-over per step cost more than the steps themselves for a small segment.
[[gnu::flatten]] void Ipv4::ip_rcv(SkbPtr skb, NetDevice& dev) {
  // ip_rcv_core: frames for another host's MAC are not ours to route.
  if (skb->pkt_type == PacketType::kOtherHost) {
    kfree_skb(net_, std::move(skb), DropReason::OTHERHOST);
    return;
  }
  net_.mib.inc(Mib::IpInReceives);
  Ipv4ParseError err{};
  auto iph = Ipv4Hdr::parse(skb->bytes(), &err, skb->ip_summed != CsumState::kUnnecessary);
  if (!iph) {
    switch (err) {
      case Ipv4ParseError::kTotalLength:
        if (skb->len() >= kIpv4HeaderLen && load_be16(skb->data() + 2) > skb->len()) {
          net_.mib.inc(Mib::IpExtInTruncatedPkts);
          kfree_skb(net_, std::move(skb), DropReason::PKT_TOO_SMALL);
          return;
        }
        break;
      case Ipv4ParseError::kTruncated:
        net_.mib.inc(Mib::IpExtInTruncatedPkts);
        kfree_skb(net_, std::move(skb), DropReason::PKT_TOO_SMALL);
        return;
      case Ipv4ParseError::kChecksum:
        net_.mib.inc(Mib::IpExtInCsumErrors);
        net_.mib.inc(Mib::IpInHdrErrors);
        kfree_skb(net_, std::move(skb), DropReason::IP_CSUM);
        return;
      default:
        break;
    }
    net_.mib.inc(Mib::IpInHdrErrors);
    kfree_skb(net_, std::move(skb), DropReason::IP_INHDR);
    return;
  }
  // Ethernet pads short frames: the datagram is what tot_len says.
  skb->trim(iph->tot_len);
  skb->reset_network_header();
  skb->set_transport_header(iph->header_len());
  if (net_.trace.on()) {
    net_.trace.emit("ip_rcv", "%s > %s proto=%u id=%u ttl=%u len=%u%s", iph->saddr.to_string().c_str(),
                    iph->daddr.to_string().c_str(), iph->protocol, iph->id, iph->ttl, iph->tot_len,
                    iph->is_fragment() ? " frag" : "");
  }
  if (!nf_.run(*skb, NfHookState{NfHook::kPreRouting, dev.ifindex(), 0})) {
    kfree_skb(net_, std::move(skb), DropReason::NETFILTER_DROP);
    return;
  }
  ip_rcv_finish(std::move(skb), dev);
}

// ip_rcv_finish with ip_route_input_noref: local, broadcast, or to be forwarded.
void Ipv4::ip_rcv_finish(SkbPtr skb, NetDevice& dev) {
  const std::byte* h = skb->data();
  Ipv4Addr saddr{load_be32(h + 12)};
  Ipv4Addr daddr{load_be32(h + 16)};
  bool on_loopback = (dev.flags() & kIffLoopback) != 0;
  // Martian sources (RFC 1812 §5.3.7): no host sends from these. Our own addresses arrive only over
  // loopback.
  if (saddr.is_lbcast_or_mcast() || (saddr.is_zeronet() && !daddr.is_broadcast()) ||
      (!on_loopback && (saddr.is_loopback() || is_local_address(saddr)))) {
    net_.mib.inc(Mib::IpInAddrErrors);
    kfree_skb(net_, std::move(skb), DropReason::IP_INVALID_SOURCE);
    return;
  }
  if (is_local_address(daddr) || is_broadcast_on(daddr, dev.ifindex())) {
    ip_local_deliver(std::move(skb));
    return;
  }
  if (daddr.is_multicast() || (daddr.is_loopback() && !on_loopback) || !sysctl_.ip_forward) {
    // No group memberships; and a host that does not forward drops what is not for it.
    net_.mib.inc(Mib::IpInAddrErrors);
    kfree_skb(net_, std::move(skb), DropReason::IP_INADDRERRORS);
    return;
  }
  auto dst = ip_route_output(daddr);
  if (!dst || (*dst)->type != RouteType::kUnicast) {
    net_.mib.inc(Mib::IpExtInNoRoutes);
    icmp_->icmp_send(*skb, kIcmpDestUnreach, kIcmpNetUnreach);
    kfree_skb(net_, std::move(skb), DropReason::IP_INNOROUTES);
    return;
  }
  ip_forward(std::move(skb), dev, *dst);
}

void Ipv4::ip_local_deliver(SkbPtr skb) {
  if (load_be16(skb->data() + 6) & (kIpMf | kIpOffsetMask)) {
    skb = frags_->ip_defrag(std::move(skb));
    if (!skb) return;
  }
  if (!nf_.run(*skb, NfHookState{NfHook::kLocalIn, skb->ifindex, 0})) {
    kfree_skb(net_, std::move(skb), DropReason::NETFILTER_DROP);
    return;
  }
  ip_local_deliver_finish(std::move(skb));
}

void Ipv4::ip_local_deliver_finish(SkbPtr skb) {
  size_t ihl = size_t(load8(skb->data()) & 0xf) * 4;
  uint8_t proto = load8(skb->data() + 9);
  (void)skb->pull(ihl);  // ip_rcv checked ihl against the length
  skb->reset_transport_header();
  const InetProtocol& p = protos_[proto];
  if (!p.handler) {
    net_.mib.inc(Mib::IpInUnknownProtos);
    icmp_->icmp_send(*skb, kIcmpDestUnreach, kIcmpProtUnreach);
    kfree_skb(net_, std::move(skb), DropReason::IP_NOPROTO);
    return;
  }
  net_.mib.inc(Mib::IpInDelivers);
  if (net_.trace.on()) net_.trace.emit("ip_local_deliver_finish", "proto=%u len=%zu", proto, skb->len());
  p.handler(std::move(skb));
}

void Ipv4::ip_forward(SkbPtr skb, NetDevice& in, const DstPtr& dst) {
  (void)in;
  if (skb->pkt_type != PacketType::kHost) {
    kfree_skb(net_, std::move(skb), DropReason::OTHERHOST);
    return;
  }
  std::byte* h = skb->data();
  // RFC 1812 §5.3.1: a datagram whose TTL would reach zero is discarded with time exceeded.
  if (load8(h + 8) <= 1) {
    net_.mib.inc(Mib::IpInHdrErrors);
    icmp_->icmp_send(*skb, kIcmpTimeExceeded, kIcmpExcTtl);
    kfree_skb(net_, std::move(skb), DropReason::IP_TTL_EXPIRED);
    return;
  }
  // ip_exceeds_mtu: a GSO packet (merged on receive) leaves as its segments; each of those must fit.
  uint32_t mtu = dst->mtu();
  size_t out_len = skb->len();
  if (skb->is_gso() && load8(h + 9) == kIpProtoTcp) {
    size_t ihl = size_t(load8(h) & 0xf) * 4;
    if (skb->len() >= ihl + kTcpHeaderLen)
      out_len = std::min<size_t>(out_len, ihl + size_t(load8(h + ihl + 12) >> 4) * 4 + skb->gso_size);
  }
  if (out_len > mtu && (load_be16(h + 6) & kIpDf)) {
    net_.mib.inc(Mib::IpFragFails);
    icmp_->icmp_send(*skb, kIcmpDestUnreach, kIcmpFragNeeded, mtu);
    kfree_skb(net_, std::move(skb), DropReason::PKT_TOO_BIG);
    return;
  }
  if (!nf_.run(*skb, NfHookState{NfHook::kForward, skb->ifindex, dst->dev->ifindex()})) {
    kfree_skb(net_, std::move(skb), DropReason::NETFILTER_DROP);
    return;
  }
  // ip_decrease_ttl on a private copy of the header.
  skb->unshare();
  h = skb->data();
  store8(h + 8, load8(h + 8) - 1);
  ip_send_check(h);
  skb->pkt_type = PacketType::kOutgoing;
  net_.mib.inc(Mib::IpForwDatagrams);
  (void)ip_output(std::move(skb), dst);
}

}  // namespace ustack
