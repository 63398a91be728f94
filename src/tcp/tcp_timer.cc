// TCP timers (Linux net/ipv4/tcp_timer.c): retransmission (RFC 6298 §5), zero-window probes (RFC 9293
// §3.8.6.1), delayed ACKs and keepalive (RFC 1122 §4.2.3.6).
#include <algorithm>
#include <optional>
#include <utility>

#include "tcp/tcp.h"

namespace ustack {

namespace {

// The clock in whole milliseconds, wrapping at 2^32 like the deadlines kept from it.
uint32_t clock_ms(TimePoint t) {
  return static_cast<uint32_t>(std::chrono::floor<std::chrono::milliseconds>(t.time_since_epoch()).count());
}

bool ms_before(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) < 0; }

// The time of a deadline kept in wrapping milliseconds, within 2^31 ms of now.
TimePoint ms_time(TimePoint now, uint32_t ms) {
  int32_t ahead = static_cast<int32_t>(ms - clock_ms(now));
  return std::chrono::floor<std::chrono::milliseconds>(now) + std::chrono::milliseconds(ahead);
}

}  // namespace

void Tcp::tcp_clear_xmit_timers(TcpSock& tp) {
  tp.timeouts_armed = 0;
  tp.tlp_armed = tp.reo_armed = false;
  tcp_timer_entry_clear(tp);
}

void Tcp::tcp_timer_entry_clear(TcpSock& tp) { timer_heap_.erase(tp); }

// The stack's timer is moved only when an entry comes due before it. When entries leave or move on, it
// is left as it is: it then fires early, finds nothing due, and goes to the new earliest. A request and
// its answer, which arm the RTO and clear it every round, thus touch the stack's timer queue once per
// RTO, not twice per round.
void Tcp::tcp_timer_entry_set(TcpSock& tp, uint32_t ms) {
  tp.timer_entry_ms = ms;
  timer_heap_.update(tp);
  if (!timer_heap_timer_.pending() || ms_before(ms, timer_heap_timer_ms_)) tcp_timer_heap_arm(ms);
}

void Tcp::tcp_timer_heap_arm(uint32_t ms) {
  timer_heap_timer_ms_ = ms;
  net().timers.mod_timer(timer_heap_timer_, ms_time(net().now(), ms));
}

// Every connection whose entry is due, earliest first. An entry that a handler puts at this millisecond
// or before runs in this pass too, as the stack's timer queue runs a timer re-armed for a time passed.
void Tcp::tcp_timer_heap_run() {
  const uint32_t now = clock_ms(net().now());
  while (TcpSock* tp = timer_heap_.top()) {
    if (ms_before(now, tp->timer_entry_ms)) break;
    timer_heap_.erase(*tp);
    tcp_timer_handler(*tp);
  }
  if (const TcpSock* first = timer_heap_.top(); first && !timer_heap_timer_.pending())
    tcp_timer_heap_arm(first->timer_entry_ms);
}

// The deadline is rounded up to a whole millisecond so that, when the entry comes due for it, the
// clock's millisecond has reached it. The entry moves only if the new deadline comes before it; a later
// one is found when the entry comes due early (tcp_timer_handler).
void Tcp::inet_csk_reset_xmit_timer(TcpSock& tp, TcpTimeout what, Duration when) {
  // The RTO by default; tcp_schedule_loss_probe and the RACK reordering timer mark theirs after.
  if (what == TcpTimeout::kRetransmit) tp.tlp_armed = tp.reo_armed = false;
  // Rounded up to the millisecond with one division: this runs on most segments sent and ACKs taken.
  const int64_t ms64 = ((net().now() + when).time_since_epoch().count() + 999'999) / 1'000'000;
  const auto ms = static_cast<uint32_t>(ms64);
  tp.timeout_ms(what) = ms;
  tp.timeouts_armed |= static_cast<uint8_t>(1u << unsigned(what));
  if (!timer_heap_.contains(tp) || ms_before(ms, tp.timer_entry_ms)) tcp_timer_entry_set(tp, ms);
}

void Tcp::inet_csk_clear_xmit_timer(TcpSock& tp, TcpTimeout what) {
  if (what == TcpTimeout::kRetransmit) tp.tlp_armed = tp.reo_armed = false;
  tp.timeouts_armed &= static_cast<uint8_t>(~(1u << unsigned(what)));
  if (tp.timeouts_armed == 0) tcp_timer_entry_clear(tp);
}

TimePoint Tcp::inet_csk_timeout(const TcpSock& tp, TcpTimeout what) const {
  return ms_time(net().now(), tp.timeout_ms(what));
}

// The connection's entry came due: run the first timeout that is due. The entry is put back for the
// others first, as the handler may free the sock; one more due at this millisecond runs next in the same
// pass (tcp_timer_heap_run).
void Tcp::tcp_timer_handler(TcpSock& tp) {
  const uint32_t now = clock_ms(net().now());
  std::optional<TcpTimeout> due;
  std::optional<uint32_t> next;
  for (size_t i = 0; i < kTcpTimeouts; ++i) {
    if (!(tp.timeouts_armed & (1u << i))) continue;
    const uint32_t at = std::as_const(tp).timeout_ms(TcpTimeout(i));
    if (!due && !ms_before(now, at)) {
      due = TcpTimeout(i);
      tp.timeouts_armed &= static_cast<uint8_t>(~(1u << i));
      continue;
    }
    if (!next || ms_before(at, *next)) next = at;
  }
  if (next) tcp_timer_entry_set(tp, *next);
  if (!due) return;
  switch (*due) {
    case TcpTimeout::kRetransmit:
      // tcp_write_timer: RACK's reordering timer, a loss probe's timeout; or, with nothing in flight
      // but data waiting, the window is closed: probe it; else the RTO.
      if (tp.reo_armed) {
        tcp_rack_reo_timeout(tp);
      } else if (tp.tlp_armed) {
        tcp_send_loss_probe(tp);
      } else if (tp.active().packets_out == 0 && tp.active().send_head) {
        tcp_probe_timer(tp);
      } else {
        tcp_retransmit_timer(tp);
      }
      break;
    case TcpTimeout::kDelack:
      tcp_delack_timer(tp);
      break;
    case TcpTimeout::kKeepalive:
      tcp_keepalive_timer(tp);
      break;
  }
  tp.deactivate_if_idle();  // a delayed ACK went out, say, and nothing else holds the block
}

// tcp_write_err: give up on the connection (too many retransmissions).
void Tcp::tcp_write_err(TcpSock& tp) {
  tp.sk_err = tp.sk_err_soft != Errc::kOk ? tp.sk_err_soft : Errc::kTimedOut;
  ++stats_.abort_on_timeout;
  if (net().trace.on())
    net().trace.emit("tcp_write_err", "err=%s", std::string(errc_name(tp.sk_err)).c_str());
  tp.error_report();
  tcp_done(tp);
}

// tcp_enter_loss: every segment in flight is presumed lost; start again from one segment (RFC 5681 §3.1).
void Tcp::tcp_enter_loss(TcpSock& tp) {
  TcpActive& a = tp.activate();
  a.undo_marker = 0;  // an RTO's reduction is not undone by D-SACKs (no F-RTO or loss undo here)
  if (tp.ca_state != CaState::kLoss || tp.retransmits == 0) {
    a.prior_cwnd = tp.snd_cwnd;
    tp.snd_ssthresh = tp.ca_ops().ssthresh(tp);
  }
  tp.snd_cwnd = 1;
  tp.snd_cwnd_cnt = 0;
  a.lost_out = 0;
  a.retrans_out = 0;
  // What the peer SACKed stays SACKed (it need not be sent again) unless the peer reneged: a SACKed
  // segment at snd_una when the timer fires means it dropped what it had SACKed
  // (tcp_check_sack_reneging), and every mark is forgotten.
  SkBuff* head = a.sk_write_queue.front();
  bool reneged = head && head != a.send_head && (tcp_skb_cb(*head).sacked & kTcpcbSackedAcked);
  if (!tp.sack_ok || reneged) a.sacked_out = 0;
  for (SkBuff* s = head; s && s != a.send_head; s = SkbQueue::next(s)) {
    TcpSkbCb& c = tcp_skb_cb(*s);
    if ((c.sacked & kTcpcbSackedAcked) && !reneged) {
      c.sacked &= static_cast<uint8_t>(kTcpcbEverRetrans | kTcpcbSackedAcked);
      continue;
    }
    c.sacked = static_cast<uint8_t>((c.sacked & kTcpcbEverRetrans) | kTcpcbLost);
    a.lost_out += tcp_skb_pcount(*s);
  }
  a.high_seq = tp.snd_nxt;
  a.tlp_high_seq = 0;
  tp.ca_state = CaState::kLoss;
  tp.ca_ops().set_state(tp, CaState::kLoss);
}

// retransmits_timed_out with tcp_model_timeout: has the time since the first transmission of what is
// being resent reached what `boundary` backed-off timeouts from TCP_RTO_MIN would take (924.6 s for
// tcp_retries2 = 15)? Linux budgets time, not retransmissions: a larger RTO gets fewer of them.
static bool retransmits_timed_out(const TcpSock& tp, unsigned boundary, const TcpSysctl& sc, TimePoint now) {
  if (tp.retransmits == 0 || !tp.active().retrans_stamp.is_set()) return false;
  const Duration rto_base = sc.rto_min;
  unsigned linear_backoff_thresh = 0;  // ilog2(TCP_RTO_MAX / rto_base)
  while ((int64_t{2} << linear_backoff_thresh) <= sc.rto_max / rto_base) ++linear_backoff_thresh;
  Duration timeout = boundary <= linear_backoff_thresh
                         ? ((int64_t{2} << boundary) - 1) * rto_base
                         : ((int64_t{2} << linear_backoff_thresh) - 1) * rto_base +
                               int64_t(boundary - linear_backoff_thresh) * sc.rto_max;
  return tp.active().retrans_stamp.since(now) >= timeout;
}

// tcp_retransmit_timer: the RTO expired. Back off (RFC 6298 §5.5), resend the head, give up
// (tcp_write_timeout) after tcp_syn_retries timeouts for a SYN, or once the time budget of tcp_retries2
// (tcp_orphan_retries for orphans) is spent.
void Tcp::tcp_retransmit_timer(TcpSock& tp) {
  if (tp.active().packets_out == 0 || tp.sk_state == TcpState::kClose) return;
  ++stats_.timeouts;
  uint8_t limit;
  if (tp.sk_state == TcpState::kSynSent || tp.sk_state == TcpState::kSynRecv) {
    limit = tp.syn_retries ? tp.syn_retries : sysctl_.tcp_syn_retries;
  } else {
    limit = tp.dead ? sysctl_.tcp_orphan_retries : sysctl_.tcp_retries2;
  }
  bool syn = tp.sk_state == TcpState::kSynSent || tp.sk_state == TcpState::kSynRecv;
  if (syn ? tp.retransmits >= limit : retransmits_timed_out(tp, limit, sysctl_, net().now())) {
    tcp_write_err(tp);
    return;
  }
  if (tp.sk_state != TcpState::kSynSent && tp.sk_state != TcpState::kSynRecv) tcp_enter_loss(tp);
  SkBuff* head = tp.active().sk_write_queue.front();
  if (head) {
    if (net().trace.on()) {
      net().trace.emit("tcp_retransmit_timer", "RTO %.0f ms expired: retransmit seq=%u (try %u)",
                       to_ms(tp.rto), tcp_skb_cb(*head).seq, tp.retransmits + 1);
    }
    tcp_skb_cb(*head).sacked &= static_cast<uint8_t>(~kTcpcbRetrans);
    (void)tcp_retransmit_skb(tp, *head);  // on failure (no buffer below us) the next timeout retries
  }
  ++tp.backoff;
  ++tp.retransmits;
  tp.rto = std::min(tp.rto.get() * 2, sysctl_.rto_max);
  inet_csk_reset_xmit_timer(tp, TcpTimeout::kRetransmit, tp.rto);
}

// tcp_probe_timer: the peer's window is closed and nothing is in flight: probe it, backing off.
void Tcp::tcp_probe_timer(TcpSock& tp) {
  if (tp.active().packets_out || !tp.active().send_head) {
    tp.probes_out = 0;
    return;
  }
  uint8_t limit = tp.dead ? sysctl_.tcp_orphan_retries : sysctl_.tcp_retries2;
  if (tp.probes_out >= limit) {
    tcp_write_err(tp);
    return;
  }
  tcp_send_probe0(tp);
  ++tp.probes_out;
  if (tp.active().packets_out == 0) {
    ++tp.backoff;
    Duration when = std::min(tp.rto.get() * (1 << std::min<int>(tp.backoff, 16)), sysctl_.rto_max);
    inet_csk_reset_xmit_timer(tp, TcpTimeout::kRetransmit, when);
  }
}

void Tcp::tcp_delack_timer(TcpSock& tp) {
  if (!tp.ack_pending || tp.sk_state == TcpState::kClose) return;
  // The timer firing means the application is not answering quickly. Linux grows ato (up to the RTO);
  // in pingpong mode the answer did not come, so the mode ends and ato starts again from the minimum.
  if (tp.pingpong) {
    tp.pingpong = false;
    tp.ato = sysctl_.delack_min;
  } else {
    tp.ato = std::min(tp.ato.get() * 2, tp.rto.get());
  }
  tcp_send_ack(tp);
}

Duration Tcp::keepalive_time_when(const TcpSock& tp) const {
  uint16_t s = tp.sk_extra ? tp.sk_extra->timeo.keepidle_s : 0;
  return s ? Duration(std::chrono::seconds(s)) : sysctl_.tcp_keepalive_time;
}

Duration Tcp::keepalive_intvl_when(const TcpSock& tp) const {
  uint16_t s = tp.sk_extra ? tp.sk_extra->timeo.keepintvl_s : 0;
  return s ? Duration(std::chrono::seconds(s)) : sysctl_.tcp_keepalive_intvl;
}

void Tcp::inet_csk_reset_keepalive_timer(TcpSock& tp, Duration when) {
  inet_csk_reset_xmit_timer(tp, TcpTimeout::kKeepalive, when);
}

// tcp_keepalive_timer: after keepalive_time of silence, probe every keepalive_intvl; after
// keepalive_probes unanswered, the connection is dead (ETIMEDOUT).
void Tcp::tcp_keepalive_timer(TcpSock& tp) {
  if (tp.sk_state == TcpState::kFinWait2 && tp.dead) {
    // An orphan's FIN_WAIT2 timeout (tcp_fin_timeout): what is left of it beyond TIME_WAIT's length goes
    // to a minisock; with none left, reset and forget.
    Duration tmo = tcp_fin_time(tp) - sysctl_.tcp_timewait_len;
    if (tmo.count() > 0) {
      tcp_time_wait(tp, TcpState::kFinWait2, tmo);
    } else {
      tcp_send_active_reset(tp);
      tcp_done(tp);
    }
    return;
  }
  if (!tp.sk_keepopen || (tp.sk_state != TcpState::kEstablished && tp.sk_state != TcpState::kCloseWait &&
                          tp.sk_state != TcpState::kFinWait2))
    return;
  Duration idle_limit = keepalive_time_when(tp);
  Duration intvl = keepalive_intvl_when(tp);
  uint8_t probes = tp.keepalive_probes ? tp.keepalive_probes : sysctl_.tcp_keepalive_probes;
  if (tp.active().packets_out || tp.active().send_head) {
    inet_csk_reset_keepalive_timer(tp, idle_limit);
    return;
  }
  Duration elapsed = std::min(tp.rcv_tstamp.since(net().now()), tp.lrcvtime.since(net().now()));
  if (elapsed >= idle_limit) {
    if (tp.probes_out >= probes) {
      ++stats_.keepalive_timeouts;
      tcp_send_active_reset(tp);
      tcp_write_err(tp);
      return;
    }
    if (tcp_write_wakeup(tp) == 0) ++tp.probes_out;
    inet_csk_reset_keepalive_timer(tp, intvl);
  } else {
    inet_csk_reset_keepalive_timer(tp, idle_limit - elapsed);
  }
}

}  // namespace ustack
