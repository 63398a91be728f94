#include "udp/udp.h"

#include <algorithm>

#include "ipv4/icmp.h"
#include "wire/udp.h"

namespace ustack {

using namespace wire;

namespace {
// Where a queued datagram came from, in its control block.
struct UdpCb {
  uint32_t saddr;
  uint16_t sport;
};
}  // namespace

Udp::Udp(Ipv4& ip) : ip_(ip) {
  ip.inet_add_protocol(kIpProtoUdp, InetProtocol{[this](SkbPtr skb) { udp_rcv(std::move(skb)); },
                                                 [this](const IcmpErrInfo& e) { udp_err(e); }});
}

UdpSock::~UdpSock() {
  if (bound_) udp_.unhash(*this);
}

Status Udp::hash(UdpSock& s, SockAddrIn local) {
  auto conflicts = [&](uint16_t port) {
    auto it = ports_.find(port);
    if (it == ports_.end()) return false;
    return std::any_of(it->second.begin(), it->second.end(), [&](UdpSock* o) {
      return o->local_.addr.is_any() || local.addr.is_any() || o->local_.addr == local.addr;
    });
  };
  if (local.port == 0) {
    // inet_csk_get_port for UDP: a random start in the range, then the next free port.
    uint32_t range = uint32_t(port_hi_ - port_lo_) + 1;
    uint32_t start = ip_.net().rng.below(range);
    bool found = false;
    for (uint32_t i = 0; i < range; ++i) {
      uint16_t p = static_cast<uint16_t>(port_lo_ + (start + i) % range);
      if (!conflicts(p)) {
        local.port = p;
        found = true;
        break;
      }
    }
    if (!found) return make_error(Errc::kAddrInUse);
  } else if (conflicts(local.port)) {
    return make_error(Errc::kAddrInUse);
  }
  s.local_ = local;
  s.bound_ = true;
  ports_[local.port].push_back(&s);
  return {};
}

void Udp::unhash(UdpSock& s) {
  auto it = ports_.find(s.local_.port);
  if (it == ports_.end()) return;
  std::erase(it->second, &s);
  if (it->second.empty()) ports_.erase(it);
  s.bound_ = false;
}

Status UdpSock::bind(SockAddrIn local) {
  if (bound_) return make_error(Errc::kInval);
  if (!local.addr.is_any() && !udp_.ip_.is_local_address(local.addr) && !local.addr.is_broadcast())
    return make_error(Errc::kAddrNotAvail);
  return udp_.hash(*this, local);
}

Status UdpSock::connect(SockAddrIn peer) {
  if (peer.addr.is_any() && peer.port == 0) {
    connected_ = false;
    return {};
  }
  if (peer.port == 0) return make_error(Errc::kInval);
  auto dst = udp_.ip_.ip_route_output(peer.addr, local_.addr);
  if (!dst) return make_error(dst.error());
  if ((*dst)->type == RouteType::kBroadcast && !broadcast_) return make_error(Errc::kAccess);
  if (!bound_) {
    if (Status s = udp_.hash(*this, SockAddrIn{Ipv4Addr::any(), 0}); !s) return s;
  }
  peer_ = peer;
  connected_ = true;
  return {};
}

Result<size_t> UdpSock::sendto(std::span<const std::byte> data, std::optional<SockAddrIn> to) {
  Ipv4& ip = udp_.ip_;
  NetCore& net = ip.net();
  if (!to && !connected_) return make_error(Errc::kDestAddrReq);
  SockAddrIn dest = to ? *to : peer_;
  if (dest.port == 0) return make_error(Errc::kInval);
  if (data.size() > 65535 - kIpv4HeaderLen - kUdpHeaderLen) return make_error(Errc::kMsgSize);
  if (!bound_) {
    if (Status s = udp_.hash(*this, SockAddrIn{Ipv4Addr::any(), 0}); !s) return make_error(s.error());
  }
  Ipv4Addr src = local_.addr.is_broadcast() ? Ipv4Addr::any() : local_.addr;
  auto dst = ip.ip_route_output(dest.addr, src);
  if (!dst) return make_error(dst.error());
  if ((*dst)->type == RouteType::kBroadcast && !broadcast_) return make_error(Errc::kAccess);
  Ipv4Addr saddr = src.is_any() ? (*dst)->saddr : src;

  size_t ulen = kUdpHeaderLen + data.size();
  SkbPtr skb = SkBuff::alloc(Ipv4::max_header_room(**dst), ulen);
  std::byte* p = skb->put(ulen).data();
  UdpHdr uh{local_.port, dest.port, static_cast<uint16_t>(ulen), 0};
  uh.emit(p);
  if (!data.empty()) std::memcpy(p + kUdpHeaderLen, data.data(), data.size());
  uint16_t check = csum_fold(csum_pseudo(saddr, dest.addr, kIpProtoUdp, uint32_t(ulen), csum_partial(p, ulen, 0)));
  store_be16(p + 6, check == 0 ? 0xffff : check);  // RFC 768: a computed zero is sent as all ones
  IpFlow flow{saddr, dest.addr, kIpProtoUdp, 0, ttl_, pmtudisc_};
  Status s = ip.ip_queue_xmit(std::move(skb), flow, *dst);
  if (!s) {
    if (s.error() == Errc::kNoBufs) net.mib.inc(Mib::UdpSndbufErrors);
    return make_error(s.error());
  }
  net.mib.inc(Mib::UdpOutDatagrams);
  return data.size();
}

Result<size_t> UdpSock::recvfrom(std::span<std::byte> buf, SockAddrIn* from) {
  if (err_ != Errc::kOk) return make_error(std::exchange(err_, Errc::kOk));
  SkbPtr skb = rx_.pop_front();
  if (!skb) return make_error(Errc::kAgain);
  size_t n = std::min(buf.size(), skb->len());
  if (n) std::memcpy(buf.data(), skb->data(), n);
  if (from) *from = SockAddrIn{Ipv4Addr{skb->cb<UdpCb>().saddr}, skb->cb<UdpCb>().sport};
  return n;
}

UdpSock* Udp::lookup(Ipv4Addr saddr, uint16_t sport, Ipv4Addr daddr, uint16_t dport) const {
  auto it = ports_.find(dport);
  if (it == ports_.end()) return nullptr;
  UdpSock* best = nullptr;
  int best_score = -1;
  for (UdpSock* s : it->second) {
    int score = 0;
    if (!s->local_.addr.is_any()) {
      if (s->local_.addr != daddr && !s->local_.addr.is_broadcast()) continue;
      score += 2;
    }
    if (s->connected_) {
      if (s->peer_.addr != saddr || s->peer_.port != sport) continue;
      score += 4;
    }
    if (score > best_score) {
      best = s;
      best_score = score;
    }
  }
  return best;
}

void Udp::udp_rcv(SkbPtr skb) {
  NetCore& net = ip_.net();
  auto uh = UdpHdr::parse(skb->bytes());
  if (!uh) {
    net.mib.inc(Mib::UdpInErrors);
    kfree_skb(net, std::move(skb), DropReason::UDP_INVALID);
    return;
  }
  skb->trim(uh->len);
  const std::byte* nh = skb->network_header();
  Ipv4Addr saddr{load_be32(nh + 12)};
  Ipv4Addr daddr{load_be32(nh + 16)};
  // RFC 768: a zero checksum means none was computed.
  if (uh->check != 0 && skb->ip_summed != CsumState::kUnnecessary &&
      csum_fold(csum_pseudo(saddr, daddr, kIpProtoUdp, uh->len, csum_partial(skb->bytes(), 0))) != 0) {
    net.mib.inc(Mib::UdpInCsumErrors);
    net.mib.inc(Mib::UdpInErrors);
    kfree_skb(net, std::move(skb), DropReason::UDP_CSUM);
    return;
  }
  UdpSock* s = lookup(saddr, uh->source, daddr, uh->dest);
  if (!s) {
    net.mib.inc(Mib::UdpNoPorts);
    ip_.icmp().icmp_send(*skb, kIcmpDestUnreach, kIcmpPortUnreach);
    kfree_skb(net, std::move(skb), DropReason::NO_SOCKET);
    return;
  }
  if (s->rx_.bytes() + skb->len() > s->rcvbuf_) {
    net.mib.inc(Mib::UdpRcvbufErrors);
    net.mib.inc(Mib::UdpInErrors);
    kfree_skb(net, std::move(skb), DropReason::SOCKET_RCVBUFF);
    return;
  }
  (void)skb->pull(kUdpHeaderLen);
  skb->cb<UdpCb>() = UdpCb{saddr.to_u32(), uh->source};
  net.mib.inc(Mib::UdpInDatagrams);
  s->rx_.push_back(std::move(skb));
  if (s->data_ready_) s->data_ready_();
}

void Udp::udp_err(const IcmpErrInfo& e) {
  if (e.transport.size() < kUdpHeaderLen) return;
  uint16_t sport = load_be16(e.transport.data());
  uint16_t dport = load_be16(e.transport.data() + 2);
  // The quoted datagram went from us (saddr:sport) to the peer (daddr:dport).
  UdpSock* s = lookup(e.daddr, dport, e.saddr, sport);
  if (!s) return;
  Errc err = e.err;
  bool hard = e.fatal;
  if (e.type == kIcmpDestUnreach && e.code == kIcmpFragNeeded) {
    if (s->pmtudisc_ == PmtuDisc::kDont) return;
    err = Errc::kMsgSize;
    hard = true;
  }
  // Without IP_RECVERR, Linux reports only hard errors, and only to connected sockets: an unconnected
  // socket cannot tell which of its datagrams failed.
  if (!hard || !s->connected_) return;
  s->err_ = err;
  if (s->data_ready_) s->data_ready_();
}

}  // namespace ustack
