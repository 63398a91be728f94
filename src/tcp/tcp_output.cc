// TCP output (Linux net/ipv4/tcp_output.c): building segments, the send window and congestion window
// checks, Nagle, retransmission of lost segments, ACKs, FIN and RST.
#include <algorithm>

#include "tcp/tcp.h"

namespace ustack {

using namespace wire;

namespace {

// The options of one outgoing segment (struct tcp_out_options).
struct OutOptions {
  bool mss = false, sack_perm = false, ts = false, ws = false;
  uint16_t mss_val = 0;
  uint8_t ws_val = 0;
  uint32_t tsval = 0, tsecr = 0;
  uint8_t num_sacks = 0;
  std::array<SackBlock, 4> sacks{};

  size_t size() const {
    size_t n = 0;
    if (mss) n += 4;
    if (ts)
      n += 12;  // SACK-permitted rides in the timestamp option's two leading pad bytes
    else if (sack_perm)
      n += 4;
    if (ws) n += 4;
    if (num_sacks) n += 4 + 8 * size_t{num_sacks};
    return n;
  }
  // tcp_options_write: Linux's order and padding, so that captures read as the kernel's do. Returns the
  // one's-complement sum (unfolded) of the words written, for the checksum (see TcpHdr::fields_sum).
  uint32_t write(std::byte* p) const {
    uint32_t sum = 0;
    auto put = [&sum, &p](uint32_t w) {
      store_be32(p, w);
      p += 4;
      sum += (w >> 16) + (w & 0xffff);
    };
    if (mss) put((uint32_t{kTcpOptMss} << 24) | (4u << 16) | mss_val);
    if (ts) {
      put(sack_perm ? (uint32_t{kTcpOptSackPerm} << 24 | 2u << 16 | kTcpOptTimestamp << 8 | 10)
                    : (uint32_t{kTcpOptNop} << 24 | kTcpOptNop << 16 | kTcpOptTimestamp << 8 | 10));
      put(tsval);
      put(tsecr);
    } else if (sack_perm) {
      put(uint32_t{kTcpOptNop} << 24 | kTcpOptNop << 16 | kTcpOptSackPerm << 8 | 2);
    }
    if (ws) put(uint32_t{kTcpOptNop} << 24 | kTcpOptWscale << 16 | 3u << 8 | ws_val);
    if (num_sacks) {
      put(uint32_t{kTcpOptNop} << 24 | kTcpOptNop << 16 | kTcpOptSack << 8 | (2 + 8 * num_sacks));
      for (size_t i = 0; i < num_sacks; ++i) {
        put(sacks[i].start);
        put(sacks[i].end);
      }
    }
    return sum;
  }
};

constexpr size_t kMaxTcpHeader = kTcpHeaderLen + kTcpMaxOptionLen;

}  // namespace

uint32_t Tcp::tcp_space(const TcpSock& tp) const {
  return tp.rcvbuf() > tp.rmem_alloc() ? static_cast<uint32_t>(tp.rcvbuf() - tp.rmem_alloc()) : 0;
}

// tcp_select_initial_window: the window scale that lets the largest buffer be advertised (RFC 7323
// §2.3), and the window of the SYN, a whole number of segments and never scaled.
void Tcp::tcp_select_initial_window(size_t space, uint32_t mss, uint32_t& rcv_wnd, uint8_t& rcv_wscale,
                                    bool wscale_ok) {
  rcv_wscale = 0;
  if (wscale_ok) {
    size_t max_space = std::max(space, sysctl_.tcp_rmem_max);
    while (max_space > 65535 && rcv_wscale < kTcpMaxWscale) {
      max_space >>= 1;
      ++rcv_wscale;
    }
  }
  uint32_t w = static_cast<uint32_t>(std::min<size_t>(space, 65535));
  if (w > mss) w = w / mss * mss;
  rcv_wnd = w;
}

// __tcp_select_window: the window the free receive space allows. Receiver SWS avoidance (RFC 9293
// §3.8.6.2.2): once less than half the buffer is free, less than a segment (or than a sixteenth of the
// buffer) is offered as zero, and quick-ack mode ends; a scaled window is rounded up to the scale unit so
// that it does not scale away, an unscaled one kept a whole number of segments.
uint32_t Tcp::tcp_compute_window(TcpSock& tp) {
  uint32_t unit = 1u << tp.rcv_wscale;
  uint32_t free_space = tcp_space(tp);
  uint32_t allowed_space = static_cast<uint32_t>(std::min<size_t>(tp.rcvbuf(), 0xffffffffu));
  uint32_t full_space = std::min(allowed_space, 65535u << tp.rcv_wscale);
  uint32_t mss = tp.rcv_mss;
  if (mss > full_space) {
    mss = full_space;
    if (mss == 0) return 0;
  }
  if (free_space < full_space / 2) {
    tp.quick = 0;
    free_space &= ~(unit - 1);
    if (free_space < allowed_space / 16 || free_space < mss) return 0;
  }
  free_space = std::min(free_space, full_space);
  if (tp.rcv_wscale) return (free_space + unit - 1) & ~(unit - 1);
  uint32_t window = tp.rcv_wnd;
  if (int64_t{window} <= int64_t{free_space} - mss || window > free_space) {
    window = free_space / mss * mss;
  } else if (mss == full_space && free_space > window + full_space / 2) {
    window = free_space;
  }
  return window;
}

// tcp_select_window: the window to put in a segment. Never shrink the window already offered (RFC 9293
// §3.8.6.2.2; Linux's tcp_shrink_window = 0): its right edge stays where it was.
uint16_t Tcp::tcp_select_window(TcpSock& tp) {
  uint32_t cur_win = tp.rcv_wup + tp.rcv_wnd - tp.rcv_nxt;
  if (static_cast<int32_t>(cur_win) < 0) cur_win = 0;
  uint32_t new_win = tcp_compute_window(tp);
  if (new_win < cur_win) new_win = (cur_win + (1u << tp.rcv_wscale) - 1) & ~((1u << tp.rcv_wscale) - 1);
  new_win = std::min(new_win, 65535u << tp.rcv_wscale);
  tp.rcv_wnd = new_win;
  tp.rcv_wup = tp.rcv_nxt;
  return static_cast<uint16_t>(new_win >> tp.rcv_wscale);
}

// tcp_sync_mss: the MSS for a path MTU: the MTU less the IP and TCP headers, no more than the peer's MSS
// option or TCP_MAXSEG, and never below 48 bytes (Linux's floor).
uint32_t Tcp::tcp_sync_mss(TcpSock& tp, uint32_t pmtu) {
  uint32_t mss = pmtu > 40 ? pmtu - 40 : 48;
  mss = std::min<uint32_t>(mss, tp.mss_clamp);
  if (tp.user_mss) mss = std::min<uint32_t>(mss, tp.user_mss);
  tp.mss_cache = std::max<uint32_t>(mss, 48);
  return tp.mss_cache;
}

// tcp_current_mss: payload bytes per segment once the options of every segment (timestamps) are in.
uint32_t Tcp::tcp_current_mss(TcpSock& tp) {
  if (tp.sk_dst_cache) {
    uint32_t mtu = tp.sk_dst_cache->mtu();
    uint32_t mss_mtu = uint32_t{tp.mss_cache} + 40;  // the MTU the cached MSS was made for
    if (mtu != mss_mtu && (mtu < mss_mtu || tp.mss_cache < std::min<uint32_t>(tp.mss_clamp, mtu - 40)))
      tcp_sync_mss(tp, mtu);
  }
  // tcp_established_options: timestamps on every segment, SACK blocks while we hold out-of-order data.
  uint32_t opts = tp.ts_ok ? 12 : 0;
  if (tp.sack_ok && !tp.ofo_empty()) {
    uint32_t blocks = std::min<uint32_t>(uint32_t(tp.active().ofo->queue.size()), tp.ts_ok ? 3 : 4);
    opts += 4 + 8 * blocks;
  }
  return tp.mss_cache - opts;
}

// tcp_rto_delta_us: how long until the RTO of the oldest segment in flight, counted from when it was
// sent (negative once it has passed).
static Duration tcp_rto_delta(const TcpSock& tp, TimePoint now) {
  SkBuff* head = tp.active().sk_write_queue.front();
  Duration since = head ? now - TimePoint(Duration(tcp_skb_cb(*head).when_ns)) : Duration(0);
  return tp.rto.get() - since;
}

void Tcp::tcp_rearm_rto(TcpSock& tp) {
  if (tp.active().packets_out == 0) {
    inet_csk_clear_xmit_timer(tp, TcpTimeout::kRetransmit);
    return;
  }
  Duration rto = std::min(tp.rto.get(), sysctl_.rto_max);
  // In place of a pending loss probe or reordering timer, the RTO keeps its time from the oldest segment's
  // transmission: the probe must not push it back.
  if (tp.tlp_armed || tp.reo_armed)
    rto = std::max<Duration>(tcp_rto_delta(tp, net().now()), std::chrono::milliseconds(1));
  inet_csk_reset_xmit_timer(tp, TcpTimeout::kRetransmit, rto);
}

// tcp_schedule_loss_probe (RFC 8985 §7.2): with data in flight and no loss being recovered, arm the
// retransmit timeout as a tail loss probe after two smoothed RTTs, plus room for the peer's delayed
// ACK when a single segment is out (else 2 ms, TCP_TIMEOUT_MIN), and never later than the RTO would
// be. advancing_rto: an ACK is about to restart the RTO from now.
bool Tcp::tcp_schedule_loss_probe(TcpSock& tp, bool advancing_rto) {
  if (!sysctl_.tcp_rack_tlp || tp.active().packets_out == 0 || !tp.sack_ok ||
      (tp.ca_state != CaState::kOpen && tp.ca_state != CaState::kCwr))
    return false;
  Duration timeout = std::chrono::seconds(1);  // TCP_TIMEOUT_INIT, without an RTT sample
  if (!tp.srtt.is_zero()) {
    timeout = 2 * tp.srtt.get() +
              (tp.active().packets_out == 1 ? sysctl_.rto_min : Duration(std::chrono::milliseconds(2)));
  }
  Duration rto_delta = advancing_rto ? tp.rto.get() : tcp_rto_delta(tp, net().now());
  if (rto_delta.count() > 0) timeout = std::min(timeout, rto_delta);
  inet_csk_reset_xmit_timer(tp, TcpTimeout::kRetransmit, timeout);
  tp.tlp_armed = true;
  return true;
}

// tcp_send_loss_probe (RFC 8985 §7.3): the probe timeout fired. Send new data if the peer's window
// takes it (past cwnd), else resend the last segment sent, so that its ACK, with SACK, tells which of the
// tail was lost. At most one probe is outstanding; either way the RTO is armed after it.
void Tcp::tcp_send_loss_probe(TcpSock& tp) {
  TcpActive& a = tp.activate();
  if (a.tlp_high_seq == 0) {
    tp.tlp_retrans = false;
    uint32_t prior_packets = a.packets_out;
    bool sent = false;
    if (a.send_head && tcp_snd_wnd_test(tp, *a.send_head, tcp_current_mss(tp))) {
      tcp_write_xmit(tp, true, true);
      sent = a.packets_out > prior_packets;
    } else if (SkBuff* last = a.send_head ? SkbQueue::prev(a.send_head) : a.sk_write_queue.back()) {
      // The last segment of a TSO skb goes alone.
      uint32_t mss = tcp_current_mss(tp);
      uint32_t pcount = tcp_skb_pcount(*last);
      if (pcount > 1 && last->len() > (pcount - 1) * mss) {
        tcp_fragment(tp, *last, (pcount - 1) * mss);
        last = SkbQueue::next(last);
      }
      sent = tcp_retransmit_skb(tp, *last);
      tp.tlp_retrans = sent;
    }
    if (sent) {
      a.tlp_high_seq = tp.snd_nxt;
      ++stats_.loss_probes;
      if (net().trace.on())
        net().trace.emit("tcp_send_loss_probe", "%s, tlp_high_seq=%u",
                         tp.tlp_retrans ? "last segment resent" : "new data", a.tlp_high_seq);
      tp.tlp_armed = false;  // the RTO starts again from now
    }
  }
  tcp_rearm_rto(tp);
}

// tcp_transmit_skb: push the TCP header and options onto a clone (or a copy, if the last transmission
// is still in flight somewhere below) and hand it to IP.
int Tcp::tcp_transmit_skb(TcpSock& tp, SkBuff& skb, bool clone_it) {
  TcpSkbCb& cb = tcp_skb_cb(skb);
  // Queued segments go out as clones (a copy if an earlier clone may still be in flight below us, whose
  // header bytes we must not overwrite); control segments are handed over whole (clone_it false: the
  // caller released ownership to us).
  SkbPtr out = clone_it ? (skb.cloned() ? skb.copy() : skb.clone()) : SkbPtr(&skb);
  OutOptions opts;
  bool syn = cb.tcp_flags & kTcpSyn;
  if (syn) {
    opts.mss = true;
    opts.mss_val = tp.advmss;
    opts.ts = sysctl_.tcp_timestamps;
    opts.sack_perm = sysctl_.tcp_sack;
    opts.ws = sysctl_.tcp_window_scaling;
    opts.ws_val = tp.rcv_wscale;
    if (opts.ts) {
      opts.tsval = tcp_time_stamp(tp.ts_offset);
      opts.tsecr = tp.ts_recent;
    }
    if (cb.tcp_flags & kTcpAck) {  // a SYN-ACK in simultaneous open: only what the peer offered
      opts.ts = opts.ts && tp.ts_ok;
      opts.sack_perm = opts.sack_perm && tp.sack_ok;
      opts.ws = opts.ws && tp.wscale_ok;
    }
  } else {
    if (tp.ts_ok) {
      opts.ts = true;
      opts.tsval = tcp_time_stamp(tp.ts_offset);
      opts.tsecr = tp.ts_recent;
    }
    if (tp.sack_ok && tp.active().ofo && (!tp.active().ofo->queue.empty() || tp.active().ofo->dsack)) {
      TcpOfo& ofo = *tp.active().ofo;
      // RFC 2018 §4: report the received blocks above the hole, at most 3 beside timestamps. The
      // first block MUST be the one holding the segment that triggered this ACK, and the others SHOULD
      // repeat the most recently reported ones (Linux keeps selective_acks[] in that order); blocks
      // never reported follow in sequence order.
      size_t max_blocks = tp.ts_ok ? 3 : 4;
      std::array<SackBlock, 16> all{};
      size_t n_all = 0;
      for (SkBuff* s = ofo.queue.front(); s && n_all < all.size();) {
        SackBlock b{tcp_skb_cb(*s).seq, tcp_skb_cb(*s).end_seq};
        s = SkbQueue::next(s);
        while (s && !after(tcp_skb_cb(*s).seq, b.end)) {
          if (after(tcp_skb_cb(*s).end_seq, b.end)) b.end = tcp_skb_cb(*s).end_seq;
          s = SkbQueue::next(s);
        }
        all[n_all++] = b;
      }
      std::array<bool, 16> used{};
      auto add = [&](size_t i) {
        if (used[i] || opts.num_sacks >= max_blocks) return;
        used[i] = true;
        opts.sacks[opts.num_sacks++] = all[i];
      };
      // RFC 2883 §4: a duplicate goes first, once, then the block that holds it if we hold one.
      if (ofo.dsack) {
        opts.sacks[opts.num_sacks++] = SackBlock{ofo.dsack_start, ofo.dsack_end};
        ofo.dsack = false;
        for (size_t i = 0; i < n_all; ++i)
          if (!before(ofo.dsack_start, all[i].start) && !after(ofo.dsack_end, all[i].end)) add(i);
      }
      for (size_t r = 0; r < ofo.sack_recent_n; ++r)
        for (size_t i = 0; i < n_all; ++i)
          if (!before(ofo.sack_recent[r], all[i].start) && before(ofo.sack_recent[r], all[i].end)) add(i);
      for (size_t i = 0; i < n_all; ++i) add(i);
      tp.ofo_release_if_idle();  // the D-SACK was all it held
    }
  }
  bool gso = cb.pcount > 1 && cb.mss != 0;  // a TSO packet: each of its segments must fit
  // A segment sized before SACK blocks were due (a retransmission) keeps to the path MTU by carrying
  // fewer blocks.
  if (opts.num_sacks && tp.sk_dst_cache) {
    size_t mtu = tp.sk_dst_cache->mtu();
    size_t seg = gso ? std::min<size_t>(cb.mss, out->len()) : out->len();
    while (opts.num_sacks && kIpv4HeaderLen + kTcpHeaderLen + opts.size() + seg > mtu) --opts.num_sacks;
  }
  size_t hlen = kTcpHeaderLen + opts.size();
  NET_ASSERT(out->headroom() >= hlen);
  std::byte* p = out->push(hlen).data();
  out->reset_transport_header();
  TcpHdr th;
  th.source = tp.inet_num;
  th.dest = tp.inet_dport;
  th.seq = cb.seq;
  th.doff = static_cast<uint8_t>(hlen / 4);
  th.flags = cb.tcp_flags;
  if (th.flags & kTcpAck) th.ack_seq = tp.rcv_nxt;
  if (syn) {
    th.window = static_cast<uint16_t>(std::min<uint32_t>(tp.rcv_wnd, 65535));  // RFC 7323: never scaled
  } else {
    th.window = tcp_select_window(tp);
  }
  th.emit(p);
  // The header and options are summed from the values just written; only the payload is read back.
  uint32_t hsum = th.fields_sum() + opts.write(p + kTcpHeaderLen);
  size_t payload = out->len() - hlen;
  if (th.flags & kTcpAck) {
    // tcp_event_ack_sent: this segment carries the ACK that was pending.
    tp.ack_pending = false;
    if (tp.quick) --tp.quick;
    if (tp.timer_pending(TcpTimeout::kDelack)) inet_csk_clear_xmit_timer(tp, TcpTimeout::kDelack);
  }
  ++tp.segs_out;
  ++stats_.out_segs;
  if (payload) {
    ++tp.data_segs_out;
    tp.bytes_sent += payload;
  }
  if (net().trace.on()) {
    OutOptions* o = &opts;
    TcpOptions shown;
    if (o->mss) shown.mss = o->mss_val;
    shown.sack_ok = o->sack_perm;
    shown.ts = o->ts;
    shown.tsval = o->tsval;
    shown.tsecr = o->tsecr;
    if (o->ws) shown.wscale = o->ws_val;
    shown.num_sacks = o->num_sacks;
    trace_seg("tcp_transmit_skb", &tp, ">", th, payload, &shown);
  }
  IpFlow flow{tp.inet_saddr, tp.inet_daddr, kIpProtoTcp,
              tp.tos,        tp.uc_ttl,     tp.ip_pmtudisc == 0 ? PmtuDisc::kDont : PmtuDisc::kDo};
  // The route cached in the sock serves while dst_check() says it is current (a few compares); only a
  // change of routes, addresses or next hop costs a new lookup.
  if (!tp.sk_dst_cache || !ip_.dst_check(*tp.sk_dst_cache)) {
    auto rt = ip_.ip_route_output(tp.inet_daddr, tp.inet_saddr);
    if (!rt) {
      kfree_skb(net(), std::move(out), DropReason::IP_INNOROUTES);
      return -1;
    }
    tp.sk_dst_cache = std::move(*rt);
  }
  // tcp_v4_send_check: a device that completes checksums gets only the pseudo-header sum
  // (CHECKSUM_PARTIAL), and one that segments gets the whole TSO packet.
  if (tp.sk_dst_cache->dev->has_feature(kNetifHwCsum)) {
    uint32_t pseudo = csum_pseudo(tp.inet_saddr, tp.inet_daddr, kIpProtoTcp, uint32_t(out->len()), 0);
    store_be16(p + 16, static_cast<uint16_t>(~csum_fold(pseudo)));
    out->ip_summed = CsumState::kPartial;
    out->csum_offset = 16;
  } else {
    store_be16(p + 16, csum_fold(csum_pseudo(tp.inet_saddr, tp.inet_daddr, kIpProtoTcp, uint32_t(out->len()),
                                             csum_partial(p + hlen, payload, hsum))));
  }
  if (gso) {
    out->gso_size = cb.mss;
    out->gso_segs = cb.pcount;
  }
  // Nothing below ip_queue_xmit calls back into this sock (a loopback or ring transmit is received in a
  // later poll round, ARP failures are reported from a timer), so the sock's reference keeps it alive.
  Status s = ip_.ip_queue_xmit(std::move(out), flow, tp.sk_dst_cache);
  return s ? 0 : -1;
}

// Allocate an skb for TCP: room in front for every header, `size` bytes of payload space.
static SkbPtr tcp_alloc_skb(const TcpSock& tp, size_t size) {
  size_t room = kMaxTcpHeader + (tp.sk_dst_cache ? Ipv4::max_header_room(*tp.sk_dst_cache) : 128);
  SkbPtr skb = SkBuff::alloc(room, size);
  skb->clear_cb();
  return skb;
}

// A segment with no payload (SYN, FIN, ACK, RST) at `seq`.
static SkbPtr tcp_make_ctl_skb(const TcpSock& tp, uint32_t seq, uint8_t flags) {
  SkbPtr skb = tcp_alloc_skb(tp, 0);
  TcpSkbCb& cb = tcp_skb_cb(*skb);
  cb.seq = seq;
  cb.end_seq = seq + ((flags & (kTcpSyn | kTcpFin)) ? 1 : 0);
  cb.tcp_flags = flags;
  return skb;
}

// tcp_connect_init + tcp_connect: choose MSS and window, queue the SYN, send it, arm the timer.
void Tcp::tcp_connect(TcpSock& tp) {
  TcpActive& a = tp.activate();
  const Dst& dst = *tp.sk_dst_cache;
  tp.advmss = static_cast<uint16_t>(std::min<uint32_t>(dst.dev->mtu() - 40, 65535));
  if (tp.user_mss) tp.advmss = std::min(tp.advmss, tp.user_mss);
  tcp_sync_mss(tp, dst.mtu());
  tp.rcv_mss = std::min<uint32_t>(tp.advmss, 536);
  tcp_select_initial_window(tp.rcvbuf(), tp.advmss, tp.rcv_wnd, tp.rcv_wscale, sysctl_.tcp_window_scaling);
  const uint32_t iss = tp.write_seq;  // chosen by connect() (secure_tcp_seq)
  tp.snd_una = tp.snd_nxt = iss;
  tp.rcv_nxt = tp.rcv_wup = 0;
  tp.snd_wnd = 0;
  tp.retransmits = 0;
  tp.backoff = 0;
  if (net().trace.on()) {
    net().trace.emit("tcp_connect_init",
                     "advmss=%u mss_cache=%u (tcp_sync_mss, pmtu %u) rcv_wnd=%u rcv_wscale=%u", tp.advmss,
                     tp.mss_cache, dst.mtu(), tp.rcv_wnd, tp.rcv_wscale);
  }
  SkbPtr syn = tcp_make_ctl_skb(tp, iss, kTcpSyn);
  tp.write_seq = iss + 1;
  tp.snd_nxt = iss + 1;
  tcp_skb_cb(*syn).when_ns = net().now().time_since_epoch().count();
  SkBuff& ref = *syn;
  a.sk_write_queue.push_back(std::move(syn));  // __tcp_add_write_queue_tail: kept for retransmission
  a.packets_out = 1;
  if (net().trace.on())
    net().trace.emit("tcp_connect", "SYN seq=%u queued on sk_write_queue, tcp_transmit_skb", iss);
  (void)tcp_transmit_skb(tp, ref, true);
  a.retrans_stamp.set(net().now());
  inet_csk_reset_xmit_timer(tp, TcpTimeout::kRetransmit, tp.rto);
  if (net().trace.on())
    net().trace.emit("inet_csk_reset_xmit_timer", "ICSK_TIME_RETRANS in %.0f ms", to_ms(tp.rto));
}

// tcp_snd_wnd_test: does the segment fit in the peer's window?
bool Tcp::tcp_snd_wnd_test(const TcpSock& tp, const SkBuff& skb, uint32_t cur_mss) const {
  uint32_t end_seq = const_cast<SkBuff&>(skb).cb<TcpSkbCb>().end_seq;
  if (skb.len() > cur_mss) end_seq = const_cast<SkBuff&>(skb).cb<TcpSkbCb>().seq + cur_mss;
  return !after(end_seq, tp.snd_una + tp.snd_wnd);
}

void Tcp::tcp_fragment(TcpSock& tp, SkBuff& skb, uint32_t len) {
  if (skb.len() <= len) return;
  TcpActive& q = tp.activate();
  uint32_t rest = static_cast<uint32_t>(skb.len() - len);
  TcpSkbCb& a = tcp_skb_cb(skb);
  bool sent = before(a.seq, tp.snd_nxt) && &skb != q.send_head;
  uint32_t old_pcount = tcp_skb_pcount(skb);
  // The queue counts bytes per skb: take the skb out while its length changes.
  SkBuff* next = SkbQueue::next(&skb);
  SkbPtr first = q.sk_write_queue.unlink(&skb);
  // Copy the smaller part: cutting one MSS off a 64 KiB TSO skb must not copy the other 63 KiB.
  SkbPtr second = tcp_alloc_skb(tp, std::min(len, rest));
  if (rest <= len) {
    (void)second->put_data(first->bytes().subspan(len));
    first->trim(len);
  } else {
    (void)second->put_data(first->bytes().first(len));
    (void)first->pull(len);
    first->swap_data(*second);  // `first` stays the skb the caller holds
  }
  TcpSkbCb& b = tcp_skb_cb(*second);
  b = a;
  b.seq = a.seq + len;
  a.end_seq = b.seq;
  a.tcp_flags &= static_cast<uint8_t>(~(kTcpFin | kTcpPsh));
  a.eor = false;  // tcp_skb_fragment_eor: the record ends in the second part
  if (sent) {
    // tcp_adjust_pcount: a sent skb's parts count as the segments they make at the size it went out
    // with.
    uint32_t seg = a.mss ? a.mss : std::max<uint32_t>(len, 1);
    tcp_set_skb_tso_segs(*first, seg);
    tcp_set_skb_tso_segs(*second, seg);
    uint32_t now_pcount = tcp_skb_pcount(*first) + tcp_skb_pcount(*second);
    uint32_t diff = now_pcount - old_pcount;  // modulo 2^32: a split never merges segments
    q.packets_out += diff;
    if (a.sacked & kTcpcbLost) q.lost_out += diff;
    if (a.sacked & kTcpcbRetrans) q.retrans_out += diff;
    if (a.sacked & kTcpcbSackedAcked) q.sacked_out += diff;
  }
  q.sk_write_queue.insert_before(next, std::move(first));
  q.sk_write_queue.insert_before(next, std::move(second));
}

uint32_t Tcp::tcp_xmit_size_goal(const TcpSock& tp, uint32_t mss) const {
  const Dst* dst = tp.sk_dst_cache.get();
  if (!dst || !dst->dev->has_feature(kNetifTso) || !dst->dev->has_feature(kNetifHwCsum)) return mss;
  uint32_t goal = dst->dev->gso_max_size() - kIpv4HeaderLen - kMaxTcpHeader;
  // tcp_bound_to_half_wnd: a TSO packet no larger than half the largest window the peer has offered,
  // so that the window still admits two of them.
  if (tp.max_window > 536) goal = std::min(goal, tp.max_window / 2);
  return std::max<uint32_t>(goal / mss, 1) * mss;
}

// tcp_write_xmit: send queued segments while the congestion window, the peer's window and Nagle allow.
void Tcp::tcp_write_xmit(TcpSock& tp, bool push_one, bool loss_probe) {
  if (tp.sk_state == TcpState::kSynSent || tp.sk_state == TcpState::kListen ||
      tp.sk_state == TcpState::kClose)
    return;
  if (!tp.is_active()) return;  // nothing queued
  TcpActive& a = tp.activate();
  uint32_t mss = tcp_current_mss(tp);
  bool tso = tcp_xmit_size_goal(tp, mss) > mss;
  bool sent_any = false;
  bool cwnd_limited = false;
  bool rearm = false;  // the retransmit timeout is due to be armed, after the loop
  while (SkBuff* skb = a.send_head) {
    uint32_t in_flight = tcp_packets_in_flight(tp);
    // tcp_cwnd_test: a bare FIN is not held back by the congestion window (it carries no data).
    bool bare_fin = (tcp_skb_cb(*skb).tcp_flags & kTcpFin) && skb->len() == 0;
    if (in_flight >= tp.snd_cwnd && !bare_fin && !loss_probe) {
      cwnd_limited = true;
      break;
    }
    if (skb->len() > mss) {
      // tcp_mss_split_point: a TSO skb goes out with as many whole segments as the congestion window's
      // quota and the peer's window take; without TSO, one segment.
      uint64_t limit = tso ? uint64_t{tp.snd_cwnd - in_flight} * mss : mss;
      uint32_t room = tp.snd_una + tp.snd_wnd - tcp_skb_cb(*skb).seq;
      if (tso && static_cast<int32_t>(room) >= static_cast<int32_t>(mss))
        limit = std::min<uint64_t>(limit, room / mss * mss);
      if (limit < skb->len()) tcp_fragment(tp, *skb, static_cast<uint32_t>(limit));
    }
    tcp_set_skb_tso_segs(*skb, mss);
    TcpSkbCb& cb = tcp_skb_cb(*skb);
    if (!tcp_snd_wnd_test(tp, *skb, mss)) {
      // Window-limited: send what fits if that is worth it (sender SWS avoidance, RFC 9293 §3.8.6.2.1:
      // a full segment or half the largest window seen), else wait for the window to open.
      uint32_t room = tp.snd_una + tp.snd_wnd - cb.seq;
      if (static_cast<int32_t>(room) > 0 && (room >= mss || room >= tp.max_window / 2) && skb->len() > room) {
        tcp_fragment(tp, *skb, room);
        continue;
      }
      break;
    }
    // Nagle (RFC 896) with Minshall's refinement: hold a small segment while a small one is unacked.
    bool small = skb->len() < mss && !(cb.tcp_flags & kTcpFin);
    if (small && !tp.nodelay && !loss_probe && a.packets_out > 0 && after(a.snd_sml, tp.snd_una) &&
        SkbQueue::next(skb) == nullptr)
      break;
    cb.tcp_flags |= kTcpAck;
    cb.when_ns = net().now().time_since_epoch().count();
    if (tcp_transmit_skb(tp, *skb, true) != 0) break;
    a.send_head = SkbQueue::next(skb);
    if (after(cb.end_seq, tp.snd_nxt)) tp.snd_nxt = cb.end_seq;
    if (skb->len() < mss) a.snd_sml = cb.end_seq;
    bool was_idle = a.packets_out == 0;
    a.packets_out += tcp_skb_pcount(*skb);
    if (tp.ca_state == CaState::kRecovery) a.prr_out += tcp_skb_pcount(*skb);
    if (was_idle || !tp.timer_pending(TcpTimeout::kRetransmit)) rearm = true;
    sent_any = true;
    if (push_one || loss_probe) break;
  }
  // One loss probe per tail, armed after new data goes out (a probe itself re-arms the RTO when it is
  // sent); else the RTO, if nothing had armed it.
  if (!loss_probe && !(sent_any && tcp_schedule_loss_probe(tp, false)) && rearm) tcp_rearm_rto(tp);
  // Nothing in flight and a closed (or too small) window: the zero-window probe timer keeps asking.
  if (a.send_head && a.packets_out == 0 && !tp.timer_pending(TcpTimeout::kRetransmit)) {
    tp.probes_out = 0;
    inet_csk_reset_xmit_timer(tp, TcpTimeout::kRetransmit, std::min(tp.rto.get(), sysctl_.rto_max));
  }
  // tcp_cwnd_validate: remember, for the current window, whether cwnd limited us or how many packets
  // were out at most (RFC 7661's question of a validated cwnd; Linux's rule).
  cwnd_limited = cwnd_limited || tcp_packets_in_flight(tp) >= tp.snd_cwnd;
  if (sent_any || cwnd_limited) {
    if (!before(tp.snd_una, a.cwnd_usage_seq) || cwnd_limited ||
        (!a.is_cwnd_limited && a.packets_out > a.max_packets_out)) {
      a.is_cwnd_limited = cwnd_limited;
      a.max_packets_out = a.packets_out;
      a.cwnd_usage_seq = tp.snd_nxt;
    }
  }
}

void Tcp::tcp_push(TcpSock& tp) { tcp_write_xmit(tp); }

// tcp_retransmit_skb: send one queued segment again.
bool Tcp::tcp_retransmit_skb(TcpSock& tp, SkBuff& skb) {
  TcpActive& a = tp.activate();
  uint32_t mss = tcp_current_mss(tp);
  if (skb.len() > mss) tcp_fragment(tp, skb, mss);
  TcpSkbCb& cb = tcp_skb_cb(skb);
  // A segment partly acknowledged is trimmed when the ACK arrives (tcp_trim_head), so it starts at
  // snd_una here.
  if (cb.tcp_flags & kTcpSyn) {
    // Our SYN (or SYN-ACK in simultaneous open) again.
  } else {
    cb.tcp_flags |= kTcpAck;
  }
  // retrans_stamp: when the data now resent first went out, the start of retransmits_timed_out's budget.
  TimePoint first_sent{Duration(cb.when_ns)};
  cb.when_ns = net().now().time_since_epoch().count();
  if (tcp_transmit_skb(tp, skb, true) != 0) return false;
  if (!a.retrans_stamp.is_set()) a.retrans_stamp.set(first_sent);
  cb.ack_seq = tp.snd_nxt;
  uint32_t pcount = tcp_skb_pcount(skb);
  if (!(cb.sacked & kTcpcbRetrans)) {
    cb.sacked |= kTcpcbRetrans | kTcpcbEverRetrans;
    a.retrans_out += pcount;
  }
  if (tp.ca_state == CaState::kRecovery) a.prr_out += pcount;
  if (a.undo_retrans < 0) a.undo_retrans = 0;
  a.undo_retrans += int32_t(pcount);
  ++cb.tx_count;
  tp.total_retrans += pcount;
  stats_.retrans_segs += pcount;
  tp.bytes_retrans += skb.len();
  return true;
}

// tcp_xmit_retransmit_queue: resend the segments marked lost, oldest first, as the window allows.
void Tcp::tcp_xmit_retransmit_queue(TcpSock& tp) {
  for (SkBuff* skb = tp.active().sk_write_queue.front(); skb && skb != tp.active().send_head;
       skb = SkbQueue::next(skb)) {
    TcpSkbCb& cb = tcp_skb_cb(*skb);
    if (!(cb.sacked & kTcpcbLost) || (cb.sacked & kTcpcbRetrans)) continue;
    if (tcp_packets_in_flight(tp) >= tp.snd_cwnd) break;
    if (!tcp_retransmit_skb(tp, *skb)) break;
    if (skb == tp.active().sk_write_queue.front()) tcp_rearm_rto(tp);
  }
}

// tcp_send_ack: a bare ACK now.
void Tcp::tcp_send_ack(TcpSock& tp) {
  if (tp.sk_state == TcpState::kClose) return;
  SkbPtr skb = tcp_make_ctl_skb(tp, tp.snd_nxt, kTcpAck);
  SkBuff* raw = skb.release();
  (void)tcp_transmit_skb(tp, *raw, false);
}

// tcp_send_delayed_ack: ACK within ato unless something else carries it first.
void Tcp::tcp_send_delayed_ack(TcpSock& tp) {
  tp.ack_pending = true;
  Duration ato = tp.ato;
  if (ato > sysctl_.delack_min) {
    // A long gap between segments grew ato; the smoothed RTT, when known, bounds it (the peer would
    // not wait longer than that for an ACK anyway).
    Duration max_ato = sysctl_.delack_max;
    if (!tp.srtt.is_zero()) max_ato = std::min(max_ato, std::max(tp.srtt.get(), sysctl_.delack_min));
    ato = std::min(ato, max_ato);
  }
  // An armed delayed ACK keeps its deadline if that comes sooner.
  if (!tp.timer_pending(TcpTimeout::kDelack) || inet_csk_timeout(tp, TcpTimeout::kDelack) > net().now() + ato)
    inet_csk_reset_xmit_timer(tp, TcpTimeout::kDelack, ato);
}

// tcp_send_fin: the FIN rides on the last unsent segment if there is one, else on a segment of its own.
void Tcp::tcp_send_fin(TcpSock& tp) {
  TcpActive& a = tp.activate();
  SkBuff* tail = a.sk_write_queue.back();
  if (tail && a.send_head && !(tcp_skb_cb(*tail).tcp_flags & kTcpSyn)) {
    TcpSkbCb& cb = tcp_skb_cb(*tail);
    cb.tcp_flags |= kTcpFin | kTcpAck;
    ++cb.end_seq;
  } else {
    SkbPtr skb = tcp_make_ctl_skb(tp, tp.write_seq, kTcpFin | kTcpAck);
    SkBuff* raw = skb.get();
    a.sk_write_queue.push_back(std::move(skb));
    if (!a.send_head) a.send_head = raw;
  }
  ++tp.write_seq;
  tcp_write_xmit(tp);
}

// tcp_send_active_reset: abort, telling the peer.
void Tcp::tcp_send_active_reset(TcpSock& tp) {
  SkbPtr skb = tcp_make_ctl_skb(tp, tp.snd_nxt, kTcpRst | kTcpAck);
  SkBuff* raw = skb.release();
  ++stats_.out_rsts;
  (void)tcp_transmit_skb(tp, *raw, false);
}

// tcp_write_wakeup: a window probe. If the peer's window has room, send new data into it; otherwise a
// segment one byte below snd_una, which the peer must answer with an ACK showing its window.
int Tcp::tcp_write_wakeup(TcpSock& tp) {
  if (tp.sk_state == TcpState::kClose) return -1;
  SkBuff* skb = tp.active().send_head;
  if (skb && before(tcp_skb_cb(*skb).seq, tp.snd_una + tp.snd_wnd)) {
    uint32_t room = tp.snd_una + tp.snd_wnd - tcp_skb_cb(*skb).seq;
    uint32_t mss = tcp_current_mss(tp);
    if (skb->len() > std::min(room, mss)) tcp_fragment(tp, *skb, std::min(room, mss));
    tcp_write_xmit(tp, true);
    return 0;
  }
  SkbPtr probe = tcp_make_ctl_skb(tp, tp.snd_una - 1, kTcpAck);
  SkBuff* raw = probe.release();
  ++stats_.zero_window_probes;
  return tcp_transmit_skb(tp, *raw, false);
}

void Tcp::tcp_send_probe0(TcpSock& tp) { (void)tcp_write_wakeup(tp); }

// tcp_make_synack: the SYN-ACK of a request sock, with the options both sides offered.
void Tcp::tcp_send_synack(RequestSock& req) {
  auto rt = ip_.ip_route_output(req.rmt_addr, req.loc_addr);
  if (!rt) return;
  OutOptions opts;
  opts.mss = true;
  opts.mss_val = req.mss;
  opts.sack_perm = req.sack_ok;
  opts.ts = req.ts_ok;
  opts.tsval = tcp_time_stamp(req.ts_offset);
  opts.tsecr = req.ts_recent;
  opts.ws = req.wscale_ok;
  opts.ws_val = req.rcv_wscale;
  size_t hlen = kTcpHeaderLen + opts.size();
  SkbPtr skb = SkBuff::alloc(Ipv4::max_header_room(**rt), hlen);
  std::byte* p = skb->put(hlen).data();
  TcpHdr th;
  th.source = req.loc_port;
  th.dest = req.rmt_port;
  th.seq = req.snt_isn;
  th.ack_seq = req.rcv_isn + 1;
  th.doff = static_cast<uint8_t>(hlen / 4);
  th.flags = kTcpSyn | kTcpAck;
  th.window = static_cast<uint16_t>(std::min<uint32_t>(req.rcv_wnd, 65535));
  th.emit(p);
  opts.write(p + kTcpHeaderLen);
  store_be16(p + 16, csum_fold(csum_pseudo(req.loc_addr, req.rmt_addr, kIpProtoTcp, uint32_t(hlen),
                                           csum_partial(p, hlen, 0))));
  ++stats_.out_segs;
  if (net().trace.on()) {
    TcpOptions shown;
    shown.mss = opts.mss_val;
    shown.sack_ok = opts.sack_perm;
    shown.ts = opts.ts;
    shown.tsval = opts.tsval;
    shown.tsecr = opts.tsecr;
    if (opts.ws) shown.wscale = opts.ws_val;
    trace_seg("tcp_v4_send_synack", nullptr, ">", th, 0, &shown);
  }
  IpFlow flow{req.loc_addr, req.rmt_addr, kIpProtoTcp, 0, 0, PmtuDisc::kDo};
  (void)ip_.ip_queue_xmit(std::move(skb), flow, *rt);
}

}  // namespace ustack
