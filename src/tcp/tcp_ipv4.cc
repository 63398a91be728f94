// TCP over IPv4 (Linux net/ipv4/tcp_ipv4.c and inet_hashtables.c): sock set-up, connect, the hash
// tables, demultiplexing of received segments, and stateless replies (RST, ACK).
#include <algorithm>

#include "ipv4/icmp.h"
#include "tcp/tcp.h"

namespace ustack {

using namespace wire;

TcpSock::TcpSock(Tcp& tcp) : Sock(tcp) {}
TcpSock::~TcpSock() {
  NET_ASSERT(timer_slot == kNoTimerSlot);  // tcp_clear_xmit_timers came first
  if (active_) tcp().active_cache_.destroy(active_);
}

const TcpActive TcpSock::kIdle{};

TcpActive& TcpSock::make_active() {
  active_ = tcp().active_cache_.create();
  // Marks that compare with snd_una start at it, as old marks would read (see TcpActive).
  active_->high_seq = active_->cwnd_usage_seq = active_->rack_end_seq = active_->snd_sml = snd_una;
  return *active_;
}

void TcpSock::deactivate() {
  if (!active_) return;
  tcp().active_cache_.destroy(active_);
  active_ = nullptr;
}

Tcp::Tcp(Ipv4& ip) : Proto(ip.net()), ip_(ip) {
  secret_ = SipKey{ip.net().rng.next_u64(), ip.net().rng.next_u64()};
  // The established table's key, from the secret (drawing more would shift every later random choice).
  const char tag[] = "inet_ehash_secret";
  ehash_.traits().seed = SipKey{siphash(secret_, tag, sizeof tag), siphash(secret_, tag, sizeof tag - 1)};
  reqhash_.traits().seed = ehash_.traits().seed;
  twhash_.traits().seed = ehash_.traits().seed;
  tw_reaper_.setup([](void* tcp) { static_cast<Tcp*>(tcp)->inet_twdr_hangman(); }, this);
  timer_heap_timer_.setup([](void* tcp) { static_cast<Tcp*>(tcp)->tcp_timer_heap_run(); }, this);
  for (auto& h : table_perturb_) h = static_cast<uint16_t>(ip.net().rng.next_u32());
  ip.inet_add_protocol(kIpProtoTcp, InetProtocol{[this](SkbPtr skb) { tcp_v4_rcv(std::move(skb)); },
                                                 [this](const IcmpErrInfo& e) { tcp_v4_err(e); }});
}

// The socks are the protocol's: each is freed here or by reap() (sk_free).
Tcp::~Tcp() {
  std::vector<TcpSock*> socks;
  socks.reserve(socks_.size());
  socks_.for_each([&](TcpSock& tp) { socks.push_back(&tp); });
  for (TcpSock* tp : socks) {
    tcp_clear_xmit_timers(*tp);
    socks_.destroy(tp);
  }
  std::vector<RequestSock*> reqs;
  reqhash_.for_each([&](RequestSock& r) { reqs.push_back(&r); });
  for (RequestSock* r : reqs) req_cache_.destroy(r);
  while (TimeWaitSock* tw = tw_death_row_.front()) {
    tw_death_row_.erase(*tw);
    tw_cache_.destroy(tw);
  }
}

// tcp_v4_init_sock / tcp_init_sock: a fresh sock in CLOSE with RFC 6298's initial RTO, an MSS of 536
// until the route and the peer say more (RFC 9293 §3.7.1), an initial window of 10 segments
// (RFC 6928), and the buffer sizes from the settings.
Sock* Tcp::create() {
  TcpSock& tp = *socks_.create(*this);
  tp.sk_state = TcpState::kClose;
  tp.rto = sysctl_.rto_init;
  tp.ato = sysctl_.delack_min;
  tp.mss_cache = 536;
  tp.snd_cwnd = sysctl_.init_cwnd;
  tp.snd_ssthresh = 0x7fffffff;
  tp.ca_key = tcp_ca_find(sysctl_.congestion_control).value_or(0);
  if (net().trace.on()) {
    net().trace.emit("tcp_v4_init_sock", "state=CLOSE rto=%.0fms mss=%u cwnd=%u rcvbuf=%u sndbuf=%u cc=%s",
                     to_ms(tp.rto), tp.mss_cache, tp.snd_cwnd, tp.rcvbuf(), tp.sndbuf(), tp.ca_ops().name());
  }
  return &tp;
}

uint32_t Tcp::secure_tcp_seq(Ipv4Addr saddr, Ipv4Addr daddr, uint16_t sport, uint16_t dport) {
  // RFC 6528: ISN = M + F(localip, localport, remoteip, remoteport, secretkey), M a 4 µs clock (the
  // kernel's ktime/64 ns is finer; 4 µs is the RFC's).
  uint32_t in[3] = {saddr.to_u32(), daddr.to_u32(), uint32_t{sport} << 16 | dport};
  uint32_t f = static_cast<uint32_t>(siphash(secret_, in, sizeof in));
  auto m = static_cast<uint32_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(net().now().time_since_epoch()).count() / 4);
  return f + m;
}

uint32_t Tcp::secure_tcp_ts_off(Ipv4Addr saddr, Ipv4Addr daddr) {
  uint32_t in[3] = {saddr.to_u32(), daddr.to_u32(), 0x7473u};
  return static_cast<uint32_t>(siphash(secret_, in, sizeof in));
}

// tcp_time_stamp: a 1 kHz clock, the unit of our TS values.
uint32_t Tcp::tcp_time_stamp(uint32_t offset) const {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(ip_.net().now().time_since_epoch()).count();
  return static_cast<uint32_t>(ms) + offset;
}

// ---- the bind table (inet_csk_get_port) ----

bool Tcp::port_in_use(uint16_t port, Ipv4Addr addr, const TcpSock* self, bool reuse) const {
  for (const TcpSock* o = bhash_.find(port); o; o = o->sk_bind_node.next) {
    if (o == self) continue;
    bool addr_clash = o->inet_rcv_saddr.is_any() || addr.is_any() || o->inet_rcv_saddr == addr;
    if (!addr_clash) continue;
    // SO_REUSEADDR on both lets a port be bound again unless someone listens on it.
    if (reuse && o->sk_reuse && o->sk_state != TcpState::kListen) continue;
    return true;
  }
  // A port held only by TIME_WAIT connections may be bound again with SO_REUSEADDR.
  if (!reuse && bhash_tw_ && bhash_tw_[port]) return true;
  return false;
}

Status Tcp::bind(Sock& sk, SockAddrIn addr) {
  auto& tp = static_cast<TcpSock&>(sk);
  if (tp.sk_state != TcpState::kClose || tp.bound) return make_error(Errc::kInval);
  if (!addr.addr.is_any() && !ip_.is_local_address(addr.addr)) return make_error(Errc::kAddrNotAvail);
  uint16_t requested_port = addr.port;
  if (addr.port == 0) {
    uint32_t range = uint32_t(sysctl_.port_hi - sysctl_.port_lo) + 1;
    uint32_t start = net().rng.below(range);
    bool found = false;
    for (uint32_t i = 0; i < range; ++i) {
      uint16_t p = static_cast<uint16_t>(sysctl_.port_lo + (start + i) % range);
      if (!port_in_use(p, addr.addr, &tp, false)) {
        addr.port = p;
        found = true;
        break;
      }
    }
    if (!found) return make_error(Errc::kAddrInUse);
  } else if (port_in_use(addr.port, addr.addr, &tp, tp.sk_reuse)) {
    return make_error(Errc::kAddrInUse);
  }
  tp.port_locked = requested_port != 0;
  tp.inet_rcv_saddr = tp.inet_saddr = addr.addr;
  inet_bind_hash(tp, addr.port);
  return {};
}

// inet_bind_hash: tp owns the local port now. The port's first owner is its entry in bhash_; the others
// follow it on sk_bind_node.
void Tcp::inet_bind_hash(TcpSock& tp, uint16_t port) {
  NET_ASSERT(!tp.bound);
  tp.inet_num = port;
  ListLink<TcpSock>& l = tp.sk_bind_node;
  if (TcpSock* first = bhash_.find(port)) {
    l.prev = first;
    l.next = first->sk_bind_node.next;
    if (l.next) l.next->sk_bind_node.prev = &tp;
    first->sk_bind_node.next = &tp;
  } else {
    l = {};
    bhash_.insert(tp);
  }
  tp.bound = true;
}

void Tcp::inet_put_port(TcpSock& tp) {
  if (!tp.bound) return;
  ListLink<TcpSock>& l = tp.sk_bind_node;
  if (l.prev) {
    l.prev->sk_bind_node.next = l.next;
    if (l.next) l.next->sk_bind_node.prev = l.prev;
  } else {
    // The first owner leaves: the next, if any, takes its place in the table.
    bhash_.erase(tp);
    if (l.next) {
      l.next->sk_bind_node.prev = nullptr;
      bhash_.insert(*l.next);
    }
  }
  l = {};
  tp.bound = false;
}

void Tcp::inet_hash(TcpSock& tp) {
  if (tp.hashed) return;
  ehash_.insert(tp);
  tp.hashed = true;
}

void Tcp::inet_unhash(TcpSock& tp) {
  if (tp.hashed) {
    ehash_.erase(tp);
    tp.hashed = false;
  }
  if (tp.sk_state == TcpState::kListen) {
    auto it = listening_hash_.find(tp.inet_num);
    if (it != listening_hash_.end()) {
      std::erase(it->second, &tp);
      if (it->second.empty()) listening_hash_.erase(it);
    }
  }
}

TcpSock* Tcp::lookup_established(const FourTuple& t) const { return ehash_.find(t); }

TcpSock* Tcp::lookup_listener(Ipv4Addr daddr, uint16_t dport) const {
  auto it = listening_hash_.find(dport);
  if (it == listening_hash_.end()) return nullptr;
  TcpSock* wildcard = nullptr;
  for (TcpSock* l : it->second) {
    if (l->inet_rcv_saddr == daddr) return l;
    if (l->inet_rcv_saddr.is_any()) wildcard = l;
  }
  return wildcard;
}

// __inet_check_established: is the 4-tuple free? A TIME_WAIT holder may be taken over when that is
// safe (tcp_twsk_unique): timestamps on, the last one more than a second old, and tcp_tw_reuse allowing it.
bool Tcp::check_established(TcpSock& tp, uint16_t lport, bool& reused_tw) {
  FourTuple t{tp.inet_saddr.to_u32(), tp.inet_daddr.to_u32(), lport, tp.inet_dport};
  if (ehash_.find(t) || reqhash_.find(t)) return false;
  TimeWaitSock* tw = twhash_.find(t);
  if (!tw) return true;
  bool loopback =
      tp.inet_daddr.is_loopback() || tp.inet_saddr.is_loopback() || tp.inet_daddr == tp.inet_saddr;
  int reuse = sysctl_.tcp_tw_reuse;
  if (tw->ts_ok && (reuse == 1 || (reuse == 2 && loopback)) && tw->ts_recent_stamp.since(net().now()) > 1s) {
    // RFC 6191-like: the new connection's sequence and timestamps start beyond the old ones.
    tp.write_seq = tw->snd_nxt + 65535 + 2;
    ++stats_.tw_recycled;
    inet_twsk_kill(*tw);
    reused_tw = true;
    return true;
  }
  return false;
}

// __inet_hash_connect (RFC 6056 algorithm 4): start at a keyed hash of the destination plus a moving
// per-bucket hint, walk the range, take the first port no bind() owns whose 4-tuple is unique.
Status Tcp::inet_hash_connect(TcpSock& tp) {
  if (tp.bound) {
    bool reused = false;
    if (!check_established(tp, tp.inet_num, reused)) return make_error(Errc::kAddrNotAvail);
    inet_hash(tp);
    return {};
  }
  uint32_t in[3] = {tp.inet_saddr.to_u32(), tp.inet_daddr.to_u32(), tp.inet_dport};
  uint64_t h = siphash(secret_, in, sizeof in);
  uint32_t offset = static_cast<uint32_t>(h);
  uint16_t& hint = table_perturb_[(h >> 32) % table_perturb_.size()];
  uint32_t range = uint32_t(sysctl_.port_hi - sysctl_.port_lo) + 1;
  offset = (offset + hint) % range;
  for (uint32_t i = 0; i < range; ++i) {
    uint16_t port = static_cast<uint16_t>(sysctl_.port_lo + (offset + i) % range);
    // Ports taken by bind() are never shared with connect(); ports chosen by connect() are, if the
    // 4-tuple differs.
    bool by_bind = false;
    for (const TcpSock* o = bhash_.find(port); o && !by_bind; o = o->sk_bind_node.next)
      by_bind = o->sk_state == TcpState::kListen || o->inet_dport == 0;
    if (by_bind) continue;
    bool reused = false;
    if (!check_established(tp, port, reused)) continue;
    hint = static_cast<uint16_t>(hint + i + 2);
    inet_bind_hash(tp, port);
    inet_hash(tp);
    if (net().trace.on()) {
      net().trace.emit("inet_hash_connect", "port=%u (RFC 6056 offset %u + hint, %u tried)%s", port, offset,
                       i + 1, reused ? " reusing a TIME_WAIT 4-tuple" : "");
    }
    return {};
  }
  return make_error(Errc::kAddrNotAvail);
}

// tcp_v4_connect: address checks, route, source address, port, ISN, then tcp_connect.
Status Tcp::connect(Sock& sk, SockAddrIn addr) {
  auto& tp = static_cast<TcpSock&>(sk);
  if (addr.port == 0) return make_error(Errc::kInval);
  if (tp.sk_state != TcpState::kClose) return make_error(Errc::kIsConn);
  auto rt = ip_.ip_route_output(addr.addr, tp.inet_rcv_saddr);
  if (!rt) {
    if (rt.error() == Errc::kNetUnreach) net().mib.inc(Mib::IpOutNoRoutes);
    return make_error(rt.error());
  }
  const DstPtr& dst = *rt;
  if (dst->type == RouteType::kBroadcast || dst->type == RouteType::kMulticast)
    return make_error(Errc::kNetUnreach);
  if (net().trace.on()) {
    net().trace.emit("tcp_v4_connect", "ip_route_connect daddr=%s -> dev=%s src=%s nexthop=%s mtu=%u",
                     addr.addr.to_string().c_str(), dst->dev->name().c_str(), dst->saddr.to_string().c_str(),
                     dst->nexthop.to_string().c_str(), dst->mtu());
  }
  if (tp.inet_saddr.is_any()) tp.inet_saddr = dst->saddr;
  if (tp.inet_rcv_saddr.is_any()) tp.inet_rcv_saddr = tp.inet_saddr;
  tp.inet_daddr = addr.addr;
  tp.inet_dport = addr.port;
  tp.sk_dst_cache = dst;
  tp.mss_clamp = 536;  // the default MSS (RFC 9293 §3.7.1) until the SYN-ACK says more
  tcp_set_state(tp, TcpState::kSynSent);
  if (Status s = inet_hash_connect(tp); !s) {
    tcp_set_state(tp, TcpState::kClose);
    tp.inet_daddr = Ipv4Addr::any();
    tp.inet_dport = 0;
    tp.sk_dst_cache.reset();
    return s;
  }
  if (tp.write_seq == 0)
    tp.write_seq = secure_tcp_seq(tp.inet_saddr, tp.inet_daddr, tp.inet_num, tp.inet_dport);
  tp.ts_offset = secure_tcp_ts_off(tp.inet_saddr, tp.inet_daddr);
  if (net().trace.on()) {
    net().trace.emit("secure_tcp_seq", "%s:%u -> %s:%u isn=%u (RFC 6528)", tp.inet_saddr.to_string().c_str(),
                     tp.inet_num, tp.inet_daddr.to_string().c_str(), tp.inet_dport, tp.write_seq);
  }
  ++stats_.active_opens;
  tcp_connect(tp);
  return {};
}

// ---- receive (tcp_v4_rcv) ----

void Tcp::tcp_v4_rcv(SkbPtr skb) {
  NetCore& n = net();
  if (skb->pkt_type != PacketType::kHost && skb->pkt_type != PacketType::kLoopback) {
    kfree_skb(n, std::move(skb), DropReason::OTHERHOST);
    return;
  }
  ++stats_.in_segs;
  auto th = TcpHdr::parse(skb->bytes());
  if (!th) {
    ++stats_.in_errs;
    kfree_skb(n, std::move(skb), DropReason::TCP_INVALID);
    return;
  }
  const std::byte* nh = skb->network_header();
  Ipv4Addr saddr{load_be32(nh + 12)};
  Ipv4Addr daddr{load_be32(nh + 16)};
  if (!skb->csum_trusted() && csum_fold(csum_pseudo(saddr, daddr, kIpProtoTcp, uint32_t(skb->len()),
                                                    csum_partial(skb->bytes(), 0))) != 0) {
    ++stats_.in_csum_errors;
    ++stats_.in_errs;
    kfree_skb(n, std::move(skb), DropReason::TCP_CSUM);
    return;
  }
  TcpOptions opt = TcpOptions::parse(skb->bytes().subspan(kTcpHeaderLen, th->header_len() - kTcpHeaderLen));
  size_t payload = skb->len() - th->header_len();
  TcpSkbCb& cb = tcp_skb_cb(*skb);
  cb.seq = th->seq;
  cb.end_seq =
      th->seq + uint32_t(payload) + ((th->flags & kTcpSyn) ? 1 : 0) + ((th->flags & kTcpFin) ? 1 : 0);
  cb.ack_seq = th->ack_seq;
  cb.tcp_flags = th->flags;
  cb.sacked = 0;
  cb.when_ns = n.now().time_since_epoch().count();

  FourTuple t{daddr.to_u32(), saddr.to_u32(), th->dest, th->source};
  if (TcpSock* tp = lookup_established(t)) {
    if (n.trace.on()) trace_seg("tcp_v4_rcv", tp, "<", *th, payload, &opt);
    tcp_rcv_state_process(*tp, std::move(skb), *th, opt);
    return;
  }
  if (RequestSock* r = reqhash_.find(t)) {
    if (n.trace.on()) trace_seg("tcp_v4_rcv", nullptr, "< (request sock)", *th, payload, &opt);
    tcp_check_req(*r, std::move(skb), *th, opt);
    return;
  }
  if (TimeWaitSock* tw = twhash_.find(t)) {
    tcp_timewait_state_process(*tw, std::move(skb), *th, opt);
    return;
  }
  if (TcpSock* l = lookup_listener(daddr, th->dest)) {
    trace_seg("tcp_v4_rcv", l, "< (listener)", *th, payload, &opt);
    if (th->flags & kTcpRst) {
      consume_skb(std::move(skb));
    } else if (th->flags & kTcpAck) {
      // An ACK for no connection we know (its request sock expired, or forged): RFC 9293 says reset.
      tcp_v4_send_reset(*skb, *th);
      kfree_skb(n, std::move(skb), DropReason::NO_SOCKET);
    } else if (th->flags & kTcpSyn) {
      tcp_conn_request(*l, std::move(skb), *th, opt);
    } else {
      kfree_skb(n, std::move(skb), DropReason::TCP_FLAGS);
    }
    return;
  }
  trace_seg("tcp_v4_rcv", nullptr, "< (no socket)", *th, payload, &opt);
  tcp_v4_send_reset(*skb, *th);
  kfree_skb(n, std::move(skb), DropReason::NO_SOCKET);
}

// tcp_v4_send_reset (RFC 9293 §3.10.7.1): never in answer to a RST; seq from the segment's ACK if it had
// one, else seq 0 with an ACK covering the segment.
void Tcp::tcp_v4_send_reset(const SkBuff& skb, const TcpHdr& th) {
  if (th.flags & kTcpRst) return;
  const std::byte* nh = skb.network_header();
  Ipv4Addr saddr{load_be32(nh + 12)};
  Ipv4Addr daddr{load_be32(nh + 16)};
  if (daddr.is_lbcast_or_mcast()) return;
  const TcpSkbCb& cb = const_cast<SkBuff&>(skb).cb<TcpSkbCb>();
  ++stats_.out_rsts;
  if (th.flags & kTcpAck) {
    tcp_v4_send_ack(daddr, saddr, th.dest, th.source, th.ack_seq, 0, 0, false, 0, 0, kTcpRst);
  } else {
    tcp_v4_send_ack(daddr, saddr, th.dest, th.source, 0, cb.end_seq, 0, false, 0, 0, kTcpRst | kTcpAck);
  }
}

// tcp_v4_send_ack: a bare segment built outside any sock (RST replies, TIME_WAIT and SYN_RECV ACKs).
void Tcp::tcp_v4_send_ack(Ipv4Addr saddr, Ipv4Addr daddr, uint16_t sport, uint16_t dport, uint32_t seq,
                          uint32_t ack, uint32_t win, bool ts, uint32_t tsval, uint32_t tsecr,
                          uint8_t flags) {
  auto dst = ip_.ip_route_output(daddr, saddr);
  if (!dst) return;
  size_t hlen = kTcpHeaderLen + (ts ? 12 : 0);
  SkbPtr skb = SkBuff::alloc(Ipv4::max_header_room(**dst), hlen);
  std::byte* p = skb->put(hlen).data();
  TcpHdr th;
  th.source = sport;
  th.dest = dport;
  th.seq = seq;
  th.ack_seq = ack;
  th.doff = static_cast<uint8_t>(hlen / 4);
  th.flags = flags;
  th.window = static_cast<uint16_t>(std::min<uint32_t>(win, 65535));
  th.emit(p);
  if (ts) {
    store_be32(p + 20, 0x0101080a);
    store_be32(p + 24, tsval);
    store_be32(p + 28, tsecr);
  }
  store_be16(p + 16,
             csum_fold(csum_pseudo(saddr, daddr, kIpProtoTcp, uint32_t(hlen), csum_partial(p, hlen, 0))));
  ++stats_.out_segs;
  if (net().trace.on()) trace_seg("tcp_v4_send_ack", nullptr, ">", th, 0);
  IpFlow flow{saddr, daddr, kIpProtoTcp, 0, 0, PmtuDisc::kDo};
  (void)ip_.ip_queue_xmit(std::move(skb), flow, *dst);
}

// tcp_v4_err: an ICMP error about one of our segments.
void Tcp::tcp_v4_err(const IcmpErrInfo& e) {
  if (e.transport.size() < 8) return;
  uint16_t sport = load_be16(e.transport.data());
  uint16_t dport = load_be16(e.transport.data() + 2);
  uint32_t seq = load_be32(e.transport.data() + 4);
  FourTuple t{e.saddr.to_u32(), e.daddr.to_u32(), sport, dport};
  TcpSock* tp = lookup_established(t);
  if (!tp) return;
  // RFC 5927 §4.1: believe only errors quoting a sequence number in flight.
  if (!between(seq, tp->snd_una, tp->snd_nxt)) return;
  if (e.type == kIcmpDestUnreach && e.code == kIcmpFragNeeded) {
    if (tp->ip_pmtudisc == 0) return;  // IP_PMTUDISC_DONT: DF is off, the news is not for us
    // tcp_v4_mtu_reduced: the route already holds the new path MTU; shrink the MSS and resend.
    uint32_t pmtu = ip_.path_mtu(tp->inet_daddr);
    const uint32_t old_mss = tp->mss_cache;  // read before tcp_sync_mss replaces it
    if (pmtu && tcp_sync_mss(*tp, pmtu) <= old_mss) {
      tcp_xmit_retransmit_queue(*tp);
      tcp_write_xmit(*tp);
    }
    return;
  }
  if (tp->sk_state == TcpState::kSynSent || tp->sk_state == TcpState::kSynRecv) {
    // RFC 1122 §4.2.3.9: hard errors abort an opening connection; soft ones are remembered.
    if (e.fatal) {
      tp->sk_err = e.err;
      tp->error_report();
      tcp_done(*tp);
    } else {
      tp->sk_err_soft = e.err;
    }
    return;
  }
  tp->sk_err_soft = e.err;
}

void Tcp::trace_seg(const char* func, const TcpSock* tp, const char* dir, const TcpHdr& th, size_t len,
                    const TcpOptions* opt) {
  if (!net().trace.on()) return;
  std::string o;
  if (opt) {
    if (opt->mss) o += " mss=" + std::to_string(*opt->mss);
    if (opt->sack_ok) o += " sackOK";
    if (opt->ts) o += " TS=" + std::to_string(opt->tsval) + "/" + std::to_string(opt->tsecr);
    if (opt->wscale) o += " wscale=" + std::to_string(*opt->wscale);
    if (opt->num_sacks) o += " sack=" + std::to_string(opt->num_sacks);
  }
  net().trace.emit(func, "%s %u > %u [%s] seq=%u ack=%u win=%u len=%zu%s%s%s", dir, th.source, th.dest,
                   tcp_flags_string(th.flags).c_str(), th.seq, th.ack_seq, th.window, len, o.c_str(),
                   tp ? " state=" : "", tp ? tcp_state_name(tp->sk_state) : "");
}

}  // namespace ustack
