// TCP input (Linux net/ipv4/tcp_input.c): the segment arrival rules of RFC 9293 §3.10.7, with RFC 5961's
// defences, RFC 7323 PAWS, ACK processing with RTT estimation (RFC 6298) and loss recovery (RFC 5681,
// RFC 6582), in-order and out-of-order data, and FIN.
#include <algorithm>

#include "tcp/tcp.h"

namespace ustack {

using namespace wire;

namespace {
constexpr Duration kPawsWindow = std::chrono::hours(24 * 24);  // TCP_PAWS_24DAYS
}

void Tcp::tcp_set_state(TcpSock& tp, TcpState s) {
  TcpState old = tp.sk_state;
  if (old == s) return;
  if (s == TcpState::kEstablished) ++stats_.curr_estab;
  if (old == TcpState::kEstablished && stats_.curr_estab) --stats_.curr_estab;
  if (s == TcpState::kClose) {
    if (old == TcpState::kSynSent || old == TcpState::kSynRecv) ++stats_.attempt_fails;
    if (old == TcpState::kEstablished || old == TcpState::kCloseWait) ++stats_.estab_resets;
    inet_unhash(tp);
    if (!tp.port_locked) inet_put_port(tp);
  }
  tp.sk_state = s;
  if (net().trace.on()) net().trace.emit("tcp_set_state", "%s -> %s", tcp_state_name(old), tcp_state_name(s));
}

// RFC 6298 §2 with Linux's floor: RTO = SRTT + max(4 * RTTVAR, rto_min).
// Computed in whole microseconds, the unit the estimates are kept in (a sample of less than one counts
// as one).
void Tcp::tcp_rtt_estimator(TcpSock& tp, Duration m) {
  int64_t m_us = std::max<int64_t>(std::chrono::duration_cast<std::chrono::microseconds>(m).count(), 1);
  int64_t srtt = tp.srtt.us(), rttvar = tp.rttvar.us();
  if (srtt == 0) {
    srtt = m_us;
    rttvar = m_us / 2;
  } else {
    int64_t err = m_us > srtt ? m_us - srtt : srtt - m_us;
    rttvar = rttvar - rttvar / 4 + err / 4;  // beta = 1/4
    srtt = srtt - srtt / 8 + m_us / 8;       // alpha = 1/8
  }
  tp.srtt.set_us(srtt);
  tp.rttvar.set_us(rttvar);
  tcp_set_rto(tp);
}

void Tcp::tcp_set_rto(TcpSock& tp) {
  using std::chrono::microseconds;
  int64_t rto_min = std::chrono::duration_cast<microseconds>(sysctl_.rto_min).count();
  int64_t rto_max = std::chrono::duration_cast<microseconds>(sysctl_.rto_max).count();
  tp.rto.set_us(std::min(tp.srtt.us() + std::max(4 * tp.rttvar.us(), rto_min), rto_max));
}

bool Tcp::tcp_oow_rate_limited(MsStamp& last_oow_ack_time) {
  TimePoint now = net().now();
  if (last_oow_ack_time.is_set() && last_oow_ack_time.since(now) < sysctl_.tcp_invalid_ratelimit)
    return true;  // rate-limited: don't send yet
  last_oow_ack_time.set(now);
  return false;
}

// tcp_enter_quickack_mode (tcp_incr_quickack): ACK the next rcv_wnd / (2 * rcv_mss) segments at once
// (2 if that is 0, at most TCP_MAX_QUICKACKS = 16, never fewer than already due).
void Tcp::tcp_enter_quickack_mode(TcpSock& tp) {
  uint32_t quick = tp.rcv_wnd / (2 * std::max<uint32_t>(tp.rcv_mss, 1));
  if (quick == 0) quick = 2;
  quick = std::min<uint32_t>(quick, 16);
  if (quick > tp.quick) tp.quick = static_cast<uint8_t>(quick);
  tp.ato = sysctl_.delack_min;
}

// tcp_init_transfer: the connection is up. RFC 5681 §3.1 / RFC 6928: Linux starts from one segment only
// when the SYN (or SYN-ACK) was sent more than twice. Without an RTT sample from the handshake the RTO
// falls back to 3 s (RFC 6298 §5.7, tcp_init_metrics). The delayed-ACK engine starts with the first data
// (ato stays 0 until then, as icsk_ack.ato).
void Tcp::tcp_init_transfer(TcpSock& tp) {
  tp.snd_cwnd = tp.total_retrans > 1 ? 1 : sysctl_.init_cwnd;
  if (tp.srtt.is_zero()) {
    tp.rttvar = sysctl_.rto_fallback;
    tp.rto = sysctl_.rto_fallback;
  }
  tp.snd_cwnd_cnt = 0;
  tp.retransmits = 0;
  tp.backoff = 0;
  if (tp.is_active()) tp.activate().retrans_stamp.clear();
  tp.rcv_tstamp.set(net().now());
  tp.lrcvtime.set(net().now());
  tp.quick = 0;
  tp.ato = Duration(0);
  if (tp.sk_keepopen) inet_csk_reset_keepalive_timer(tp, keepalive_time_when(tp));
}

void Tcp::tcp_finish_connect(TcpSock& tp, const TcpHdr& th) {
  (void)th;
  tcp_set_state(tp, TcpState::kEstablished);
  tcp_init_transfer(tp);
  if (net().trace.on()) {
    net().trace.emit("tcp_finish_connect",
                     "ESTABLISHED snd_una=%u rcv_nxt=%u snd_wnd=%u mss=%u wscale=%u/%u ts=%d sack=%d",
                     tp.snd_una, tp.rcv_nxt, tp.snd_wnd, tp.mss_cache, tp.snd_wscale, tp.rcv_wscale, tp.ts_ok,
                     tp.sack_ok);
    net().trace.emit("sk_state_change", "wake the caller in inet_wait_for_connect");
  }
  tp.state_change();
}

// tcp_reset: the peer reset the connection.
void Tcp::tcp_reset(TcpSock& tp) {
  switch (tp.sk_state) {
    case TcpState::kSynSent:
      tp.sk_err = Errc::kConnRefused;
      break;
    case TcpState::kCloseWait:
      tp.sk_err = Errc::kPipe;
      break;
    case TcpState::kClose:
      return;
    default:
      tp.sk_err = Errc::kConnReset;
  }
  if (net().trace.on()) net().trace.emit("tcp_reset", "err=%s", std::string(errc_name(tp.sk_err)).c_str());
  tp.error_report();
  tcp_done(tp);
}

// tcp_done: the connection is over. A sock whose socket is still open stays (in CLOSE) until close().
void Tcp::tcp_done(TcpSock& tp) {
  tcp_set_state(tp, TcpState::kClose);
  tcp_clear_xmit_timers(tp);
  tp.sk_shutdown = kShutdownMask;
  tcp_write_queue_purge(tp);
  if (tp.dead) {
    inet_csk_destroy_sock(tp);
  } else {
    tp.state_change();
  }
}

void Tcp::tcp_update_wl_and_window(TcpSock& tp, uint32_t ack, uint32_t seq, uint32_t nwin) {
  // tcp_may_update_window (RFC 9293 §3.10.7.4): only a segment at least as new as the last update.
  // Linux's form of the rule, which needs no SND.WL2: a segment that acknowledges new data or is later
  // in sequence updates the window; one at the same sequence may only open it, or close it to zero.
  if (after(ack, tp.snd_una) || after(seq, tp.snd_wl1) ||
      (seq == tp.snd_wl1 && (nwin > tp.snd_wnd || nwin == 0))) {
    tp.snd_wnd = nwin;
    tp.snd_wl1 = seq;
    tp.max_window = std::max(tp.max_window, nwin);
  }
}

namespace {

// A challenge ACK (RFC 5961 §3.2, §4.2, §5.2), throttled as RFC 5961 §7 asks: Linux's per-socket limit
// of one per tcp_invalid_ratelimit (its host-wide tcp_challenge_ack_limit is unlimited by default).
void send_challenge_ack(Tcp& tcp, TcpSock& tp) {
  if (tcp.tcp_oow_rate_limited(tp.last_oow_ack_time)) return;
  ++tcp.mutable_stats().challenge_acks;
  tcp.tcp_send_ack(tp);
}

// tcp_oow_rate_limited: ACKs for invalid pure ACKs and SYNs are rate-limited (they could loop between
// two hosts that disagree); data segments always get theirs.
bool oow_rate_limited(Tcp& tcp, TcpSock& tp, const TcpSkbCb& cb) {
  if (cb.seq != cb.end_seq && !(cb.tcp_flags & kTcpSyn)) return false;
  return tcp.tcp_oow_rate_limited(tp.last_oow_ack_time);
}

// tcp_dsack_set: remember a duplicate range for the next ACK's first SACK block (RFC 2883 §4).
static void tcp_dsack_set(Tcp& tcp, TcpSock& tp, uint32_t start, uint32_t end) {
  if (!tp.sack_ok || !tcp.sysctl().tcp_dsack || !before(start, end)) return;
  TcpOfo& ofo = tp.ofo_state();
  ofo.dsack = true;
  ofo.dsack_start = start;
  ofo.dsack_end = end;
}

// tcp_send_dupack: an ACK for a segment we could not take; a retransmission of data we have also puts us
// in quick-ack mode and is reported in a D-SACK block.
void send_dupack(Tcp& tcp, TcpSock& tp, const TcpSkbCb& cb) {
  if (cb.end_seq != cb.seq && before(cb.seq, tp.rcv_nxt)) {
    tcp.tcp_enter_quickack_mode(tp);
    tcp_dsack_set(tcp, tp, cb.seq, after(cb.end_seq, tp.rcv_nxt) ? tp.rcv_nxt : cb.end_seq);
  }
  tcp.tcp_send_ack(tp);
}

// tcp_reset_check: after the peer's FIN, a reset may carry the FIN's sequence number (RFC 5961 §3.2 as
// Linux extends it).
bool tcp_reset_check(const TcpSock& tp, uint32_t seq) {
  return seq == tp.rcv_nxt - 1 && (tp.sk_state == TcpState::kCloseWait || tp.sk_state == TcpState::kLastAck ||
                                   tp.sk_state == TcpState::kClosing);
}

// tcp_sequence: does any part of the segment fall in the receive window (RFC 9293 §3.10.7.4 table)?
bool tcp_sequence(const TcpSock& tp, uint32_t seq, uint32_t end_seq) {
  uint32_t wnd = tp.rcv_wup + tp.rcv_wnd - tp.rcv_nxt;
  if (static_cast<int32_t>(wnd) < 0) wnd = 0;
  return !before(end_seq, tp.rcv_wup) && !after(seq, tp.rcv_nxt + wnd);
}

}  // namespace

void Tcp::tcp_mark_head_lost(TcpSock& tp) {
  TcpActive& a = tp.activate();
  SkBuff* head = a.sk_write_queue.front();
  if (!head || head == a.send_head) return;
  TcpSkbCb& hc = tcp_skb_cb(*head);
  // NewReno knows of one hole, at snd_una: of a TSO skb only its first segment is lost.
  if (tcp_skb_pcount(*head) > 1 && hc.mss) tcp_fragment(tp, *head, hc.mss);
  if (hc.sacked & kTcpcbLost) return;
  uint32_t pcount = tcp_skb_pcount(*head);
  if (hc.sacked & kTcpcbRetrans) a.retrans_out -= pcount;
  hc.sacked = static_cast<uint8_t>((hc.sacked & ~kTcpcbRetrans) | kTcpcbLost);
  a.lost_out += pcount;
}

namespace {
// tcp_highest_sack_seq: the end of the highest SACKed segment (Linux's fack); snd_una if none is. It
// walks back from the tail only while something is SACKed.
uint32_t tcp_highest_sack_seq(const TcpSock& tp) {
  const TcpActive& a = tp.active();
  if (a.sacked_out == 0) return tp.snd_una;
  SkBuff* last = a.send_head ? SkbQueue::prev(a.send_head) : a.sk_write_queue.back();
  for (SkBuff* skb = last; skb; skb = SkbQueue::prev(skb))
    if (tcp_skb_cb(*skb).sacked & kTcpcbSackedAcked) return tcp_skb_cb(*skb).end_seq;
  return tp.snd_una;
}
}  // namespace

void Tcp::tcp_check_sack_reordering(TcpSock& tp, uint32_t low_seq, uint32_t fack) {
  if (!before(low_seq, fack)) return;
  const uint32_t metric = fack - low_seq;
  const uint32_t mss = tp.mss_cache;
  if (mss && metric > tp.reordering * mss)
    tp.reordering =
        static_cast<uint16_t>(std::min({(metric + mss - 1) / mss, sysctl_.tcp_max_reordering, 65535u}));
  tp.reord_seen = true;
  ++stats_.sack_reorder;
}

// tcp_sacktag_write_queue. A block counts if it lies above the cumulative ACK and within what was sent; a
// malformed one is counted in sack_discard. A D-SACK (RFC 2883) is counted for undo and marks nothing;
// an old block below the ACK neither. Only whole segments are marked: a TSO skb is split at the segment
// boundaries inside a block (tcp_match_skb_to_sack), and a segment a block covers only in part stays
// unmarked, as on Linux. Splits happen only at MSS boundaries, so a peer's blocks cannot make more skbs
// than segments; the blocks are sorted and the queue is walked once for all of them, so an ACK costs
// one pass over what is in flight whatever blocks it carries.
uint32_t Tcp::tcp_sacktag_write_queue(TcpSock& tp, const TcpOptions& opt, uint32_t ack, uint32_t prior_fack) {
  TcpActive& a = tp.activate();
  // A newly SACKed segment below the highest one SACKed so far that was never sent again was
  // reordered, not lost (tcp_sacktag_one's state->reord); the lowest such one measures by how much.
  uint32_t fack = prior_fack;
  uint32_t reord = tp.snd_nxt;
  // tcp_check_dsack (RFC 2883 §4): a first block below the ACK, or inside the second, reports data that
  // arrived twice. A retransmission the peer got twice was needless; once none of a recovery's is left
  // (undo_retrans 0), the recovery is undone. More duplicates than we ever resent is not believed.
  if (opt.num_sacks > 0) {
    const uint32_t start = opt.sacks[0].start, end = opt.sacks[0].end;
    const bool below = before(start, ack);
    const bool inside =
        !below && opt.num_sacks > 1 && !after(end, opt.sacks[1].end) && !before(start, opt.sacks[1].start);
    if ((below || inside) && after(end, start) && end - start <= tp.max_window) {
      ++stats_.dsack_recv;
      const uint32_t mss = std::max<uint32_t>(tp.mss_cache, 1);
      const uint32_t dup_segs = std::max<uint32_t>((end - start + mss - 1) / mss, 1);
      a.dsack_dups += dup_segs;
      if (a.dsack_dups <= tp.total_retrans && a.undo_marker && a.undo_retrans > 0 &&
          after(end, a.undo_marker) && (!below || !after(end, tp.snd_una)))
        a.undo_retrans = std::max<int32_t>(0, a.undo_retrans - int32_t(dup_segs));
    }
  }
  struct Block {
    uint32_t start, end;
  };
  std::array<Block, 4> blocks{};
  size_t n = 0;
  uint32_t highest = ack;  // the end of the highest valid block
  for (uint8_t i = 0; i < opt.num_sacks && i < blocks.size(); ++i) {
    uint32_t start = opt.sacks[i].start, end = opt.sacks[i].end;
    if (!after(end, start) || after(end, tp.snd_nxt) || end - start > tp.max_window) {
      ++stats_.sack_discard;
      continue;
    }
    if (!after(end, ack)) continue;
    if (before(start, ack)) start = ack;
    blocks[n++] = Block{start, end};
    if (after(end, highest)) highest = end;
  }
  // At most four: sorted by insertion, in sequence order from the ACK.
  for (size_t k = 1; k < n; ++k)
    for (size_t m = k; m > 0 && blocks[m].start - ack < blocks[m - 1].start - ack; --m)
      std::swap(blocks[m], blocks[m - 1]);
  uint32_t newly = 0;
  size_t b = 0;
  SkBuff* skb = a.sk_write_queue.front();
  while (skb && skb != a.send_head && b < n) {
    TcpSkbCb& c = tcp_skb_cb(*skb);
    const Block& blk = blocks[b];
    if (!before(c.seq, blk.end)) {  // past this block: on to the next
      ++b;
      continue;
    }
    if (!after(c.end_seq, blk.start) || (c.sacked & kTcpcbSackedAcked)) {
      skb = SkbQueue::next(skb);
      continue;
    }
    if (before(c.seq, blk.start) || after(c.end_seq, blk.end)) {
      // In part: split off the whole segments inside the block, if any.
      uint32_t mss = c.mss;
      uint32_t lo = 0, hi = 0;
      if (tcp_skb_pcount(*skb) > 1 && mss != 0) {
        lo = before(c.seq, blk.start) ? (blk.start - c.seq + mss - 1) / mss * mss : 0;
        hi = after(c.end_seq, blk.end) ? (blk.end - c.seq) / mss * mss : uint32_t(skb->len());
      }
      if (lo >= hi) {
        // Nothing whole inside: the skb may still lie in the next block.
        if (after(c.end_seq, blk.end))
          ++b;
        else
          skb = SkbQueue::next(skb);
        continue;
      }
      if (hi < skb->len()) tcp_fragment(tp, *skb, hi);
      if (lo > 0) {
        tcp_fragment(tp, *skb, lo);
        skb = SkbQueue::next(skb);  // the part inside the block
        continue;
      }
    }
    uint32_t pcount = tcp_skb_pcount(*skb);
    tcp_rack_advance(tp, c);
    if (!(c.sacked & kTcpcbEverRetrans) && before(c.seq, fack) && before(c.seq, reord)) reord = c.seq;
    if (after(c.end_seq, fack)) fack = c.end_seq;
    if (c.sacked & kTcpcbLost) a.lost_out -= pcount;
    if (c.sacked & kTcpcbRetrans) a.retrans_out -= pcount;
    c.sacked = static_cast<uint8_t>((c.sacked & kTcpcbEverRetrans) | kTcpcbSackedAcked);
    a.sacked_out += pcount;
    newly += pcount;
    skb = SkbQueue::next(skb);
  }
  if (newly > 0 && a.retrans_out > 0) tcp_mark_lost_retrans(tp, highest);
  if (before(reord, fack)) tcp_check_sack_reordering(tp, reord, fack);
  return newly;
}

// tcp_mark_lost_retrans: a retransmission is lost when the peer SACKs data sent after it (with no
// reordering, the retransmission would have arrived first). It is marked lost to go out again now,
// where RFC 6675 alone would wait for the RTO.
void Tcp::tcp_mark_lost_retrans(TcpSock& tp, uint32_t highest_sacked) {
  TcpActive& a = tp.activate();
  for (SkBuff* skb = a.sk_write_queue.front(); skb && skb != a.send_head; skb = SkbQueue::next(skb)) {
    TcpSkbCb& c = tcp_skb_cb(*skb);
    if (!before(c.seq, highest_sacked)) break;
    if ((c.sacked & (kTcpcbRetrans | kTcpcbSackedAcked)) != kTcpcbRetrans) continue;
    if (!after(highest_sacked, c.ack_seq)) continue;
    uint32_t pcount = tcp_skb_pcount(*skb);
    a.retrans_out -= pcount;
    if (!(c.sacked & kTcpcbLost)) a.lost_out += pcount;
    c.sacked = static_cast<uint8_t>((c.sacked & ~kTcpcbRetrans) | kTcpcbLost);
    ++stats_.lost_retransmit;
  }
}

void Tcp::tcp_update_scoreboard(TcpSock& tp) {
  if (tp.sack_ok && sysctl_.tcp_rack_tlp) (void)tcp_rack_detect_loss(tp, true);
  if (tp.active().sacked_out < tp.reordering) return;
  TcpActive& a = tp.activate();
  SkBuff* last = a.send_head ? SkbQueue::prev(a.send_head) : a.sk_write_queue.back();
  uint32_t sacked_above = 0;
  for (SkBuff* skb = last; skb; skb = SkbQueue::prev(skb)) {
    TcpSkbCb& c = tcp_skb_cb(*skb);
    uint32_t pcount = tcp_skb_pcount(*skb);
    if (c.sacked & kTcpcbSackedAcked) {
      sacked_above += pcount;
    } else if (sacked_above >= tp.reordering && !(c.sacked & (kTcpcbLost | kTcpcbRetrans))) {
      c.sacked |= kTcpcbLost;
      a.lost_out += pcount;
    }
  }
}

void Tcp::tcp_enter_recovery(TcpSock& tp) {
  TcpActive& a = tp.activate();
  // tcp_init_undo: what a D-SACK may later show needless. ssthresh as it stood, or three quarters of
  // cwnd if more (tcp_current_ssthresh).
  a.undo_marker = tp.snd_una;
  a.undo_retrans = a.retrans_out ? int32_t(a.retrans_out) : -1;
  a.prior_ssthresh = std::max(tp.snd_ssthresh, (tp.snd_cwnd >> 1) + (tp.snd_cwnd >> 2));
  a.prior_cwnd = tp.snd_cwnd;
  tp.snd_ssthresh = tp.ca_ops().ssthresh(tp);
  // With PRR cwnd comes down as the ACKs arrive (tcp_cwnd_reduction); without, at once.
  a.prr_delivered = a.prr_out = 0;
  if (!sysctl_.tcp_prr) tp.snd_cwnd = tp.snd_ssthresh;
  tp.snd_cwnd_cnt = 0;
  a.high_seq = tp.snd_nxt;
  a.tlp_high_seq = 0;
  tp.ca_state = CaState::kRecovery;
  tp.ca_ops().set_state(tp, CaState::kRecovery);
  ++stats_.fast_retrans;
  SkBuff* head = a.sk_write_queue.front();
  if (!head || head == a.send_head) return;
  if (!tp.sack_ok) tcp_mark_head_lost(tp);
  // With PRR the first lost segment goes out after the ACK, when tcp_cwnd_reduction has let at least
  // one segment out (tcp_xmit_retransmit_queue). Without, it goes out now whatever the window says
  // (RFC 5681 §3.2 step 2).
  if (sysctl_.tcp_prr) {
    if (net().trace.on())
      net().trace.emit("tcp_fastretrans_alert", "%s: recovery, ssthresh=%u",
                       tp.sack_ok ? "SACK" : "3 dupacks", tp.snd_ssthresh);
    return;
  }
  SkBuff* first = head;
  while (first && first != a.send_head && !(tcp_skb_cb(*first).sacked & kTcpcbLost))
    first = SkbQueue::next(first);
  if (!first || first == a.send_head) return;
  TcpSkbCb& fc = tcp_skb_cb(*first);
  if (net().trace.on())
    net().trace.emit("tcp_fastretrans_alert", "%s: recovery, ssthresh=%u, retransmit seq=%u",
                     tp.sack_ok ? "SACK" : "3 dupacks", tp.snd_ssthresh, fc.seq);
  if (!(fc.sacked & kTcpcbRetrans) && tcp_retransmit_skb(tp, *first) && first == head) tcp_rearm_rto(tp);
}

bool Tcp::tcp_try_undo_dsack(TcpSock& tp) {
  if (!tp.is_active()) return false;
  TcpActive& a = tp.activate();
  if (a.undo_marker == 0 || a.undo_retrans != 0) return false;
  tp.snd_cwnd = tp.ca_ops().undo_cwnd(tp);
  tp.snd_ssthresh = std::max(tp.snd_ssthresh, a.prior_ssthresh);
  a.undo_marker = 0;
  ++stats_.dsack_undo;
  if (net().trace.on())
    net().trace.emit("tcp_try_undo_dsack", "every retransmission was a duplicate: cwnd=%u ssthresh=%u",
                     tp.snd_cwnd, tp.snd_ssthresh);
  return true;
}

// tcp_cwnd_reduction (RFC 6937 §3, PRR-SSRB, in Linux's form). While the pipe is above ssthresh, send
// so that what went out since recovery began stays at ssthresh/prior_cwnd of what was delivered (about
// one for two with reno); once below, grow toward ssthresh by what was delivered, one more when the
// ACK advanced snd_una without new losses (slow-start reduction bound). The first ACK always lets one
// segment out: the fast retransmission.
void Tcp::tcp_cwnd_reduction(TcpSock& tp, uint32_t newly_acked_sacked, bool newly_lost,
                             bool snd_una_advanced) {
  TcpActive& a = tp.activate();
  if (newly_acked_sacked == 0 || a.prior_cwnd == 0) return;
  const int64_t in_flight = tcp_packets_in_flight(tp);
  const int64_t delta = int64_t{tp.snd_ssthresh} - in_flight;
  a.prr_delivered += newly_acked_sacked;
  int64_t sndcnt;
  if (delta < 0) {
    uint64_t dividend = uint64_t{tp.snd_ssthresh} * a.prr_delivered + a.prior_cwnd - 1;
    sndcnt = int64_t(dividend / a.prior_cwnd) - a.prr_out;
  } else {
    sndcnt = std::max<int64_t>(int64_t{a.prr_delivered} - a.prr_out, newly_acked_sacked);
    if (snd_una_advanced && !newly_lost) ++sndcnt;
    sndcnt = std::min(delta, sndcnt);
  }
  sndcnt = std::max<int64_t>(sndcnt, a.prr_out ? 0 : 1);
  tp.snd_cwnd = static_cast<uint32_t>(std::max<int64_t>(in_flight + sndcnt, 1));
}

// tcp_process_tlp_ack (RFC 8985 §7.4): what the ACKs after a loss probe say. A probe of new data needs
// nothing more once acknowledged. A probe that resent the last segment: a duplicate ACK with nothing new
// means both copies arrived (no loss); an ACK beyond the probe without that means the probe repaired a
// loss, which halves cwnd once as any loss does (Linux enters and leaves CWR at once).
void Tcp::tcp_process_tlp_ack(TcpSock& tp, uint32_t ack, bool snd_una_advanced, bool not_dup) {
  TcpActive& a = tp.activate();
  if (before(ack, a.tlp_high_seq)) return;
  if (!tp.tlp_retrans) {
    a.tlp_high_seq = 0;
  } else if (after(ack, a.tlp_high_seq)) {
    a.tlp_high_seq = 0;
    a.prior_cwnd = tp.snd_cwnd;
    tp.snd_ssthresh = tp.ca_ops().ssthresh(tp);
    tp.snd_cwnd = tp.snd_ssthresh;
    tp.snd_cwnd_cnt = 0;
    a.high_seq = tp.snd_nxt;
    ++stats_.loss_probe_recovery;
    if (net().trace.on())
      net().trace.emit("tcp_process_tlp_ack", "the probe repaired a loss: cwnd=ssthresh=%u", tp.snd_cwnd);
  } else if (!snd_una_advanced && !not_dup) {
    a.tlp_high_seq = 0;
  }
}

// tcp_try_undo_dsack during a recovery, then tcp_try_to_open: D-SACKs showed every retransmission of it
// needless, so the reduction is given back and the recovery ends now rather than at high_seq; Disorder
// while anything is still SACKed or resent, else Open.
static bool tcp_try_undo_recovery_dsack(Tcp& tcp, TcpSock& tp) {
  if (tp.ca_state != CaState::kRecovery || !tcp.tcp_try_undo_dsack(tp)) return false;
  TcpActive& a = tp.activate();
  const CaState s = (a.sacked_out || a.lost_out || a.retrans_out) ? CaState::kDisorder : CaState::kOpen;
  a.high_seq = tp.snd_nxt;
  tp.ca_state = s;
  tp.ca_ops().set_state(tp, s);
  return true;
}

// tcp_fastretrans_alert with SACK, after an ACK that SACKed or acknowledged something. SACKed segments
// above a hole mean disorder; once `reordering` of them lie above a hole it is lost (RFC 6675 §5) and
// recovery begins. In recovery, the holes that become lost wait for the pipe to let them out.
static void tcp_sack_state(Tcp& tcp, TcpSock& tp, uint32_t ack) {
  if (tp.ca_state == CaState::kRecovery || tp.ca_state == CaState::kLoss) {
    tcp.tcp_update_scoreboard(tp);
    return;
  }
  tp.ca_state = tp.active().sacked_out > 0 ? CaState::kDisorder : CaState::kOpen;
  if (tp.active().sacked_out == 0) return;
  tcp.tcp_update_scoreboard(tp);
  if (tp.active().lost_out > 0 && after(ack, tp.active().high_seq - 1)) tcp.tcp_enter_recovery(tp);
}

// tcp_ack: process the acknowledgment field. Returns 1 if it acknowledged something or was a duplicate,
// 0 for an old ACK, -1 for an ACK of data never sent.
static int tcp_ack(Tcp& tcp, TcpSock& tp, SkBuff& skb, const TcpHdr& th, const TcpOptions& opt,
                   size_t payload) {
  NetCore& net = tcp.net();
  uint32_t ack = th.ack_seq;
  uint32_t prior_snd_una = tp.snd_una;
  uint32_t nwin = uint32_t{th.window} << tp.snd_wscale;
  const TcpSkbCb& cb = tcp_skb_cb(skb);
  if (before(ack, prior_snd_una)) {
    // RFC 5961 §5.2: older than anything the peer could have seen (no more than was ever acked).
    uint32_t max_window = static_cast<uint32_t>(std::min<uint64_t>(tp.max_window, tp.bytes_acked));
    if (before(ack, prior_snd_una - max_window)) send_challenge_ack(tcp, tp);
    return 0;
  }
  if (after(ack, tp.snd_nxt)) {
    send_challenge_ack(tcp, tp);
    return -1;
  }
  uint32_t prior_wnd = tp.snd_wnd;
  tcp.tcp_update_wl_and_window(tp, ack, cb.seq, nwin);
  tp.rcv_tstamp.set(net.now());
  tp.probes_out = 0;
  // With SACK (RFC 6675) the scoreboard, not a count of duplicate ACKs, says what the peer holds.
  const bool sack = tp.sack_ok;
  const bool prr = tcp.sysctl().tcp_prr;
  const uint32_t prior_lost = tp.active().lost_out;
  const uint32_t prior_fack = sack ? tcp_highest_sack_seq(tp) : tp.snd_una;
  uint32_t newly_sacked = 0;
  if (sack && opt.num_sacks > 0 && tp.active().packets_out > 0)
    newly_sacked = tcp.tcp_sacktag_write_queue(tp, opt, ack, prior_fack);

  if (!after(ack, prior_snd_una)) {
    // Linux's FLAG_NOT_DUP: data, a window update, or news in SACK blocks.
    if (tp.active().tlp_high_seq)
      tcp.tcp_process_tlp_ack(tp, ack, false, payload > 0 || nwin != prior_wnd || newly_sacked > 0);
    if (sack) {
      // A D-SACK may show the recovery under way, or the one that ended, needless.
      if (tp.ca_state == CaState::kOpen || tp.ca_state == CaState::kDisorder)
        (void)tcp.tcp_try_undo_dsack(tp);
      else
        (void)tcp_try_undo_recovery_dsack(tcp, tp);
      if (newly_sacked > 0) {
        tcp_sack_state(tcp, tp, ack);
        if (prr && tp.ca_state == CaState::kRecovery)
          tcp.tcp_cwnd_reduction(tp, newly_sacked, tp.active().lost_out > prior_lost, false);
        (void)tcp.tcp_rack_arm_reo(tp);
      }
      return 1;
    }
    // A duplicate ACK (RFC 5681 §2): nothing new acked, no data, same window, data outstanding.
    bool dup =
        tp.active().packets_out > 0 && payload == 0 && !(th.flags & (kTcpSyn | kTcpFin)) && nwin == prior_wnd;
    if (!dup) return 1;
    if (tp.activate().sacked_out + 1 < tp.activate().packets_out)
      ++tp.activate().sacked_out;  // tcp_add_reno_sack
    if (tp.ca_state == CaState::kOpen) tp.ca_state = CaState::kDisorder;
    // Fast retransmit and NewReno recovery (RFC 6582 §3.2 step 2): halve, retransmit the head.
    if (tp.ca_state == CaState::kDisorder && tp.active().sacked_out >= tp.reordering &&
        after(ack, tp.active().high_seq - 1))
      tcp.tcp_enter_recovery(tp);
    // Each duplicate ACK stands for one segment delivered.
    if (prr && tp.ca_state == CaState::kRecovery) tcp.tcp_cwnd_reduction(tp, 1, false, false);
    return 1;
  }

  // New data acknowledged: tcp_clean_rtx_queue.
  TcpActive& a = tp.activate();
  uint32_t acked_pcount = 0;
  uint32_t acked_sacked = 0;  // of those, segments SACKed before: delivered already
  Duration seq_rtt{-1};
  bool retrans_acked = false;
  uint32_t reord = tp.snd_nxt;  // the lowest never-resent, never-SACKed segment acknowledged
  while (SkBuff* s = a.sk_write_queue.front()) {
    if (s == a.send_head) break;
    TcpSkbCb& sc = tcp_skb_cb(*s);
    if (after(sc.end_seq, ack)) {
      if (before(sc.seq, ack) && !(sc.tcp_flags & kTcpSyn)) {
        // tcp_trim_head: part of the segment is acknowledged; of a TSO skb, whole segments may be
        // (tcp_tso_acked), and they leave the counts.
        uint32_t n = ack - sc.seq;
        uint32_t prior_pcount = tcp_skb_pcount(*s);
        a.sk_write_queue.pull_front(std::min<size_t>(n, s->len()));
        sc.seq = ack;
        if (sc.mss) {
          tcp_set_skb_tso_segs(*s, sc.mss);
          uint32_t gone = prior_pcount - tcp_skb_pcount(*s);
          a.packets_out -= gone;
          if (sc.sacked & kTcpcbRetrans) a.retrans_out -= gone;
          if (sc.sacked & kTcpcbLost) a.lost_out -= gone;
          if (sc.sacked & kTcpcbSackedAcked) {
            a.sacked_out -= gone;
            acked_sacked += gone;
          }
          acked_pcount += gone;
        }
      }
      break;
    }
    if (sc.sacked & kTcpcbEverRetrans) {
      retrans_acked = true;
    } else {
      if (seq_rtt.count() < 0) seq_rtt = net.now() - TimePoint(Duration(sc.when_ns));
      if (!(sc.sacked & kTcpcbSackedAcked) && before(sc.seq, reord)) reord = sc.seq;
    }
    uint32_t pcount = tcp_skb_pcount(*s);
    if (!(sc.sacked & kTcpcbSackedAcked)) tcp.tcp_rack_advance(tp, sc);
    if (sc.sacked & kTcpcbRetrans) a.retrans_out -= pcount;
    if (sc.sacked & kTcpcbLost) a.lost_out -= pcount;
    if (sc.sacked & kTcpcbSackedAcked) {
      a.sacked_out -= pcount;
      acked_sacked += pcount;
    }
    a.packets_out -= pcount;
    acked_pcount += pcount;
    a.sk_write_queue.pop_front();
  }
  tp.bytes_acked += ack - prior_snd_una;
  tp.snd_una = ack;
  // A hole that was never resent filled below SACKed data: that is reordering too (tcp_clean_rtx_queue).
  if (sack && before(reord, prior_fack)) tcp.tcp_check_sack_reordering(tp, reord, tcp_highest_sack_seq(tp));
  if (a.packets_out == 0) a.lost_out = a.retrans_out = a.sacked_out = 0;
  if (a.tlp_high_seq) tcp.tcp_process_tlp_ack(tp, ack, true, true);
  // RTT: from the send time of never-retransmitted data (Karn), which has microsecond resolution; the
  // echoed timestamp (RFC 7323 §4.1, millisecond ticks) only when every acked segment was resent.
  // Karn: an ACK that covers any retransmitted segment gives no send-time sample at all (Linux's
  // FLAG_RETRANS_DATA_ACKED), since it may answer either transmission.
  if (seq_rtt.count() >= 0 && !retrans_acked) {
    tcp.tcp_rtt_estimator(tp, seq_rtt);
  } else if (tp.ts_ok && opt.ts && opt.tsecr) {
    uint32_t delta = tcp.tcp_time_stamp(tp.ts_offset) - opt.tsecr;
    if (delta < 0x7fffffff)
      tcp.tcp_rtt_estimator(tp, std::chrono::milliseconds(std::max<uint32_t>(delta, 1)));
  }
  tp.backoff = 0;
  tp.retransmits = 0;
  if (a.retrans_out == 0) a.retrans_stamp.clear();

  // Segments this ACK reported delivered: acknowledged and not SACKed before, or newly SACKed.
  uint32_t delivered = acked_pcount - acked_sacked + newly_sacked;
  switch (tp.ca_state) {
    case CaState::kRecovery:
      if (!before(ack, a.high_seq)) {
        // Full acknowledgment (RFC 6582 §3.2 step 3): leave recovery at ssthresh (with PRR,
        // tcp_end_cwnd_reduction; without, no more than the pipe and one).
        // tcp_try_undo_recovery: unless D-SACKs showed every retransmission needless, which undoes the
        // reduction instead.
        if (!tcp.tcp_try_undo_dsack(tp))
          tp.snd_cwnd =
              prr ? tp.snd_ssthresh
                  : std::max<uint32_t>(std::min(tp.snd_ssthresh, tcp.tcp_packets_in_flight(tp) + 1), 2);
        tp.ca_state = CaState::kOpen;
        tp.ca_ops().set_state(tp, CaState::kOpen);
        // With SACK, data sent during recovery may be SACKed above a new hole: the scoreboard decides
        // between Open, Disorder and a new recovery. Without, the duplicate ACKs counted are spent.
        if (sack)
          tcp_sack_state(tcp, tp, ack);
        else
          a.sacked_out = 0;
      } else if (sack) {
        // RFC 6675: the scoreboard says which holes are lost; they go out as the pipe allows, after
        // this ACK (tcp_xmit_retransmit_queue in tcp_rcv_state_process). Unless D-SACKs showed the
        // recovery needless.
        if (!tcp_try_undo_recovery_dsack(tcp, tp)) tcp.tcp_update_scoreboard(tp);
      } else {
        // Partial acknowledgment (step 4): the next hole is lost too. Without PRR, resend it at once;
        // with PRR it goes out after this ACK, as the reduced cwnd allows (tcp_xmit_retransmit_queue in
        // tcp_rcv_state_process). The duplicate ACKs counted stood for segments delivered then
        // (tcp_remove_reno_sacks).
        delivered = std::max<uint32_t>(acked_pcount > a.sacked_out ? acked_pcount - a.sacked_out : 0, 1);
        a.sacked_out = a.sacked_out > acked_pcount ? a.sacked_out - acked_pcount : 0;
        if (SkBuff* head = a.sk_write_queue.front(); head && head != a.send_head) {
          TcpSkbCb& hc = tcp_skb_cb(*head);
          if (!(hc.sacked & kTcpcbLost)) tcp.tcp_mark_head_lost(tp);
          // RFC 6582 §3.2 step 4: retransmit the first unacknowledged segment at once.
          if (!prr && !(hc.sacked & kTcpcbRetrans)) (void)tcp.tcp_retransmit_skb(tp, *head);
        }
        if (!prr) tcp.tcp_xmit_retransmit_queue(tp);
      }
      break;
    case CaState::kLoss:
      if (tp.cwnd_limited()) tp.ca_ops().cong_avoid(tp, acked_pcount - acked_sacked);
      if (!before(ack, a.high_seq)) {
        tp.ca_state = CaState::kOpen;
        tp.ca_ops().set_state(tp, CaState::kOpen);
        if (sack) tcp_sack_state(tcp, tp, ack);
      }
      break;
    default: {
      if (sack) {
        (void)tcp.tcp_try_undo_dsack(tp);  // a D-SACK after the recovery ended
        // Segments SACKed earlier were delivered then; cwnd grows only on what this ACK delivered in
        // order (tcp_may_raise_cwnd).
        if (tp.cwnd_limited() && acked_pcount > acked_sacked)
          tp.ca_ops().cong_avoid(tp, acked_pcount - acked_sacked);
        tcp_sack_state(tcp, tp, ack);
        break;
      }
      // tcp_remove_reno_sacks: the ACK fills the hole the duplicate ACKs counted under; the segments they
      // stood for were delivered then, so one segment is newly delivered and the rest eat duplicates.
      delivered = acked_pcount;
      if (a.sacked_out > 0) {
        delivered = std::max<uint32_t>(acked_pcount > a.sacked_out ? acked_pcount - a.sacked_out : 0, 1);
        a.sacked_out = acked_pcount - 1 >= a.sacked_out ? 0 : a.sacked_out - (acked_pcount - 1);
      }
      // tcp_try_to_open: Disorder while duplicate ACKs are still counted, else Open.
      tp.ca_state = a.sacked_out > 0 ? CaState::kDisorder : CaState::kOpen;
      if (tp.cwnd_limited()) tp.ca_ops().cong_avoid(tp, delivered);
    }
  }
  // tcp_cong_control: in recovery (still, or begun on this ACK), PRR sets cwnd for what the ACK delivered.
  if (prr && tp.ca_state == CaState::kRecovery)
    tcp.tcp_cwnd_reduction(tp, delivered, a.lost_out > prior_lost, true);
  // tcp_set_xmit_timer: a loss probe if the tail may need one, else the RTO from now; RACK's reordering
  // timer instead if a segment sent before a delivered one is not yet overdue.
  if (!tcp.tcp_schedule_loss_probe(tp, true)) tcp.tcp_rearm_rto(tp);
  (void)tcp.tcp_rack_arm_reo(tp);
  // Sent data was consumed: the application may write again (sk_write_space).
  if (tp.socket_state != SocketState::kFree && tp.wmem_queued() < tp.sndbuf()) tp.write_space();
  return 1;
}

// tcp_fin: the peer has no more to send (RFC 9293 §3.10.7.4, eighth step).
static void tcp_fin(Tcp& tcp, TcpSock& tp) {
  tp.sk_shutdown |= kRcvShutdown;
  switch (tp.sk_state) {
    case TcpState::kSynRecv:
    case TcpState::kEstablished:
      tcp.tcp_set_state(tp, TcpState::kCloseWait);
      // The application will most likely close now: its FIN can carry this ACK (tcp_ack_snd_check
      // delays it in pingpong mode), one segment fewer per connection.
      if (tcp.sysctl().tcp_fin_pingpong) tp.pingpong = true;
      break;
    case TcpState::kFinWait1:
      // Our FIN is not acknowledged yet: simultaneous close.
      tcp.tcp_set_state(tp, TcpState::kClosing);
      break;
    case TcpState::kFinWait2:
      tcp.tcp_send_ack(tp);
      tcp.tcp_time_wait(tp, TcpState::kTimeWait, tcp.sysctl().tcp_timewait_len);
      return;
    default:
      break;
  }
  if (tp.active().ofo) tp.active().ofo->queue.purge();
  if (!tp.pingpong) tcp.tcp_send_ack(tp);
  tp.ofo_release_if_idle();
  tp.state_change();
  tp.data_ready();
}

// tcp_ofo_queue: segments that the hole-filling one made contiguous move to the receive queue.
static bool tcp_ofo_queue(Tcp& tcp, TcpSock& tp) {
  bool fin = false;
  SkbQueue& ofo = tp.active().ofo->queue;
  while (SkBuff* s = ofo.front()) {
    TcpSkbCb& c = tcp_skb_cb(*s);
    if (after(c.seq, tp.rcv_nxt)) break;
    SkbPtr skb = ofo.unlink(s);
    bool has_fin = c.tcp_flags & kTcpFin;
    uint32_t data_end = c.end_seq - (has_fin ? 1 : 0);
    if (!after(data_end, tp.rcv_nxt)) {
      if (has_fin && c.end_seq == tp.rcv_nxt + 1) fin = true;
      continue;  // entirely duplicate data
    }
    (void)skb->pull(tp.rcv_nxt - c.seq);
    c.seq = tp.rcv_nxt;
    tp.bytes_received += data_end - tp.rcv_nxt;  // tcp_rcv_nxt_update counts what rcv_nxt passes
    tp.rcv_nxt = data_end;
    tp.activate().sk_receive_queue.push_back(std::move(skb));
    if (has_fin) {
      fin = true;
      break;
    }
  }
  // Before tcp_fin, which sends the ACK and may free the out-of-order state itself.
  if (!fin) tp.ofo_release_if_idle();
  if (fin) {
    ++tp.rcv_nxt;
    tcp_fin(tcp, tp);
  }
  return fin;
}

// tcp_event_data_recv: the delayed-ACK engine learns the peer's pace from in-order data. The first data
// starts quick-ack mode; then ato follows the gaps between segments (m), and a gap longer than the RTO
// (a sender restarting after idling) brings quick-ack mode back.
static void tcp_event_data_recv(Tcp& tcp, TcpSock& tp, Duration m) {
  const Duration ato_min = tcp.sysctl().delack_min;
  const Duration ato = tp.ato, rto = tp.rto;
  if (ato.count() == 0) {
    tcp.tcp_enter_quickack_mode(tp);
  } else if (m <= ato_min / 2) {
    tp.ato = ato / 2 + ato_min / 2;
  } else if (m < ato) {
    tp.ato = std::min(ato / 2 + m, rto);
  } else if (m > rto) {
    tcp.tcp_enter_quickack_mode(tp);
    tp.ato = ato;
  }
}

// The first range of [start, end) that the out-of-order queue already holds is a duplicate.
static void tcp_dsack_ofo(Tcp& tcp, TcpSock& tp, uint32_t start, uint32_t end) {
  if (!tp.active().ofo) return;
  for (SkBuff* o = tp.active().ofo->queue.front(); o; o = SkbQueue::next(o)) {
    const TcpSkbCb& oc = tcp_skb_cb(*o);
    if (before(oc.seq, end) && after(oc.end_seq, start)) {
      tcp_dsack_set(tcp, tp, after(oc.seq, start) ? oc.seq : start,
                    before(oc.end_seq, end) ? oc.end_seq : end);
      return;
    }
  }
}

// tcp_data_queue: put a segment's data where it belongs; returns true if an immediate ACK is due.
static bool tcp_data_queue(Tcp& tcp, TcpSock& tp, SkbPtr skb, size_t hlen) {
  NetCore& net = tcp.net();
  TcpSkbCb& cb = tcp_skb_cb(*skb);
  bool fin = cb.tcp_flags & kTcpFin;
  (void)skb->pull(hlen);
  size_t payload = skb->len();
  if (payload == 0 && !fin) return false;
  uint32_t data_end = cb.seq + uint32_t(payload);
  // tcp_measure_rcv_mss: of a segment merged on receive (GRO), what one wire segment carried.
  uint32_t seg = skb->is_gso() ? std::min<uint32_t>(skb->gso_size, uint32_t(payload)) : uint32_t(payload);
  tp.rcv_mss = std::clamp<uint32_t>(std::max<uint32_t>(tp.rcv_mss, seg), 1, tp.advmss);
  Duration since_last = tp.lrcvtime.since(net.now());
  tp.lrcvtime.set(net.now());

  if (!after(cb.end_seq, tp.rcv_nxt) && !(fin && cb.end_seq == tp.rcv_nxt + 1 && data_end == tp.rcv_nxt)) {
    // A retransmission of data we have: ACK at once so that the sender learns (tcp_send_dupack).
    if (payload > 0) tcp_dsack_set(tcp, tp, cb.seq, data_end);
    tcp.tcp_enter_quickack_mode(tp);
    kfree_skb(net, std::move(skb), DropReason::TCP_OLD_DATA);
    return true;
  }
  uint32_t wnd = tp.rcv_wup + tp.rcv_wnd - tp.rcv_nxt;
  if (static_cast<int32_t>(wnd) < 0) wnd = 0;
  if (!before(cb.seq, tp.rcv_nxt + std::max<uint32_t>(wnd, 1)) && payload > 0) {
    kfree_skb(net, std::move(skb), DropReason::TCP_OVERWINDOW);
    return true;
  }
  if (!after(cb.seq, tp.rcv_nxt)) {
    // In order (possibly overlapping what we have: trim the front).
    uint32_t overlap = tp.rcv_nxt - cb.seq;
    // RFC 2883: what we had already goes in a D-SACK block, below rcv_nxt or else in the out-of-order
    // queue (Linux's tcp_dsack_set and, for the queue, tcp_ofo_queue's tcp_dsack_extend).
    if (overlap)
      tcp_dsack_set(tcp, tp, cb.seq, tp.rcv_nxt);
    else if (payload > 0 && tp.active().ofo)  // the common case, nothing out of order, costs one test
      tcp_dsack_ofo(tcp, tp, cb.seq, data_end);
    if (overlap) {
      (void)skb->pull(std::min<size_t>(overlap, skb->len()));
      cb.seq = tp.rcv_nxt;
    }
    if (skb->len() > 0 && wnd == 0) {
      // We advertised a zero window: the peer probes (or ignores it). Keep nothing, answer at once
      // (Linux's TCPZEROWINDOWDROP); a bare FIN still goes through.
      tcp.tcp_enter_quickack_mode(tp);
      kfree_skb(net, std::move(skb), DropReason::SOCKET_RCVBUFF);
      return true;
    }
    if (skb->len() > 0) tcp_event_data_recv(tcp, tp, since_last);
    tp.rcv_nxt = data_end;
    tp.bytes_received += skb->len();
    ++tp.data_segs_in;
    bool had_ofo = !tp.ofo_empty();
    if (skb->len() > 0) tp.activate().sk_receive_queue.push_back(std::move(skb));
    if (fin) {
      ++tp.rcv_nxt;
      tcp_fin(tcp, tp);
    } else if (had_ofo) {
      tcp_ofo_queue(tcp, tp);
    }
    tp.data_ready();
    // RFC 5681 §4.2: ACK at once when a segment fills (part of) a gap.
    return had_ofo;
  }
  // Out of order: keep it sorted, drop exact and contained duplicates, bound the memory.
  if (tp.rmem_alloc() + skb->len() > tp.rcvbuf()) {
    kfree_skb(net, std::move(skb), DropReason::TCP_OFO_DROP);
    return true;
  }
  ++tcp.mutable_stats().ofo_queue;
  // The first part of it we already hold is reported as a duplicate (tcp_data_queue_ofo's tcp_dsack_set).
  tcp_dsack_ofo(tcp, tp, cb.seq, data_end);
  // tcp_sack_new_ofo_skb: this segment's block is reported first, the earlier ones after it.
  TcpOfo& ofo = tp.ofo_state();
  std::copy_backward(ofo.sack_recent.begin(), ofo.sack_recent.end() - 1, ofo.sack_recent.end());
  ofo.sack_recent[0] = cb.seq;
  if (ofo.sack_recent_n < ofo.sack_recent.size()) ++ofo.sack_recent_n;
  SkBuff* pos = ofo.queue.back();
  while (pos && after(tcp_skb_cb(*pos).seq, cb.seq)) pos = SkbQueue::prev(pos);
  if (pos && !before(tcp_skb_cb(*pos).end_seq, cb.end_seq) && !after(tcp_skb_cb(*pos).seq, cb.seq)) {
    kfree_skb(net, std::move(skb), DropReason::TCP_OLD_DATA);  // wholly inside one we hold
  } else {
    ofo.queue.insert_before(pos ? SkbQueue::next(pos) : ofo.queue.front(), std::move(skb));
  }
  tcp.tcp_enter_quickack_mode(tp);
  return true;
}

// __tcp_ack_snd_check: ACK now, or let the delayed-ACK timer do it.
static void tcp_ack_snd_check(Tcp& tcp, TcpSock& tp, bool now) {
  if (!tp.ack_pending && !now) return;
  // More than one full segment since the last ACK, quick-ack mode (tcp_in_quickack_mode: not in
  // pingpong mode), or an out-of-order queue.
  if (now || tp.rcv_nxt - tp.rcv_wup > tp.rcv_mss || (tp.quick > 0 && !tp.pingpong) || !tp.ofo_empty()) {
    tcp.tcp_send_ack(tp);
  } else {
    tcp.tcp_send_delayed_ack(tp);
  }
}

// tcp_rcv_synsent_state_process (RFC 9293 §3.10.7.3).
void Tcp::tcp_rcv_synsent_state_process(TcpSock& tp, SkbPtr skb, const TcpOptions& opt) {
  auto th = *TcpHdr::parse(skb->bytes());
  if (th.flags & kTcpAck) {
    // In SYN_SENT snd_una is still the ISS: the ACK must cover the SYN and nothing beyond it.
    if (!after(th.ack_seq, tp.snd_una) || after(th.ack_seq, tp.snd_nxt)) {
      if (!(th.flags & kTcpRst)) tcp_v4_send_reset(*skb, th);
      kfree_skb(net(), std::move(skb), DropReason::TCP_FLAGS);
      return;
    }
    if (th.flags & kTcpRst) {
      tcp_reset(tp);
      consume_skb(std::move(skb));
      return;
    }
  } else if (th.flags & kTcpRst) {
    kfree_skb(net(), std::move(skb), DropReason::TCP_FLAGS);
    return;
  }
  if (!(th.flags & kTcpSyn)) {
    kfree_skb(net(), std::move(skb), DropReason::TCP_FLAGS);
    return;
  }
  // The peer's options decide what both sides use (RFC 7323 §1.3: window scaling only if both sent it).
  tp.mss_clamp = opt.mss ? std::max<uint16_t>(*opt.mss, 48) : 536;
  tp.wscale_ok = opt.wscale.has_value() && sysctl_.tcp_window_scaling;
  if (tp.wscale_ok) {
    tp.snd_wscale = *opt.wscale;
  } else {
    tp.snd_wscale = tp.rcv_wscale = 0;
    tp.rcv_wnd = std::min<uint32_t>(tp.rcv_wnd, 65535);
  }
  tp.ts_ok = opt.ts && sysctl_.tcp_timestamps;
  if (tp.ts_ok) {
    tp.ts_recent = opt.tsval;
    tp.ts_recent_stamp.set(net().now());
  }
  tp.sack_ok = opt.sack_ok && sysctl_.tcp_sack;
  tp.rcv_nxt = tp.rcv_wup = th.seq + 1;
  tp.snd_wl1 = th.seq;
  tp.snd_wnd = th.window;  // never scaled in a SYN
  tp.max_window = tp.snd_wnd;
  tcp_sync_mss(tp, tp.sk_dst_cache ? tp.sk_dst_cache->mtu() : 576);
  tp.rcv_mss = std::min<uint32_t>(tp.advmss, tp.mss_cache);
  if (th.flags & kTcpAck) {
    // Our SYN is acknowledged: drop it from the write queue, sample the RTT if it was sent once.
    SkBuff* syn = tp.active().sk_write_queue.front();
    if (syn && !(tcp_skb_cb(*syn).sacked & kTcpcbEverRetrans) && tp.total_retrans == 0)
      tcp_rtt_estimator(tp, net().now() - TimePoint(Duration(tcp_skb_cb(*syn).when_ns)));
    tcp_write_queue_purge(tp);                  // the SYN
    tp.bytes_acked += th.ack_seq - tp.snd_una;  // the SYN, as tcp_snd_una_update counts it
    tp.snd_una = th.ack_seq;
    inet_csk_clear_xmit_timer(tp, TcpTimeout::kRetransmit);
    tcp_finish_connect(tp, th);
    tcp_send_ack(tp);
    consume_skb(std::move(skb));
    tcp_write_xmit(tp);
    return;
  }
  // A SYN without ACK: simultaneous open (RFC 9293 §3.5, figure 8). Answer with SYN-ACK.
  tcp_set_state(tp, TcpState::kSynRecv);
  if (SkBuff* syn = tp.active().sk_write_queue.front()) {
    tcp_skb_cb(*syn).tcp_flags |= kTcpAck;
    (void)tcp_transmit_skb(tp, *syn, true);
  }
  consume_skb(std::move(skb));
}

// tcp_rcv_state_process: every state but LISTEN and SYN_SENT follows RFC 9293 §3.10.7.4's steps.
void Tcp::tcp_rcv_state_process(TcpSock& tp, SkbPtr skb) {
  auto th = *TcpHdr::parse(skb->bytes());
  TcpOptions opt = TcpOptions::parse(skb->bytes().subspan(kTcpHeaderLen, th.header_len() - kTcpHeaderLen));
  tcp_rcv_state_process(tp, std::move(skb), th, opt);
}

void Tcp::tcp_rcv_state_process(TcpSock& tp, SkbPtr skb, const TcpHdr& th, const TcpOptions& opt) {
  // However the segment ends, a connection it left idle gives its active state back. A sock destroyed
  // on the way has none left, and its memory lasts until reap().
  struct DeactivateIfIdle {
    TcpSock& tp;
    ~DeactivateIfIdle() { tp.deactivate_if_idle(); }
  } deactivate_if_idle{tp};
  NetCore& n = net();
  ++tp.segs_in;
  TcpSkbCb& cb = tcp_skb_cb(*skb);
  size_t hlen = th.header_len();
  size_t payload = skb->len() - hlen;

  if (tp.sk_state == TcpState::kClose) {
    kfree_skb(n, std::move(skb), DropReason::TCP_CLOSE);
    return;
  }
  if (tp.sk_state == TcpState::kSynSent) {
    tcp_rcv_synsent_state_process(tp, std::move(skb), opt);
    return;
  }
  // PAWS (RFC 7323 §5.3): a timestamp older than the last one accepted marks an old duplicate. Linux
  // allows one tick (TCP_PAWS_WINDOW) and never rejects a reset; a SYN gets a challenge ACK.
  if (tp.ts_ok && opt.ts && !(th.flags & kTcpRst) && tp.ts_recent &&
      static_cast<int32_t>(tp.ts_recent - opt.tsval) > 1 && tp.ts_recent_stamp.since(n.now()) < kPawsWindow) {
    ++stats_.paws_drops;
    if (th.flags & kTcpSyn) {
      send_challenge_ack(*this, tp);
    } else if (!oow_rate_limited(*this, tp, cb)) {
      send_dupack(*this, tp, cb);
    }
    kfree_skb(n, std::move(skb), DropReason::TCP_PAWS);
    return;
  }
  // First: is the segment acceptable? If not, an ACK (RFC 9293 §3.10.7.4), a challenge ACK for a SYN,
  // nothing for a reset unless it sits on the peer's FIN.
  if (!tcp_sequence(tp, cb.seq, cb.end_seq)) {
    if (!(th.flags & kTcpRst)) {
      if (th.flags & kTcpSyn) {
        send_challenge_ack(*this, tp);
      } else if (!oow_rate_limited(*this, tp, cb)) {
        send_dupack(*this, tp, cb);
      }
    } else if (tcp_reset_check(tp, cb.seq)) {
      tcp_reset(tp);
    }
    kfree_skb(n, std::move(skb), DropReason::TCP_OLD_DATA);
    return;
  }
  // Second: RST (RFC 5961 §3.2): at rcv_nxt (or on the peer's FIN, or at the right edge of what we SACKed)
  // it resets; elsewhere in the window it gets a challenge ACK.
  if (th.flags & kTcpRst) {
    bool at_sack_edge = false;
    if (tp.sack_ok && !tp.ofo_empty()) {
      uint32_t max_sack = tcp_skb_cb(*tp.active().ofo->queue.front()).end_seq;
      for (SkBuff* o = tp.active().ofo->queue.front(); o; o = SkbQueue::next(o))
        if (after(tcp_skb_cb(*o).end_seq, max_sack)) max_sack = tcp_skb_cb(*o).end_seq;
      at_sack_edge = cb.seq == max_sack;
    }
    if (cb.seq == tp.rcv_nxt || tcp_reset_check(tp, cb.seq) || at_sack_edge) {
      tcp_reset(tp);
    } else {
      send_challenge_ack(*this, tp);
    }
    consume_skb(std::move(skb));
    return;
  }
  // Fourth: a SYN in a synchronized state is answered with a challenge ACK (RFC 5961 §4.2).
  // (Linux lets through the peer's SYN-ACK that completes a simultaneous open.)
  bool simultaneous_synack = tp.sk_state == TcpState::kSynRecv && (th.flags & kTcpAck) &&
                             cb.seq + 1 == cb.end_seq && cb.seq + 1 == tp.rcv_nxt && th.ack_seq == tp.snd_nxt;
  if ((th.flags & kTcpSyn) && !simultaneous_synack) {
    send_challenge_ack(*this, tp);
    kfree_skb(n, std::move(skb), DropReason::TCP_RFC5961);
    return;
  }
  // Fifth: no ACK, no processing.
  if (!(th.flags & kTcpAck)) {
    kfree_skb(n, std::move(skb), DropReason::TCP_FLAGS);
    return;
  }
  if (tp.sk_state == TcpState::kSynRecv) {
    // Simultaneous open completes when our SYN is acknowledged.
    if (th.ack_seq != tp.snd_nxt) {
      tcp_v4_send_reset(*skb, th);
      kfree_skb(n, std::move(skb), DropReason::TCP_FLAGS);
      return;
    }
    tcp_write_queue_purge(tp);  // the SYN
    tp.snd_una = th.ack_seq;
    tp.snd_wnd = uint32_t{th.window} << tp.snd_wscale;
    tp.snd_wl1 = cb.seq;
    tp.max_window = std::max(tp.max_window, tp.snd_wnd);
    inet_csk_clear_xmit_timer(tp, TcpTimeout::kRetransmit);
    tcp_finish_connect(tp, th);
  }
  int acked = tcp_ack(*this, tp, *skb, th, opt, payload);
  if (acked < 0) {
    kfree_skb(n, std::move(skb), DropReason::TCP_OLD_DATA);
    return;
  }
  // RFC 7323 §4.3: remember the timestamp of a segment that covers the last ACK we sent, if it is not
  // older than the one we have (tcp_replace_ts_recent) and only once its ACK proved valid (Linux's
  // FLAG_UPDATE_TS_RECENT in tcp_ack: an old ACK, or one for data never sent, changes nothing).
  if (acked > 0 && tp.ts_ok && opt.ts && !after(cb.seq, tp.rcv_wup) &&
      (static_cast<int32_t>(tp.ts_recent - opt.tsval) <= 0 || tp.ts_recent == 0)) {
    tp.ts_recent = opt.tsval;
    tp.ts_recent_stamp.set(n.now());
  }
  // Our FIN acknowledged?
  bool fin_acked =
      tp.snd_una == tp.write_seq && tp.active().send_head == nullptr && tp.active().packets_out == 0;
  switch (tp.sk_state) {
    case TcpState::kFinWait1:
      if (fin_acked) {
        tcp_set_state(tp, TcpState::kFinWait2);
        tp.sk_shutdown |= kSendShutdown;
        tp.state_change();
        if (tp.dead) {
          // An orphan has nobody to read the rest: wait tcp_fin_timeout for the peer's FIN in a minisock.
          if (payload == 0 && !(th.flags & kTcpFin)) {
            tcp_time_wait(tp, TcpState::kFinWait2, tcp_fin_time(tp));
            consume_skb(std::move(skb));
            return;
          }
          // A FIN (or data) came with the ACK: stay a full sock so as not to lose it, but under the
          // FIN_WAIT2 timer all the same (Linux's inet_csk_reset_keepalive_timer(sk, tmo)); a FIN out of
          // order would otherwise keep the orphan for ever.
          inet_csk_reset_keepalive_timer(tp, tcp_fin_time(tp));
        }
      }
      break;
    case TcpState::kClosing:
      if (fin_acked) {
        tcp_time_wait(tp, TcpState::kTimeWait, sysctl_.tcp_timewait_len);
        consume_skb(std::move(skb));
        return;
      }
      break;
    case TcpState::kLastAck:
      if (fin_acked) {
        tcp_done(tp);
        consume_skb(std::move(skb));
        return;
      }
      break;
    default:
      break;
  }
  // Seventh: the data.
  bool ack_now = false;
  switch (tp.sk_state) {
    case TcpState::kCloseWait:
    case TcpState::kClosing:
    case TcpState::kLastAck:
      // The peer's FIN came already: anything new after it is ignored.
      break;
    case TcpState::kFinWait1:
    case TcpState::kFinWait2:
      if ((tp.sk_shutdown & kRcvShutdown) && tp.dead && payload > 0 &&
          after(cb.seq + uint32_t(payload), tp.rcv_nxt)) {
        // Data for a socket that was closed: nobody will read it (RFC 2525 §2.17), abort.
        ++stats_.abort_on_data;
        tcp_send_active_reset(tp);
        tcp_reset(tp);
        consume_skb(std::move(skb));
        return;
      }
      [[fallthrough]];
    case TcpState::kEstablished:
      // inet_csk_schedule_ack before the data is queued: an ACK that tcp_fin sends clears it again.
      if (payload > 0 || (th.flags & kTcpFin)) tp.ack_pending = true;
      ack_now = tcp_data_queue(*this, tp, std::move(skb), hlen);
      break;
    default:
      break;
  }
  if (skb) consume_skb(std::move(skb));
  if (tp.sk_state == TcpState::kClose) return;
  // What is lost goes out before new data (RFC 6675 §5 NextSeg rule 1; Linux's tcp_xmit_recovery).
  if (tp.ca_state == CaState::kLoss || tp.active().lost_out > tp.active().retrans_out)
    tcp_xmit_retransmit_queue(tp);
  tcp_write_xmit(tp);
  tcp_ack_snd_check(*this, tp, ack_now);
}

}  // namespace ustack
