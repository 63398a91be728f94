// ARP (RFC 826; Linux net/ipv4/arp.c): resolves IPv4 next hops to Ethernet addresses through the
// neighbour table, answers requests for our own addresses and nothing else, and announces new addresses
// with gratuitous ARP.
#pragma once

#include "neigh/neighbour.h"
#include "wire/arp.h"

namespace ustack {

class Ipv4;

class Arp {
 public:
  explicit Arp(Ipv4& ip);
  NeighTable& tbl() { return tbl_; }
  // arp_rcv: the skb's data starts at the ARP header.
  void arp_rcv(SkbPtr skb, NetDevice& dev);
  // arp_send: one ARP packet. `dest_hw` is the Ethernet destination.
  void arp_send(uint16_t op, NetDevice& dev, const MacAddr& dest_hw, Ipv4Addr sip, Ipv4Addr tip,
                const MacAddr& tha);
  void send_gratuitous(NetDevice& dev, Ipv4Addr addr);

 private:
  void arp_solicit(Neighbour& n, bool unicast);
  Ipv4& ip_;
  NeighTable tbl_;
};

}  // namespace ustack
