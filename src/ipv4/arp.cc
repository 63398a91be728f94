#include "ipv4/arp.h"

#include "ipv4/ip.h"

namespace ustack {

Arp::Arp(Ipv4& ip)
    : ip_(ip),
      tbl_(ip.net(), ip.devs(),
           NeighOps{[this](Neighbour& n, bool unicast) { arp_solicit(n, unicast); },
                    [this](Neighbour&, SkBuff& skb) { ip_.ip_link_failure(skb); }}) {
  ip.devs().dev_add_pack(wire::kEthPArp,
                         [this](SkbPtr skb, NetDevice& dev) { arp_rcv(std::move(skb), dev); });
}

void Arp::arp_send(uint16_t op, NetDevice& dev, const MacAddr& dest_hw, Ipv4Addr sip, Ipv4Addr tip,
                   const MacAddr& tha) {
  NetCore& net = ip_.net();
  SkbPtr skb = SkBuff::alloc(dev.ll_reserved_space(), wire::kArpLen);
  wire::ArpPacket a{op, dev.dev_addr(), sip, tha, tip};
  a.emit(skb->put(wire::kArpLen).data());
  skb->reset_network_header();
  wire::EthHdr eth{dest_hw, dev.dev_addr(), wire::kEthPArp};
  eth.emit(skb->push(wire::kEthHeaderLen).data());
  skb->reset_mac_header();
  skb->ifindex = dev.ifindex();
  skb->protocol = wire::kEthPArp;
  skb->priority = 0;  // TC_PRIO_CONTROL
  net.mib.inc(op == wire::kArpOpRequest ? Mib::ArpOutRequests : Mib::ArpOutReplies);
  if (net.trace.on()) {
    net.trace.emit("arp_send", "%s who-has %s tell %s dev=%s",
                   op == wire::kArpOpRequest ? "request" : "reply", tip.to_string().c_str(),
                   sip.to_string().c_str(), dev.name().c_str());
  }
  (void)ip_.devs().dev_queue_xmit(std::move(skb));  // a lost ARP packet is retried by the neighbour timer
}

void Arp::send_gratuitous(NetDevice& dev, Ipv4Addr addr) {
  arp_send(wire::kArpOpRequest, dev, MacAddr::broadcast(), addr, addr, MacAddr{});
}

void Arp::arp_solicit(Neighbour& n, bool unicast) {
  NetDevice& dev = n.dev();
  Ipv4Addr sip = ip_.inet_select_addr(dev.ifindex(), n.key());
  if (sip.is_any()) return;  // no address to ask from: the probe timer will fail the entry
  if (unicast) {
    arp_send(wire::kArpOpRequest, dev, n.ha(), sip, n.key(), n.ha());
  } else {
    arp_send(wire::kArpOpRequest, dev, MacAddr::broadcast(), sip, n.key(), MacAddr{});
  }
}

void Arp::arp_rcv(SkbPtr skb, NetDevice& dev) {
  NetCore& net = ip_.net();
  auto a = wire::ArpPacket::parse(skb->bytes());
  if (!a || (dev.flags() & kIffNoArp) || skb->pkt_type == PacketType::kOtherHost) {
    kfree_skb(net, std::move(skb), a ? DropReason::ARP_NOT_FOR_US : DropReason::ARP_INVALID);
    return;
  }
  net.mib.inc(a->op == wire::kArpOpRequest ? Mib::ArpInRequests : Mib::ArpInReplies);
  // arp_process: requests about multicast or loopback targets, and senders that cannot be hosts, are
  // ignored; so is a sender claiming an Ethernet broadcast or multicast address.
  if (a->tpa.is_multicast() || a->tpa.is_loopback() || a->spa.is_lbcast_or_mcast() || a->spa.is_loopback() ||
      a->sha.is_multicast() || a->sha.is_zero()) {
    kfree_skb(net, std::move(skb), DropReason::ARP_INVALID);
    return;
  }
  bool target_is_ours = ip_.is_local_address(a->tpa) && !a->tpa.is_loopback();
  if (a->spa.is_any()) {
    // RFC 5227 address probe: answer only if the probed address is ours.
    if (a->op == wire::kArpOpRequest && target_is_ours)
      arp_send(wire::kArpOpReply, dev, a->sha, a->tpa, a->spa, a->sha);
    consume_skb(std::move(skb));
    return;
  }
  if (a->op == wire::kArpOpRequest && target_is_ours) {
    // The asker is about to talk to us: learn its address (STALE) and answer.
    if (auto n = tbl_.lookup_or_create(a->spa, dev)) tbl_.neigh_update(*n, a->sha, false);
    arp_send(wire::kArpOpReply, dev, a->sha, a->tpa, a->spa, a->sha);
    consume_skb(std::move(skb));
    return;
  }
  // Replies and others' requests only refresh entries we already have.
  if (auto n = tbl_.lookup(a->spa, dev)) {
    bool confirmed = a->op == wire::kArpOpReply && skb->pkt_type == PacketType::kHost;
    tbl_.neigh_update(*n, a->sha, confirmed);
  }
  consume_skb(std::move(skb));
}

}  // namespace ustack
