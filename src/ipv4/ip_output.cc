// IPv4 output (Linux net/ipv4/ip_output.c): from a transport's segment to the neighbour layer.
#include <algorithm>

#include "ipv4/arp.h"
#include "ipv4/icmp.h"
#include "ipv4/ip.h"
#include "ipv4/ip_fragment.h"

namespace ustack {

using namespace wire;

Ipv4::Ipv4(NetCore& net, DevCore& dev) : net_(net), dev_(dev), ident_secret_(net.rng.next_u32()) {
  for (auto& v : idents_) v = net.rng.next_u32();
  arp_ = std::make_unique<Arp>(*this);
  icmp_ = std::make_unique<Icmp>(*this);
  frags_ = std::make_unique<IpFragQueues>(*this);
  dev.dev_add_pack(kEthPIp, [this](SkbPtr skb, NetDevice& d) { ip_rcv(std::move(skb), d); });
}

Ipv4::~Ipv4() = default;

// ip_select_ident: IDs from a table of counters indexed by a keyed hash of the flow, so that IDs are
// unpredictable across destinations but do not repeat quickly within one (RFC 6864 §4.1, RFC 7739).
// A GSO packet takes one ID per segment it will become (ip_select_ident_segs).
uint16_t Ipv4::ip_select_ident(Ipv4Addr saddr, Ipv4Addr daddr, uint8_t proto, uint16_t segs) {
  uint64_t h = (uint64_t{saddr.to_u32()} << 32 | daddr.to_u32()) ^ (uint64_t{proto} << 56) ^ ident_secret_;
  h *= 0x9e3779b97f4a7c15ull;
  uint32_t& ctr = idents_[(h >> 40) % idents_.size()];
  uint16_t id = static_cast<uint16_t>(ctr + 1);
  ctr += segs;
  return id;
}

// flatten: the output steps below (ip_local_out .. ip_finish_output2) are Linux's separate functions, but a
// call and an skb hand-over per step cost more than the steps themselves for a small segment.
[[gnu::flatten]] Status Ipv4::ip_queue_xmit(SkbPtr skb, const IpFlow& flow, const DstPtr& dst) {
  size_t tot_len = skb->len() + kIpv4HeaderLen;
  if (tot_len > 65535) return make_error(Errc::kMsgSize);
  // A GSO packet leaves as segments that each fit the path (TCP cut them to the MSS).
  uint32_t mtu = skb->is_gso() ? 65535 : dst->mtu();
  bool df = flow.pmtudisc == PmtuDisc::kDo || (flow.pmtudisc == PmtuDisc::kWant && tot_len <= mtu);
  if (flow.pmtudisc == PmtuDisc::kDo && tot_len > mtu) return make_error(Errc::kMsgSize);
  if (skb->headroom() < kIpv4HeaderLen + dst->dev->ll_reserved_space()) {
    skb->expand_head(kIpv4HeaderLen + dst->dev->ll_reserved_space());
  }
  Ipv4Hdr iph;
  iph.tos = flow.tos;
  iph.tot_len = static_cast<uint16_t>(tot_len);
  iph.frag_off = df ? kIpDf : 0;
  iph.ttl = flow.ttl ? flow.ttl : sysctl_.ip_default_ttl;
  iph.protocol = flow.protocol;
  iph.saddr = flow.saddr.is_any() ? dst->saddr : flow.saddr;
  iph.daddr = flow.daddr;
  iph.id = ip_select_ident(iph.saddr, iph.daddr, iph.protocol, skb->is_gso() ? skb->gso_segs : 1);
  iph.emit(skb->push(kIpv4HeaderLen).data());
  skb->reset_network_header();
  skb->set_transport_header(kIpv4HeaderLen);
  skb->pkt_type = PacketType::kOutgoing;
  if (net_.trace.on()) {
    net_.trace.emit("ip_queue_xmit", "%s > %s proto=%u id=%u ttl=%u%s len=%zu", iph.saddr.to_string().c_str(),
                    iph.daddr.to_string().c_str(), iph.protocol, iph.id, iph.ttl, df ? " DF" : "", tot_len);
  }
  return ip_local_out(std::move(skb), dst);
}

Status Ipv4::ip_local_out(SkbPtr skb, const DstPtr& dst) {
  if (!nf_.run(*skb, NfHookState{NfHook::kLocalOut, 0, dst->dev->ifindex()})) {
    net_.mib.inc(Mib::IpOutDiscards);
    kfree_skb(net_, std::move(skb), DropReason::NETFILTER_DROP);
    return make_error(Errc::kPerm);  // as Linux reports NF_DROP on output
  }
  net_.mib.inc(Mib::IpOutRequests);
  if (net_.trace.on()) net_.trace.emit("ip_local_out", "nf_hook LOCAL_OUT accept -> dst_output");
  return ip_output(std::move(skb), dst);
}

Status Ipv4::ip_output(SkbPtr skb, const DstPtr& dst) {
  skb->protocol = kEthPIp;
  skb->ifindex = dst->dev->ifindex();
  if (!nf_.run(*skb, NfHookState{NfHook::kPostRouting, 0, dst->dev->ifindex()})) {
    net_.mib.inc(Mib::IpOutDiscards);
    kfree_skb(net_, std::move(skb), DropReason::NETFILTER_DROP);
    return make_error(Errc::kPerm);
  }
  if (net_.trace.on())
    net_.trace.emit("ip_output", "dev=%s nf_hook POST_ROUTING accept", dst->dev->name().c_str());
  return ip_finish_output(std::move(skb), dst);
}

Status Ipv4::ip_finish_output(SkbPtr skb, const DstPtr& dst) {
  uint32_t mtu = dst->mtu();
  if (skb->len() <= mtu || skb->is_gso()) return ip_finish_output2(std::move(skb), dst);
  if (load_be16(skb->data() + 6) & kIpDf) {
    // A DF datagram that does not fit: the sender learns it (EMSGSIZE locally, ICMP when forwarding).
    net_.mib.inc(Mib::IpFragFails);
    kfree_skb(net_, std::move(skb), DropReason::PKT_TOO_BIG);
    return make_error(Errc::kMsgSize);
  }
  return ip_fragment(std::move(skb), dst, mtu);
}

// ip_fragment (ip_do_fragment's slow path): cut the payload into pieces of (mtu - header) rounded down
// to 8 bytes, each with a copy of the header. Options without the copy flag become NOPs after the first
// fragment (ip_options_fragment), so every header keeps the same length.
Status Ipv4::ip_fragment(SkbPtr skb, const DstPtr& dst, uint32_t mtu) {
  const std::byte* h = skb->data();
  size_t hlen = size_t(load8(h) & 0xf) * 4;
  size_t payload = skb->len() - hlen;
  if (mtu < hlen + 8) {
    net_.mib.inc(Mib::IpFragFails);
    kfree_skb(net_, std::move(skb), DropReason::PKT_TOO_BIG);
    return make_error(Errc::kMsgSize);
  }
  size_t chunk = (mtu - hlen) & ~size_t{7};
  uint16_t orig_off = load_be16(h + 6);
  size_t base = size_t(orig_off & kIpOffsetMask) * 8;
  bool orig_mf = orig_off & kIpMf;
  std::array<std::byte, kIpv4MaxHeaderLen> later_hdr;
  std::memcpy(later_hdr.data(), h, hlen);
  for (size_t i = kIpv4HeaderLen; i < hlen;) {
    uint8_t kind = load8(later_hdr.data() + i);
    if (kind == 0) break;  // end of options
    if (kind == 1) {
      ++i;
      continue;
    }
    size_t olen = i + 1 < hlen ? load8(later_hdr.data() + i + 1) : 0;
    if (olen < 2 || i + olen > hlen) break;  // malformed: leave the rest as it is
    if (!(kind & 0x80)) std::memset(later_hdr.data() + i, 1, olen);
    i += olen;
  }
  size_t room = dst->dev->ll_reserved_space();
  Status result;
  for (size_t off = 0; off < payload; off += chunk) {
    size_t len = std::min(chunk, payload - off);
    bool last = off + len == payload;
    SkbPtr frag = SkBuff::alloc(room, hlen + len);
    std::byte* p = frag->put(hlen + len).data();
    std::memcpy(p, off == 0 ? h : later_hdr.data(), hlen);
    std::memcpy(p + hlen, h + hlen + off, len);
    store_be16(p + 2, static_cast<uint16_t>(hlen + len));
    uint16_t fo = static_cast<uint16_t>((orig_off & kIpDf) | ((base + off) / 8));
    if (!last || orig_mf) fo |= kIpMf;
    store_be16(p + 6, fo);
    ip_send_check(p);
    frag->reset_network_header();
    frag->set_transport_header(hlen);
    frag->protocol = kEthPIp;
    frag->ifindex = skb->ifindex;
    frag->priority = skb->priority;
    frag->pkt_type = skb->pkt_type;
    net_.mib.inc(Mib::IpFragCreates);
    Status s = ip_finish_output2(std::move(frag), dst);
    if (!s && result) result = s;
  }
  net_.mib.inc(Mib::IpFragOKs);
  if (net_.trace.on())
    net_.trace.emit("ip_fragment", "len=%zu mtu=%u -> %zu fragments", skb->len(), mtu,
                    (payload + chunk - 1) / chunk);
  consume_skb(std::move(skb));
  return result;
}

Status Ipv4::ip_finish_output2(SkbPtr skb, const DstPtr& dst) {
  if (!dst->neigh || dst->neigh->dead()) dst->neigh = arp_->tbl().lookup_or_create(dst->nexthop, *dst->dev);
  if (!dst->neigh) {
    kfree_skb(net_, std::move(skb), DropReason::NEIGH_DEAD);
    return make_error(Errc::kNoBufs);
  }
  if (net_.trace.on()) {
    net_.trace.emit("ip_finish_output2", "nexthop=%s dev=%s nud=%s", dst->nexthop.to_string().c_str(),
                    dst->dev->name().c_str(), nud_state_name(dst->neigh->nud_state()));
  }
  return arp_->tbl().neigh_output(*dst->neigh, std::move(skb));
}

void Ipv4::ip_link_failure(SkBuff& skb) {
  // ipv4_link_failure: the next hop did not answer ARP. Linux sends itself a host-unreachable; we give
  // the transport the same news directly.
  if (skb.len() < kIpv4HeaderLen) return;
  const std::byte* h = skb.data();
  size_t ihl = size_t(load8(h) & 0xf) * 4;
  if (ihl < kIpv4HeaderLen || skb.len() < ihl + 8) return;
  IcmpErrInfo e;
  e.type = kIcmpDestUnreach;
  e.code = kIcmpHostUnreach;
  e.err = Errc::kHostUnreach;
  e.fatal = true;
  e.saddr = Ipv4Addr{load_be32(h + 12)};
  e.reporter = e.saddr;
  e.daddr = Ipv4Addr{load_be32(h + 16)};
  e.protocol = load8(h + 9);
  e.transport = std::span<const std::byte>(h + ihl, skb.len() - ihl);
  deliver_err(e);
}

void Ipv4::deliver_err(const IcmpErrInfo& e) {
  if (const auto& p = protos_[e.protocol]; p.err_handler) p.err_handler(e);
}

}  // namespace ustack
