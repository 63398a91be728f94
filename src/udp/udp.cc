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

Udp::Udp(Ipv4& ip) : Proto(ip.net()), ip_(ip) {
  ip.inet_add_protocol(kIpProtoUdp, InetProtocol{[this](SkbPtr skb) { udp_rcv(std::move(skb)); },
                                                 [this](const IcmpErrInfo& e) { udp_err(e); }});
}

UdpSock::UdpSock(Udp& udp) : Sock(udp), udp_(udp) {}

UdpSock::~UdpSock() {
  if (bound_) udp_.unhash(*this);
}

Udp::~Udp() = default;

Sock* Udp::create() {
  auto s = std::unique_ptr<UdpSock>(new UdpSock(*this));
  UdpSock* raw = s.get();
  owned_.emplace(raw, std::move(s));
  return raw;
}

void Udp::close(Sock& sk) {
  auto it = owned_.find(static_cast<UdpSock*>(&sk));
  if (it != owned_.end()) owned_.erase(it);
}

Result<size_t> Udp::sendmsg(Sock& sk, std::span<const std::byte> data, int,
                            const std::optional<SockAddrIn>& to) {
  auto& us = static_cast<UdpSock&>(sk);
  if (us.sk_shutdown & kSendShutdown) return make_error(Errc::kPipe);
  return us.sendto(data, to);
}

Result<size_t> Udp::recvmsg(Sock& sk, std::span<std::byte> buf, int flags, SockAddrIn* from) {
  auto& us = static_cast<UdpSock&>(sk);
  if ((flags & kMsgPeek) && !us.rx_.empty()) {
    SkBuff* skb = us.rx_.front();
    size_t n = std::min(buf.size(), skb->len());
    std::memcpy(buf.data(), skb->data(), n);
    if (from) *from = SockAddrIn{Ipv4Addr{skb->cb<UdpCb>().saddr}, skb->cb<UdpCb>().sport};
    return n;
  }
  auto r = us.recvfrom(buf, from);
  if (!r && r.error() == Errc::kAgain && (us.sk_shutdown & kRcvShutdown)) return size_t{0};
  return r;
}

Status Udp::shutdown(Sock& sk, int how) {
  if (how < 0 || how > 2) return make_error(Errc::kInval);
  sk.sk_shutdown |= static_cast<uint8_t>(how + 1);
  static_cast<UdpSock&>(sk).data_ready();
  return {};
}

Status Udp::setsockopt(Sock& sk, int level, int name, std::span<const std::byte> val) {
  auto& us = static_cast<UdpSock&>(sk);
  int v = 0;
  if (val.size() >= sizeof v) std::memcpy(&v, val.data(), sizeof v);
  if (level == 0 && name == 10) {  // IP_MTU_DISCOVER: IP_PMTUDISC_DONT 0, WANT 1, DO 2
    if (v < 0 || v > 2) return make_error(Errc::kInval);
    us.pmtudisc_ = v == 0 ? PmtuDisc::kDont : v == 1 ? PmtuDisc::kWant : PmtuDisc::kDo;
    return {};
  }
  return make_error(Errc::kNoProtoOpt);
}

uint16_t Udp::poll(const Sock& sk) const {
  const auto& us = static_cast<const UdpSock&>(sk);
  uint16_t mask = kPollOut | kPollWrNorm;
  if (!us.rx_.empty()) mask |= kPollIn | kPollRdNorm;
  if (us.sk_err != Errc::kOk) mask |= kPollErr;
  if (us.sk_shutdown & kRcvShutdown) mask |= kPollIn | kPollRdNorm | kPollRdHup;
  if (us.sk_shutdown == kShutdownMask) mask |= kPollHup;
  return mask;
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
  s.inet_rcv_saddr = s.inet_saddr = local.addr;
  s.inet_num = local.port;
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
  if ((peer.addr.is_any() && peer.port == 0) || peer.family == kAfUnspec) {
    connected_ = false;
    inet_daddr = Ipv4Addr::any();
    inet_dport = 0;
    sk_state = TcpState::kClose;
    return {};
  }
  if (peer.port == 0) return make_error(Errc::kInval);
  auto dst = udp_.ip_.ip_route_output(peer.addr, local_.addr);
  if (!dst) return make_error(dst.error());
  if ((*dst)->type == RouteType::kBroadcast && !sk_broadcast) return make_error(Errc::kAccess);
  if (!bound_) {
    if (Status s = udp_.hash(*this, SockAddrIn{Ipv4Addr::any(), 0}); !s) return s;
  }
  peer_ = peer;
  connected_ = true;
  inet_daddr = peer.addr;
  inet_dport = peer.port;
  if (inet_saddr.is_any()) inet_saddr = (*dst)->saddr;
  sk_state = TcpState::kEstablished;
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
  if ((*dst)->type == RouteType::kBroadcast && !sk_broadcast) return make_error(Errc::kAccess);
  Ipv4Addr saddr = src.is_any() ? (*dst)->saddr : src;

  size_t ulen = kUdpHeaderLen + data.size();
  SkbPtr skb = SkBuff::alloc(Ipv4::max_header_room(**dst), ulen);
  std::byte* p = skb->put(ulen).data();
  UdpHdr uh{local_.port, dest.port, static_cast<uint16_t>(ulen), 0};
  uh.emit(p);
  if (!data.empty()) std::memcpy(p + kUdpHeaderLen, data.data(), data.size());
  uint16_t check =
      csum_fold(csum_pseudo(saddr, dest.addr, kIpProtoUdp, uint32_t(ulen), csum_partial(p, ulen, 0)));
  store_be16(p + 6, check == 0 ? 0xffff : check);  // RFC 768: a computed zero is sent as all ones
  IpFlow flow{saddr, dest.addr, kIpProtoUdp, tos, uc_ttl, pmtudisc_};
  Status s = ip.ip_queue_xmit(std::move(skb), flow, *dst);
  if (!s) {
    if (s.error() == Errc::kNoBufs) net.mib.inc(Mib::UdpSndbufErrors);
    return make_error(s.error());
  }
  net.mib.inc(Mib::UdpOutDatagrams);
  return data.size();
}

Result<size_t> UdpSock::recvfrom(std::span<std::byte> buf, SockAddrIn* from) {
  if (sk_err != Errc::kOk) return make_error(sock_error());
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
  if (uh->check != 0 && !skb->csum_trusted() &&
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
  if (s->rx_.bytes() + skb->len() > s->rcvbuf()) {
    net.mib.inc(Mib::UdpRcvbufErrors);
    net.mib.inc(Mib::UdpInErrors);
    kfree_skb(net, std::move(skb), DropReason::SOCKET_RCVBUFF);
    return;
  }
  (void)skb->pull(kUdpHeaderLen);
  skb->cb<UdpCb>() = UdpCb{saddr.to_u32(), uh->source};
  net.mib.inc(Mib::UdpInDatagrams);
  s->rx_.push_back(std::move(skb));
  s->data_ready();
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
  s->sk_err = err;
  s->data_ready();
  s->error_report();
}

}  // namespace ustack
