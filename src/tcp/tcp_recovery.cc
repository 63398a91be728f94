// RACK-TLP's loss detection (Linux net/ipv4/tcp_recovery.c; RFC 8985 §6): a segment is lost once a
// segment sent after it was delivered and an RTT and a reordering window have passed, with the reordering
// timer for the segments whose time has not yet come. The tail loss probe is in tcp_output.cc, the
// scoreboard and the recovery it starts in tcp_input.cc.
#include "tcp/tcp.h"

namespace ustack {

namespace {
uint32_t xmit_us(const TcpSkbCb& c) { return static_cast<uint32_t>(c.when_ns / 1000); }
// tcp_rack_sent_after: was (t1, seq1) sent after (t2, seq2)? Segments sent at the same time go by
// sequence.
bool rack_sent_after(uint32_t t1, uint32_t t2, uint32_t seq1, uint32_t seq2) {
  int32_t d = static_cast<int32_t>(t1 - t2);
  return d > 0 || (d == 0 && after(seq1, seq2));
}
uint32_t now_us(const NetCore& net) {
  return static_cast<uint32_t>(net.now().time_since_epoch() / std::chrono::microseconds(1));
}
}  // namespace

// tcp_rack_advance: a segment was delivered (acknowledged or SACKed); remember the latest send time
// among delivered segments. A retransmitted one counts only if its ACK came at least half an RTT after
// the retransmission: sooner, it may acknowledge the original (Linux compares with the minimum RTT).
void Tcp::tcp_rack_advance(TcpSock& tp, const TcpSkbCb& c) {
  TcpActive& a = tp.activate();
  uint32_t x = xmit_us(c);
  if ((c.sacked & kTcpcbEverRetrans) && int64_t{static_cast<int32_t>(now_us(net()) - x)} < tp.srtt.us() / 2)
    return;
  if (!a.rack_valid || rack_sent_after(x, a.rack_xmit_us, c.end_seq, a.rack_end_seq)) {
    a.rack_xmit_us = x;
    a.rack_end_seq = c.end_seq;
    a.rack_rtt_us = now_us(net()) - x;
  }
  a.rack_valid = true;
}

// tcp_rack_detect_loss (RFC 8985 §6.2): a segment sent before one that was delivered is lost once
// rack.rtt (the RTT of that delivered one) and the reordering window have passed since it was sent. The
// window is a quarter of the smoothed RTT; until the path was seen to reorder (reord_seen), none in
// recovery or once `reordering` segments are SACKed (Linux's rule, without its widening on D-SACKs).
// Segments sent again are left to tcp_mark_lost_retrans and the RTO. With `mark`, marks the lost; returns how
// long until the next one would be due (0: none waits).
Duration Tcp::tcp_rack_detect_loss(TcpSock& tp, bool mark) {
  if (!tp.active().rack_valid) return Duration(0);
  TcpActive& a = tp.activate();
  const bool no_reo = !tp.reord_seen && (tp.ca_state == CaState::kRecovery || tp.ca_state == CaState::kLoss ||
                                         a.sacked_out >= tp.reordering);
  // Linux bounds the window by the minimum RTT's quarter and srtt; the smoothed RTT's quarter here.
  const int64_t wait_us = int64_t{a.rack_rtt_us} + (no_reo ? 0 : tp.srtt.us() / 4);
  const uint32_t now = now_us(net());
  for (SkBuff* skb = a.sk_write_queue.front(); skb && skb != a.send_head; skb = SkbQueue::next(skb)) {
    TcpSkbCb& c = tcp_skb_cb(*skb);
    if (c.sacked & (kTcpcbSackedAcked | kTcpcbLost | kTcpcbRetrans | kTcpcbEverRetrans)) continue;
    // Never-resent segments went out in sequence order: the first one not sent before the latest
    // delivered one ends the search.
    if (!rack_sent_after(a.rack_xmit_us, xmit_us(c), a.rack_end_seq, c.end_seq)) break;
    int64_t left = wait_us - int64_t{static_cast<int32_t>(now - xmit_us(c))};
    if (left > 0) return std::chrono::microseconds(left);
    if (!mark) continue;
    c.sacked |= kTcpcbLost;
    a.lost_out += tcp_skb_pcount(*skb);
  }
  return Duration(0);
}

bool Tcp::tcp_rack_arm_reo(TcpSock& tp) {
  if (!tp.sack_ok || tp.active().sacked_out == 0 || !sysctl_.tcp_rack_tlp) return false;
  Duration reo = tcp_rack_detect_loss(tp, false);
  if (reo.count() <= 0) return false;
  inet_csk_reset_xmit_timer(tp, TcpTimeout::kRetransmit, reo);
  tp.reo_armed = true;
  return true;
}

// tcp_rack_reo_timeout: the reordering window of a segment passed: mark what is lost now, start
// recovery if that is news, and send.
void Tcp::tcp_rack_reo_timeout(TcpSock& tp) {
  uint32_t prior_lost = tp.active().lost_out;
  (void)tcp_rack_detect_loss(tp, true);
  if (tp.active().lost_out > prior_lost) {
    if (tp.ca_state == CaState::kOpen || tp.ca_state == CaState::kDisorder) {
      tcp_enter_recovery(tp);
      if (sysctl_.tcp_prr) tcp_cwnd_reduction(tp, 1, false, false);  // as Linux's reordering timeout
    }
    tcp_xmit_retransmit_queue(tp);
  }
  if (tp.active().packets_out == 0 || tcp_rack_arm_reo(tp)) return;
  if (!tp.timer_pending(TcpTimeout::kRetransmit)) {
    tp.reo_armed = true;  // the RTO counts from the oldest transmission, not from now
    tcp_rearm_rto(tp);
  }
}

}  // namespace ustack
