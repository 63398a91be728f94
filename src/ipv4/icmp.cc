#include "ipv4/icmp.h"

#include <algorithm>

namespace ustack {

using namespace wire;

Icmp::Icmp(Ipv4& ip) : ip_(ip), global_tokens_(ip.sysctl().icmp_msgs_burst) {
  ip.inet_add_protocol(kIpProtoIcmp, InetProtocol{[this](SkbPtr skb) { icmp_rcv(std::move(skb)); },
                                                  [this](const IcmpErrInfo& e) { icmp_err(e); }});
}

// icmp_err_convert[]: the errno and whether it is fatal, per destination-unreachable code.
IcmpErrInfo Icmp::icmp_err_convert(uint8_t type, uint8_t code) {
  IcmpErrInfo e;
  e.type = type;
  e.code = code;
  switch (type) {
    case kIcmpDestUnreach: {
      static constexpr std::pair<Errc, bool> kTable[] = {
          {Errc::kNetUnreach, false},  {Errc::kHostUnreach, false}, {Errc::kNoProtoOpt, true},
          {Errc::kConnRefused, true},  {Errc::kMsgSize, false},     {Errc::kOpNotSupp, false},
          {Errc::kNetUnreach, true},   {Errc::kHostDown, true},     {Errc::kHostUnreach, true},
          {Errc::kNetUnreach, true},   {Errc::kHostUnreach, true},  {Errc::kNetUnreach, false},
          {Errc::kHostUnreach, false}, {Errc::kHostUnreach, true},  {Errc::kHostUnreach, true},
          {Errc::kHostUnreach, true}};
      if (code < std::size(kTable)) {
        e.err = kTable[code].first;
        e.fatal = kTable[code].second;
      } else {
        e.err = Errc::kHostUnreach;
      }
      break;
    }
    case kIcmpParameterProb:
      e.err = Errc::kProto;
      e.fatal = true;
      break;
    default:  // time exceeded, source quench
      e.err = Errc::kHostUnreach;
  }
  return e;
}

void Icmp::icmp_rcv(SkbPtr skb) {
  NetCore& net = ip_.net();
  net.mib.inc(Mib::IcmpInMsgs);
  if (!skb->may_pull(kIcmpHeaderLen)) {
    net.mib.inc(Mib::IcmpInErrors);
    kfree_skb(net, std::move(skb), DropReason::PKT_TOO_SMALL);
    return;
  }
  if (csum_fold(csum_partial(skb->bytes(), 0)) != 0) {
    net.mib.inc(Mib::IcmpInCsumErrors);
    net.mib.inc(Mib::IcmpInErrors);
    kfree_skb(net, std::move(skb), DropReason::ICMP_CSUM);
    return;
  }
  auto h = IcmpHdr::parse(skb->bytes());
  switch (h->type) {
    case kIcmpEcho:
      net.mib.inc(Mib::IcmpInEchos);
      icmp_echo(std::move(skb), *h);
      return;
    case kIcmpEchoReply: {
      net.mib.inc(Mib::IcmpInEchoReps);
      auto it = echo_listeners_.find(h->echo_id());
      if (it != echo_listeners_.end() && it->second.on_reply) {
        auto iph = Ipv4Hdr::parse({skb->network_header(), skb->network_len()}, nullptr, false);
        it->second.on_reply(EchoReply{iph->saddr, h->echo_id(), h->echo_seq(), iph->ttl,
                                      skb->bytes().subspan(kIcmpHeaderLen)});
      }
      consume_skb(std::move(skb));
      return;
    }
    case kIcmpDestUnreach:
      net.mib.inc(Mib::IcmpInDestUnreachs);
      icmp_unreach(std::move(skb), *h);
      return;
    case kIcmpTimeExceeded:
      net.mib.inc(Mib::IcmpInTimeExcds);
      icmp_unreach(std::move(skb), *h);
      return;
    case kIcmpParameterProb:
      net.mib.inc(Mib::IcmpInParmProbs);
      icmp_unreach(std::move(skb), *h);
      return;
    default:
      // Redirects, timestamps and the rest are not acted on (Linux ignores redirects on hosts by default
      // only when accept_redirects=0; we never take them: they are easy to forge).
      consume_skb(std::move(skb));
  }
}

void Icmp::icmp_echo(SkbPtr skb, const IcmpHdr& h) {
  NetCore& net = ip_.net();
  auto iph = Ipv4Hdr::parse({skb->network_header(), skb->network_len()}, nullptr, false);
  bool to_broadcast = skb->pkt_type == PacketType::kBroadcast || skb->pkt_type == PacketType::kMulticast ||
                      iph->daddr.is_lbcast_or_mcast() || ip_.is_broadcast_on(iph->daddr, skb->ifindex);
  if (to_broadcast && ip_.sysctl().icmp_echo_ignore_broadcasts) {
    consume_skb(std::move(skb));
    return;
  }
  // The reply reuses the request's buffer: same identifier, sequence and data (RFC 792), new type.
  skb->unshare();
  IcmpHdr reply = h;
  reply.type = kIcmpEchoReply;
  reply.code = 0;
  reply.emit(skb->data());
  store_be16(skb->data() + 2, csum_fold(csum_partial(skb->bytes(), 0)));
  Ipv4Addr src = to_broadcast ? Ipv4Addr::any() : iph->daddr;
  auto dst = ip_.ip_route_output(iph->saddr, src);
  if (!dst) {
    kfree_skb(net, std::move(skb), DropReason::IP_INNOROUTES);
    return;
  }
  net.mib.inc(Mib::IcmpOutMsgs);
  net.mib.inc(Mib::IcmpOutEchoReps);
  // Replies are not path-MTU limited: a large request gets a fragmented reply.
  IpFlow flow{(*dst)->saddr, iph->saddr, kIpProtoIcmp, iph->tos, 0, PmtuDisc::kDont};
  skb->priority = 1;
  (void)ip_.ip_queue_xmit(std::move(skb), flow, *dst);
}

void Icmp::icmp_unreach(SkbPtr skb, const IcmpHdr& h) {
  NetCore& net = ip_.net();
  // The quoted datagram: its IP header and at least 8 bytes of its transport header (RFC 792).
  auto quoted = skb->bytes().subspan(kIcmpHeaderLen);
  auto inner = Ipv4Hdr::parse(quoted.first(std::min(quoted.size(), kIpv4MaxHeaderLen)), nullptr, false);
  if (!inner) {
    // parse() wants tot_len <= size: quotes are truncated, so check the fixed part by hand.
    if (quoted.size() < kIpv4HeaderLen || (load8(quoted.data()) >> 4) != 4 ||
        (load8(quoted.data()) & 0xf) < 5) {
      net.mib.inc(Mib::IcmpInErrors);
      kfree_skb(net, std::move(skb), DropReason::ICMP_INVALID);
      return;
    }
  }
  size_t ihl = size_t(load8(quoted.data()) & 0xf) * 4;
  if (quoted.size() < ihl + 8) {
    net.mib.inc(Mib::IcmpInErrors);
    kfree_skb(net, std::move(skb), DropReason::ICMP_INVALID);
    return;
  }
  IcmpErrInfo e = icmp_err_convert(h.type, h.code);
  e.saddr = Ipv4Addr{load_be32(quoted.data() + 12)};
  e.daddr = Ipv4Addr{load_be32(quoted.data() + 16)};
  e.protocol = load8(quoted.data() + 9);
  e.transport = quoted.subspan(ihl);
  e.reporter = Ipv4Addr{load_be32(skb->network_header() + 12)};
  if (h.type == kIcmpDestUnreach && h.code == kIcmpFragNeeded) {
    e.info = h.frag_mtu();
    // RFC 1191: the next-hop MTU; 0 from pre-1191 routers, which we do not guess around. Only a
    // datagram we sent can teach us a path MTU.
    if (e.info >= 68 && ip_.is_local_address(e.saddr)) ip_.ip_rt_update_pmtu(e.daddr, e.info);
  }
  if (net.trace.on()) {
    net.trace.emit("icmp_unreach", "type=%u code=%u about %s -> %s proto=%u err=%s", h.type, h.code,
                   e.saddr.to_string().c_str(), e.daddr.to_string().c_str(), e.protocol,
                   std::string(errc_name(e.err)).c_str());
  }
  // Only errors about packets we sent concern our sockets.
  if (ip_.is_local_address(e.saddr)) ip_.deliver_err(e);
  consume_skb(std::move(skb));
}

void Icmp::icmp_err(const IcmpErrInfo& e) {
  // An error about an ICMP packet we sent: only echo requests have someone to tell.
  if (e.transport.size() < 8 || load8(e.transport.data()) != kIcmpEcho) return;
  uint16_t id = load_be16(e.transport.data() + 4);
  auto it = echo_listeners_.find(id);
  if (it != echo_listeners_.end() && it->second.on_error) {
    it->second.on_error(EchoError{e.reporter, id, load_be16(e.transport.data() + 6), e.type, e.code});
  }
}

bool Icmp::icmpv4_xrlim_allow(Ipv4Addr dst) {
  NetCore& net = ip_.net();
  const Ipv4Sysctl& s = ip_.sysctl();
  TimePoint now = net.now();
  // Global bucket: icmp_msgs_per_sec tokens a second, at most icmp_msgs_burst.
  global_tokens_ = std::min<double>(s.icmp_msgs_burst,
                                    global_tokens_ + to_seconds(now - global_stamp_) * s.icmp_msgs_per_sec);
  global_stamp_ = now;
  if (global_tokens_ < 1) {
    net.mib.inc(Mib::IcmpOutRateLimitGlobal);
    return false;
  }
  if (s.icmp_ratelimit.count() > 0) {
    constexpr double kBurst = 6;
    if (peers_.size() > 4096) peers_.clear();  // bounded: a spoofed flood must not grow it for ever
    auto [it, fresh] = peers_.try_emplace(dst, PeerBucket{kBurst, now});
    PeerBucket& b = it->second;
    if (!fresh)
      b.tokens = std::min(kBurst, b.tokens + to_seconds(now - b.stamp) / to_seconds(s.icmp_ratelimit));
    b.stamp = now;
    if (b.tokens < 1) {
      net.mib.inc(Mib::IcmpOutRateLimitHost);
      return false;
    }
    b.tokens -= 1;
  }
  global_tokens_ -= 1;
  return true;
}

void Icmp::icmp_send(const SkBuff& skb_in, uint8_t type, uint8_t code, uint32_t info) {
  NetCore& net = ip_.net();
  if (!skb_in.has_network_header()) return;
  std::span<const std::byte> orig{skb_in.network_header(), skb_in.network_len()};
  if (orig.size() < kIpv4HeaderLen) return;
  size_t ihl = size_t(load8(orig.data()) & 0xf) * 4;
  if (ihl < kIpv4HeaderLen || ihl > orig.size()) return;
  Ipv4Addr saddr{load_be32(orig.data() + 12)};
  Ipv4Addr daddr{load_be32(orig.data() + 16)};
  uint16_t frag_off = load_be16(orig.data() + 6);
  uint8_t proto = load8(orig.data() + 9);
  // RFC 1122 §3.2.2: no error about a link-layer or IP broadcast or multicast, about a fragment other
  // than the first, about a source that names no single host, or about an ICMP error.
  if (skb_in.pkt_type != PacketType::kHost && skb_in.pkt_type != PacketType::kOutgoing &&
      skb_in.pkt_type != PacketType::kLoopback)
    return;
  if (daddr.is_lbcast_or_mcast() || ip_.is_broadcast_on(daddr, skb_in.ifindex)) return;
  if ((frag_off & kIpOffsetMask) != 0) return;
  if (saddr.is_any() || saddr.is_lbcast_or_mcast() || saddr.is_zeronet()) return;
  if (proto == kIpProtoIcmp) {
    if (orig.size() < ihl + 1) return;
    uint8_t inner_type = load8(orig.data() + ihl);
    if (icmp_is_error(inner_type) || inner_type > 18) return;
  }
  if (!icmpv4_xrlim_allow(saddr)) return;

  // Our source: the address the offending packet was sent to, if it is ours; else the outgoing
  // interface's address.
  auto dst = ip_.ip_route_output(saddr, ip_.is_local_address(daddr) ? daddr : Ipv4Addr::any());
  if (!dst) return;
  // RFC 1812 §4.3.2.3: as much of the datagram as fits in 576 bytes.
  size_t quote = std::min(orig.size(), size_t{576} - kIpv4HeaderLen - kIcmpHeaderLen);
  SkbPtr skb = SkBuff::alloc(Ipv4::max_header_room(**dst), kIcmpHeaderLen + quote);
  IcmpHdr h{type, code, 0, info};
  h.emit(skb->put(kIcmpHeaderLen).data());
  (void)skb->put_data(orig.first(quote));
  store_be16(skb->data() + 2, csum_fold(csum_partial(skb->bytes(), 0)));
  skb->priority = 0;
  net.mib.inc(Mib::IcmpOutMsgs);
  if (type == kIcmpDestUnreach) net.mib.inc(Mib::IcmpOutDestUnreachs);
  if (type == kIcmpTimeExceeded) net.mib.inc(Mib::IcmpOutTimeExcds);
  if (net.trace.on()) {
    net.trace.emit("icmp_send", "type=%u code=%u to %s about proto=%u", type, code, saddr.to_string().c_str(),
                   proto);
  }
  uint8_t tos = static_cast<uint8_t>((load8(orig.data() + 1) & 0x1e) | 0xc0);  // IPTOS_PREC_INTERNETCONTROL
  IpFlow flow{(*dst)->saddr, saddr, kIpProtoIcmp, tos, 0, PmtuDisc::kDont};
  if (!ip_.ip_queue_xmit(std::move(skb), flow, *dst)) net.mib.inc(Mib::IcmpOutErrors);
}

Status Icmp::send_echo(Ipv4Addr dst_addr, uint16_t id, uint16_t seq, std::span<const std::byte> payload,
                       uint8_t ttl) {
  if (payload.size() > 65507 - kIcmpHeaderLen) return make_error(Errc::kMsgSize);
  auto dst = ip_.ip_route_output(dst_addr);
  if (!dst) return make_error(dst.error());
  if ((*dst)->type == RouteType::kBroadcast) return make_error(Errc::kAccess);  // SO_BROADCAST is not set
  SkbPtr skb = SkBuff::alloc(Ipv4::max_header_room(**dst), kIcmpHeaderLen + payload.size());
  IcmpHdr h{kIcmpEcho, 0, 0, (uint32_t{id} << 16) | seq};
  h.emit(skb->put(kIcmpHeaderLen).data());
  (void)skb->put_data(payload);
  store_be16(skb->data() + 2, csum_fold(csum_partial(skb->bytes(), 0)));
  ip_.net().mib.inc(Mib::IcmpOutMsgs);
  ip_.net().mib.inc(Mib::IcmpOutEchos);
  // Like ping with its default -M do? No: iputils ping leaves DF to the kernel's default for raw and
  // ping sockets, which fragments large requests; so do we.
  IpFlow flow{(*dst)->saddr, dst_addr, kIpProtoIcmp, 0, ttl, PmtuDisc::kDont};
  return ip_.ip_queue_xmit(std::move(skb), flow, *dst);
}

}  // namespace ustack
