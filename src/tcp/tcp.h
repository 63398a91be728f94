// TCP (RFC 9293; Linux net/ipv4/tcp*.c). TcpSock is struct tcp_sock with inet_connection_sock folded in;
// Tcp is one stack's TCP: the protocol operations (tcp_prot), the hash tables (inet_hashinfo: bound
// ports, listeners, established connections, TIME_WAIT), the SYN queues and the settings.
//
// The code follows the kernel's files:
//   tcp_ipv4.cc     tcp_v4_connect, inet_hash_connect, tcp_v4_rcv, tcp_v4_send_reset, tcp_v4_init_sock
//   tcp_output.cc   tcp_connect, tcp_transmit_skb, tcp_write_xmit, tcp_send_ack, tcp_send_fin, ...
//   tcp_input.cc    tcp_rcv_state_process, tcp_rcv_synsent_state_process, tcp_ack, tcp_data_queue, ...
//   tcp_timer.cc    retransmit, delayed ACK, zero-window probe, keepalive and TIME_WAIT timers
//   tcp_minisocks.cc  request socks (SYN_RECV) and TIME_WAIT socks
//   tcp.cc          tcp_sendmsg, tcp_recvmsg, tcp_close, tcp_shutdown, socket options, TCP_INFO
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/intrusive.h"
#include "core/object_cache.h"
#include "core/siphash.h"
#include "core/slab.h"
#include "ipv4/ip.h"
#include "sock/sock.h"
#include "tcp/tcp_cong.h"
#include "wire/tcp.h"

namespace ustack {

class Tcp;
class TcpSock;

// A listener's queues (icsk_accept_queue, struct request_sock_queue): the established children waiting
// for accept(), and the count of its request socks. It lives in the listener's TcpListenState, made by
// listen(): a std::deque's chunk per listener costs less than a link in every connection, and it
// allocates once per 64 children, not per child.
class AcceptQueue {
 public:
  bool empty() const { return q_.empty(); }
  size_t size() const { return q_.size(); }
  TcpSock* front() const { return q_.front(); }
  void push_back(TcpSock* sk) { q_.push_back(sk); }
  void pop_front() { q_.pop_front(); }
  // The request socks (SYN_RECV) of this listener: reqsk_queue_len, _added, _removed.
  int reqsk_queue_len() const { return qlen_; }
  void reqsk_queue_added() { ++qlen_; }
  void reqsk_queue_removed() { --qlen_; }

 private:
  std::deque<TcpSock*> q_;  // bounded by the backlog
  int qlen_ = 0;
};

// Sequence arithmetic modulo 2^32 (RFC 9293 §3.4), as Linux's before() and after().
inline bool before(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) < 0; }
inline bool after(uint32_t a, uint32_t b) { return before(b, a); }
inline bool between(uint32_t seq, uint32_t lo, uint32_t hi) {
  return hi - lo >= seq - lo;
}  // lo <= seq <= hi

// net.ipv4.tcp_* settings. Defaults are Linux's except the buffer sizes: without receive-buffer
// autotuning, a larger fixed default serves bulk transfers better than Linux's initial 128 KiB / 16 KiB.
struct TcpSysctl {
  bool tcp_timestamps = true;
  bool tcp_sack = true;
  bool tcp_dsack = true;  // report duplicate segments in a first SACK block (RFC 2883)
  bool tcp_window_scaling = true;
  // Linux's tcp_fin puts a connection that receives the peer's FIN in pingpong mode, so that the ACK of
  // the FIN waits (delayed ACK) for the application's answer or close and rides on it. false: ACK a FIN
  // at once, as FreeBSD does (TF_ACKNOW).
  bool tcp_fin_pingpong = true;
  // RACK-TLP (RFC 8985; Linux's tcp_recovery RACK bit with tcp_early_retrans 3) for SACK connections:
  // a segment sent before one that was delivered is lost once an RTT and a reordering window have
  // passed, and when the last segments of a flight get no ACK within about two RTTs a tail loss probe
  // goes out, so that a loss at the tail is repaired by recovery instead of waiting for the RTO.
  // false: RFC 6675's three SACKed segments and the RTO only, as FreeBSD's default stack.
  bool tcp_rack_tlp = true;
  // Proportional Rate Reduction (RFC 6937, as Linux always and FreeBSD's net.inet.tcp.do_prr do): in fast
  // recovery cwnd comes down to ssthresh step by step, one segment sent for about every two the peer
  // reports delivered (ssthresh/prior_cwnd of them), and once the pipe is below ssthresh it grows back
  // to it as a slow start would. false: RFC 6675/6582, cwnd set to ssthresh at once on entering.
  bool tcp_prr = true;
  uint8_t tcp_syn_retries = 6;
  uint8_t tcp_synack_retries = 5;
  uint8_t tcp_retries2 = 15;
  uint8_t tcp_orphan_retries = 8;
  Duration tcp_fin_timeout = 60s;
  Duration tcp_keepalive_time = 7200s;
  Duration tcp_keepalive_intvl = 75s;
  uint8_t tcp_keepalive_probes = 9;
  int tcp_tw_reuse = 2;             // 0 never, 1 always when safe, 2 loopback only
  Duration tcp_timewait_len = 60s;  // TCP_TIMEWAIT_LEN: 2MSL
  size_t tcp_rmem_default = 1 << 20;
  size_t tcp_wmem_default = 1 << 20;
  size_t tcp_rmem_max = 6 << 20;
  size_t tcp_wmem_max = 4 << 20;
  Duration rto_init = 1s;      // TCP_TIMEOUT_INIT
  Duration rto_min = 200ms;    // TCP_RTO_MIN
  Duration rto_max = 120s;     // TCP_RTO_MAX
  Duration delack_min = 40ms;  // TCP_DELACK_MIN
  Duration delack_max = 200ms;
  Duration rto_fallback = 3s;              // TCP_TIMEOUT_FALLBACK: no RTT sample from the handshake
  Duration tcp_invalid_ratelimit = 500ms;  // out-of-window and challenge ACKs, one per this
  uint32_t init_cwnd = 10;                 // TCP_INIT_CWND (RFC 6928)
  uint32_t tcp_max_reordering = 300;       // the most `reordering` grows to, in segments
  uint16_t port_lo = 32768;                // ip_local_port_range
  uint16_t port_hi = 60999;
  int somaxconn = 4096;
  size_t max_orphans = 65536;
  std::string congestion_control = "reno";
};

// TCP_SKB_CB: what TCP keeps about a segment in the skb's control block.
struct TcpSkbCb {
  uint32_t seq;
  uint32_t end_seq;  // seq + SYN + FIN + payload
  // Received segments: the ACK field. Sent ones that were retransmitted: snd_nxt just after the
  // retransmission (a SACK for data above it means the retransmission was lost, tcp_mark_lost_retrans).
  uint32_t ack_seq;
  int64_t when_ns;  // last transmission, for RTT samples
  uint8_t tcp_flags;
  uint8_t sacked;  // kTcpcbLost, kTcpcbRetrans, kTcpcbEverRetrans, kTcpcbSackedAcked
  uint16_t tx_count;
  bool eor;  // the application ended a record here (MSG_EOR): nothing is appended to this skb
  // tcp_gso_segs and tcp_gso_size: an skb of several MSS goes out as one TSO packet and counts as this
  // many segments in packets_out, lost_out and retrans_out, fixed when it is sent.
  uint16_t pcount;
  uint16_t mss;
};
// The scoreboard (RFC 6675) per skb: kTcpcbSackedAcked, the peer holds it (a SACK block covered it);
// kTcpcbLost, presumed lost and due for retransmission; kTcpcbRetrans, a retransmission is in flight.
enum TcpcbSacked : uint8_t {
  kTcpcbLost = 1,
  kTcpcbRetrans = 2,
  kTcpcbEverRetrans = 4,
  kTcpcbSackedAcked = 8
};
inline TcpSkbCb& tcp_skb_cb(SkBuff& skb) { return skb.cb<TcpSkbCb>(); }
// tcp_skb_pcount: segments the skb stands for (control segments count one).
inline uint32_t tcp_skb_pcount(SkBuff& skb) { return std::max<uint32_t>(tcp_skb_cb(skb).pcount, 1); }
// tcp_set_skb_tso_segs: how many segments of `mss` the skb's payload makes.
inline void tcp_set_skb_tso_segs(SkBuff& skb, uint32_t mss) {
  TcpSkbCb& cb = tcp_skb_cb(skb);
  if (skb.len() <= mss) {
    cb.pcount = 1;
    cb.mss = 0;
  } else {
    cb.pcount = static_cast<uint16_t>((skb.len() + mss - 1) / mss);
    cb.mss = static_cast<uint16_t>(mss);
  }
}

// A connection's timeouts (Linux's ICSK_TIME_RETRANS and ICSK_TIME_PROBE0 share kRetransmit, as they
// share icsk_retransmit_timer; kDelack is ICSK_TIME_DACK; kKeepalive is sk_timer's keepalive or an
// orphan's FIN_WAIT2 timeout). When two are due at once they run in this order.
enum class TcpTimeout : uint8_t { kRetransmit, kDelack, kKeepalive };  // kKeepalive last: see TcpActive
inline constexpr size_t kTcpTimeouts = 3;

// A TCP_INFO-like snapshot (struct tcp_info's fields of the same names).
struct TcpInfo {
  TcpState state;
  CaState ca_state;
  uint8_t retransmits;
  uint8_t backoff;
  uint8_t snd_wscale, rcv_wscale;
  bool ts, sack, wscale;
  uint32_t rto_us, ato_us, snd_mss, rcv_mss;
  uint32_t unacked, sacked, lost, retrans, total_retrans;
  uint32_t rtt_us, rttvar_us;
  uint32_t snd_ssthresh, snd_cwnd, advmss, reordering;
  uint32_t rcv_space, snd_wnd, rcv_wnd;
  uint64_t bytes_acked, bytes_received, bytes_sent, bytes_retrans;
  uint32_t segs_out, segs_in, data_segs_out, data_segs_in;
  uint32_t snd_una, snd_nxt, rcv_nxt;  // raw sequence numbers, for tests and traces
};

// The out-of-order side of a connection's receive path: the segments above a hole (Linux's
// out_of_order_queue) and the SACK (selective_acks[]) and D-SACK (duplicate_sack[]) blocks it reports.
// A connection whose data arrives in order never has any, so a TcpSock holds this only while it is in
// use: made on the first out-of-order or duplicate segment, freed when the queue is empty and no D-SACK
// is left to send. Its size is bounded (the queue by the receive buffer), so a hostile peer can at most
// make it come and go.
struct TcpOfo {
  SkbQueue queue;
  // Starts of the latest out-of-order segments, newest first: their SACK blocks go out in this order
  // (RFC 2018 §4; Linux keeps selective_acks[] so, tcp_sack_new_ofo_skb). Entries of segments already
  // delivered match no block and are harmless.
  std::array<uint32_t, 4> sack_recent{};
  uint8_t sack_recent_n = 0;
  bool dsack = false;  // a duplicate segment to report once in a D-SACK block (RFC 2883; rx_opt.dsack)
  uint32_t dsack_start = 0, dsack_end = 0;
};

// What only a listener has (inet_connection_sock's icsk_accept_queue and sk_max_ack_backlog): made by
// listen() in the listener's TcpActive and freed when the listener stops, so that connections do not
// carry it.
struct TcpListenState {
  int max_ack_backlog = 0;
  AcceptQueue accept_queue;
};

// What a connection holds only while it is active: data queued in either direction, data in flight, a
// loss recovery or a tail loss probe under way, an ACK waiting to go out; and what a listener holds
// while it listens. The queues, the scoreboard of the segments in flight
// (RFC 6675), loss recovery's marks and RACK-TLP's state (RFC 8985) mean nothing to an idle connection,
// and most connections of a busy server are idle: a TcpSock makes this on its first segment queued and
// gives it back when it is idle again (TcpSock::deactivate_if_idle), so that an idle connection does
// not carry its 168 bytes.
// The blocks come from and go back to a per-protocol cache, so that a request/response exchange, which
// makes one and gives it back every round, does not call malloc.
//
// An idle connection reads the defaults (TcpSock::kIdle). A block made later starts with its sequence
// marks at snd_una, which reads as a stale mark would: at or before snd_una.
struct TcpActive {
  SkBuff* send_head = nullptr;  // first skb in sk_write_queue not yet sent
  SkbQueue sk_write_queue;      // sent-unacked then unsent, in sequence order
  SkbQueue sk_receive_queue;    // in-order data for the application
  // The out-of-order queue and its SACK and D-SACK blocks, only while there are some (see TcpOfo).
  std::unique_ptr<TcpOfo> ofo;
  uint32_t packets_out = 0;  // skbs sent and not acked
  uint32_t retrans_out = 0;
  uint32_t lost_out = 0;
  // Segments the peer SACKed (RFC 6675's scoreboard); without SACK, the duplicate ACKs that stand in for
  // them (NewReno).
  uint32_t sacked_out = 0;
  uint32_t high_seq = 0;      // snd_nxt when loss recovery began (RFC 6582 "recover")
  uint32_t tlp_high_seq = 0;  // snd_nxt when a tail loss probe went out; 0: none outstanding
  uint32_t prior_cwnd = 0;    // cwnd when the last reduction began (PRR's RecoverFS)
  // PRR (RFC 6937): segments the peer reported delivered, and segments we sent, since recovery began.
  uint32_t prr_delivered = 0;
  uint32_t prr_out = 0;
  // Undo (Linux's undo_marker, undo_retrans, prior_ssthresh): snd_una when the recovery began (0:
  // nothing to undo), the retransmissions since that the peer has not reported as duplicates (D-SACK,
  // RFC 2883; -1: none yet), and ssthresh before it. When every retransmission turns out to have been
  // needless, the reduction was for reordering, not loss, and is undone.
  uint32_t undo_marker = 0;
  int32_t undo_retrans = 0;
  uint32_t prior_ssthresh = 0;
  uint32_t dsack_dups = 0;  // segments reported as duplicates, against total_retrans (tcp_dsack_seen)
  // RACK (RFC 8985 §6): the send time, in wrapping microseconds, and end of the most recently sent
  // segment known delivered (rack.mstamp, rack.end_seq; the sequence breaks ties between segments sent
  // at once), and its RTT; valid once rack_valid.
  uint32_t rack_xmit_us = 0;
  uint32_t rack_end_seq = 0;
  uint32_t rack_rtt_us = 0;  // the RTT that segment took (rack.rtt_us)
  // tcp_cwnd_validate's record of how much of cwnd the current window used: limited by cwnd, or the most
  // packets out, until snd_una passes cwnd_usage_seq.
  uint32_t max_packets_out = 0;
  uint32_t cwnd_usage_seq = 0;
  uint32_t snd_sml = 0;   // end of the last small segment sent (Minshall's Nagle)
  MsStamp retrans_stamp;  // first transmission of what is being retransmitted
  bool is_cwnd_limited = false;
  bool rack_valid = false;
  // The deadlines of the retransmit and delayed-ACK timeouts (see TcpSock::timeout_ms): armed only
  // while something is in flight or waits to be acknowledged, so only while the connection is active.
  std::array<uint32_t, 2> xmit_timeout_ms{};
  // A listener's accept queue and backlog: a listener is always active, as it has no data to send
  // or receive, and its block holds this instead.
  std::unique_ptr<TcpListenState> listen;
};

class TcpSock : public Sock {
 public:
  explicit TcpSock(Tcp& tcp);
  ~TcpSock();

  inline Tcp& tcp() const;  // the protocol, sk_prot
  TcpInfo tcp_get_info() const;
  // Sock's rcvbuf() and sndbuf() without the virtual call, for the per-segment paths.
  inline uint32_t rcvbuf() const;
  inline uint32_t sndbuf() const;

  // The groups below keep their small fields together so that they share words (checked by the
  // static_assert after the class): every connection carries a TcpSock. These two bytes come first,
  // where they fill the Sock's last word: the options the handshake agreed on (tcp_options_received's
  // tstamp_ok, sack_ok, wscale_ok) and the congestion-control state.
  bool ts_ok : 1 = false;
  bool sack_ok : 1 = false;
  bool wscale_ok : 1 = false;
  CaState ca_state = CaState::kOpen;

  // --- sequence space (RFC 9293 §3.3.1) ---
  uint32_t snd_una = 0;    // first unacknowledged
  uint32_t snd_nxt = 0;    // next to send
  uint32_t write_seq = 0;  // tail of data queued by the application
  uint32_t snd_wl1 = 0;    // segment seq of the last window update
  uint32_t snd_wnd = 0;    // peer's window, unscaled (bytes)
  uint32_t max_window = 0;
  uint32_t rcv_nxt = 0;
  uint32_t rcv_wup = 0;  // rcv_nxt when the window was last advertised
  uint32_t rcv_wnd = 0;  // window last advertised (bytes)
  // No copied_seq: the receive queue holds only data not yet read, so the head of it is its first skb.

  // --- options (struct tcp_options_received) ---
  SecStamp ts_recent_stamp;  // when ts_recent was taken, in seconds (PAWS ages, RFC 7323 §5.5)
  uint32_t ts_recent = 0;
  uint32_t ts_offset = 0;    // per-connection timestamp offset (RFC 7323 §5.4)
  uint16_t mss_cache = 536;  // current effective send MSS
  uint16_t rcv_mss = 536;    // estimate of the peer's segment size
  uint16_t mss_clamp = 536;  // peer's MSS option, or TCP_MAXSEG
  uint16_t user_mss = 0;
  uint16_t advmss = 1460;  // what we announce
  uint8_t snd_wscale = 0, rcv_wscale = 0;

  // --- congestion control (segments; ca_state is at the top) ---
  uint32_t snd_cwnd = 10;
  uint32_t snd_cwnd_cnt = 0;
  uint32_t snd_ssthresh = 0x7fffffff;  // TCP_INFINITE_SSTHRESH

  // --- RTT and retransmission (RFC 6298), with the byte-sized state of the timers and tables ---
  uint16_t reordering = 3;  // dupthresh, in segments (at most tcp_max_reordering)
  uint8_t backoff = 0;
  uint8_t retransmits = 0;
  uint8_t probes_out = 0;      // zero-window or keepalive probes without answer
  uint8_t timeouts_armed = 0;  // one bit per TcpTimeout
  bool timer_pending(TcpTimeout what) const { return timeouts_armed & (1u << unsigned(what)); }

  // Where the sock is in the protocol's tables (the links themselves are below), and the modes of
  // its retransmit timeout.
  // One bit each.
  bool hashed : 1 = false;       // in the established table
  bool bound : 1 = false;        // in the bind table
  bool port_locked : 1 = false;  // bound by bind(): the port stays ours until close (SOCK_BINDPORT_LOCK)
  bool dead : 1 = false;         // orphaned and closed: to be freed
  // The retransmit timeout is a tail loss probe's (Linux's icsk_pending == ICSK_TIME_LOSS_PROBE), and
  // whether the outstanding probe was a retransmission (tlp_retrans).
  bool tlp_armed : 1 = false;
  bool tlp_retrans : 1 = false;
  // The retransmit timeout is RACK's reordering timer (ICSK_TIME_REO_TIMEOUT).
  bool reo_armed : 1 = false;
  // The path reordered: a segment never sent again was delivered after a later one (Linux's
  // reord_seen, a count there). From then on RACK always waits a reordering window.
  bool reord_seen : 1 = false;
  // The congestion-control algorithm (the CC state is above), by its number in tcp_ca_list; here, where
  // a byte was free.
  uint8_t ca_key = 0;
  const TcpCongestionOps& ca_ops() const { return tcp_ca_get(ca_key); }
  // Smoothed RTT, its variation and the RTO, in 32-bit microseconds.
  Dur32 srtt;
  Dur32 rttvar;
  Dur32 rto;
  MsStamp last_oow_ack_time;  // the last out-of-window or challenge ACK

  // --- delayed ACK (icsk_ack) ---
  Dur32 ato;
  MsStamp lrcvtime;    // last data received
  MsStamp rcv_tstamp;  // last ACK received, for keepalive
  bool ack_pending : 1 = false;
  // inet_csk_in_pingpong_mode: the application answers what it receives, so a pending ACK waits for the
  // answer even in quick-ack mode. Entered on the peer's FIN, left when a delayed ACK has to be sent
  // by its timer.
  bool pingpong : 1 = false;
  bool nodelay : 1 = false;  // TCP_NODELAY
  uint8_t quick = 0;         // segments to ACK at once (quick-ack mode)

  // --- options set by the application, in the narrowest types their ranges allow ---
  uint8_t keepalive_probes = 0;  // TCP_KEEPCNT, 1..127; 0: the sysctl
  uint8_t syn_retries = 0;       // 0: the sysctl
  // TCP_LINGER2 in seconds: an orphan's FIN_WAIT2 time (0: tcp_fin_timeout; <0: none), at most 120
  // (TCP_FIN_TIMEOUT_MAX).
  int8_t linger2 = 0;
  uint8_t ip_pmtudisc = 1;  // IP_MTU_DISCOVER (IP_PMTUDISC_WANT); DONT clears DF and ignores PMTU news

  // --- what only an active connection has (see TcpActive) ---
  // Read: the idle defaults while the connection has none, never made for a read.
  const TcpActive& active() const { return active_ ? *active_ : kIdle; }
  // Write: made on first need, from the protocol's cache.
  TcpActive& activate() { return active_ ? *active_ : make_active(); }
  bool is_active() const { return active_ != nullptr; }
  // Give the active state back: at once (the connection is closing or reset, and its queues go), or once
  // the connection is idle: nothing queued either way, so nothing in flight, no recovery under way, no
  // tail loss probe out.
  void deactivate();
  void deactivate_if_idle() {
    if (active_ && active_->sk_write_queue.empty() && active_->sk_receive_queue.empty() && !active_->ofo &&
        active_->tlp_high_seq == 0 && ca_state == CaState::kOpen && !tlp_armed && !reo_armed &&
        !active_->listen && !timer_pending(TcpTimeout::kRetransmit) && !timer_pending(TcpTimeout::kDelack))
      deactivate();
  }
  bool ofo_empty() const { return !active().ofo || active().ofo->queue.empty(); }
  size_t rmem_alloc() const {
    const TcpActive& a = active();
    return a.sk_receive_queue.bytes() + (a.ofo ? a.ofo->queue.bytes() : 0);
  }
  size_t wmem_queued() const { return active().sk_write_queue.bytes(); }
  // The out-of-order state, made on first need.
  TcpOfo& ofo_state() {
    TcpActive& a = activate();
    if (!a.ofo) a.ofo = std::make_unique<TcpOfo>();
    return *a.ofo;
  }
  // Free the out-of-order state once it holds nothing: no queued segment, no D-SACK to send.
  void ofo_release_if_idle() {
    if (active_ && active_->ofo && active_->ofo->queue.empty() && !active_->ofo->dsack) active_->ofo.reset();
  }
  // tcp_is_cwnd_limited: may an ACK grow cwnd? In slow start while cwnd is under twice what was out.
  bool cwnd_limited() const {
    const TcpActive& a = active();
    if (a.is_cwnd_limited) return true;
    return snd_cwnd < snd_ssthresh && snd_cwnd < 2 * a.max_packets_out;
  }

  // --- listening ---
  // A listener's queue and backlog (made by listen()); nullptr for any other sock.
  TcpListenState* listen_state() const { return active_ ? active_->listen.get() : nullptr; }

  // --- timers ---
  // The retransmit (RTO and zero-window probe), delayed-ACK and keepalive (or orphan FIN_WAIT2)
  // timeouts: Linux's icsk_retransmit_timer, icsk_delack_timer and sk_timer. They share one entry on the
  // protocol's heap of connection timers (Tcp::timer_heap_), as FreeBSD's tcpcb shares one callout:
  // the entry is due at the earliest deadline or before it, and moves only when a deadline comes
  // earlier, so that the ACK that pushes the RTO back (every ACK of a bulk transfer) costs no heap
  // operation. A deadline is a whole millisecond of the clock, rounded up, as the kernel's jiffies are,
  // kept in 32 bits that wrap (about 49 days; no timeout is a tenth of that); see
  // inet_csk_reset_xmit_timer.
  uint32_t keepalive_ms = 0;  // the keepalive (or FIN_WAIT2) deadline; the others are in TcpActive
  // A timeout's deadline. The retransmit and delayed-ACK timeouts are armed only while the connection is
  // active, so theirs live in its TcpActive (and arming one makes it active: a delayed ACK of a FIN
  // does).
  uint32_t timeout_ms(TcpTimeout what) const {
    return what == TcpTimeout::kKeepalive ? keepalive_ms : active().xmit_timeout_ms[size_t(what)];
  }
  uint32_t& timeout_ms(TcpTimeout what) {
    return what == TcpTimeout::kKeepalive ? keepalive_ms : activate().xmit_timeout_ms[size_t(what)];
  }
  uint32_t timer_entry_ms = 0;         // when the heap entry is due
  uint32_t timer_slot = kNoTimerSlot;  // its place in the heap
  static constexpr uint32_t kNoTimerSlot = ~uint32_t{0};
  uint32_t total_retrans = 0;  // for TCP_INFO
 private:
  static const TcpActive kIdle;
  TcpActive& make_active();
  TcpActive* active_ = nullptr;  // owned; from tcp().active_cache_

 public:
  // --- statistics for TCP_INFO ---
  uint64_t bytes_acked = 0, bytes_received = 0, bytes_sent = 0, bytes_retrans = 0;
  uint32_t segs_out = 0, segs_in = 0, data_segs_out = 0, data_segs_in = 0;

  // --- links in the protocol's tables (inet_hashinfo): in the sock, so that no table costs a node.
  // The protocol's list of all its socks is its slab (Tcp::socks_), which needs no link. ---
  TcpSock* sk_node = nullptr;      // the chain of the established table
  ListLink<TcpSock> sk_bind_node;  // the owners of the same local port (the inet_bind_bucket's owners)
  TcpSock* bhash_next = nullptr;   // a port's first owner: the chain of the bind table
};
// Every connection carries one, in a slab slot of exactly its size.
static_assert(sizeof(TcpSock) <= 272, "TcpSock grew: every connection pays for it");

// A connection in SYN_RECV before it becomes a full TcpSock (struct request_sock / tcp_request_sock).
struct RequestSock {
  RequestSock* rsk_node = nullptr;  // chain in the request table
  TcpSock* listener = nullptr;
  Ipv4Addr loc_addr, rmt_addr;
  uint16_t loc_port = 0, rmt_port = 0;
  uint32_t snt_isn = 0, rcv_isn = 0;
  uint16_t mss = 536;       // what we announce
  uint16_t peer_mss = 536;  // what the peer's SYN announced
  bool ts_ok = false, sack_ok = false, wscale_ok = false;
  uint8_t snd_wscale = 0, rcv_wscale = 0;
  uint32_t ts_recent = 0;
  uint32_t ts_offset = 0;
  uint32_t rcv_wnd = 0;
  uint8_t num_retrans = 0;
  MsStamp last_oow_ack_time;
  TimePoint snt_synack{};
  Timer rsk_timer;
};

// A connection in TIME_WAIT (struct tcp_timewait_sock): just enough to answer late segments. It has no
// timer of its own: it waits on its Tcp's death row (see inet_twsk_schedule).
struct TimeWaitSock {
  TimeWaitSock* tw_node = nullptr;       // chain in the TIME_WAIT table
  ListLink<TimeWaitSock> tw_death_node;  // place on the death row, in order of expiry
  TimePoint tw_expires{};
  Ipv4Addr loc_addr, rmt_addr;
  uint16_t loc_port = 0, rmt_port = 0;
  uint32_t rcv_nxt = 0, snd_nxt = 0;
  uint32_t rcv_wnd = 0;
  uint8_t rcv_wscale = 0;
  bool ts_ok = false;
  uint32_t ts_recent = 0;
  SecStamp ts_recent_stamp;
  uint32_t ts_offset = 0;
  TcpState substate = TcpState::kTimeWait;  // FIN_WAIT2 kept as a minisock, as Linux does
  MsStamp last_oow_ack_time;
};

// The 4-tuple key of the established, request and TIME_WAIT tables (chained through sk_node, rsk_node
// and tw_node).
struct FourTuple {
  uint32_t laddr, raddr;
  uint16_t lport, rport;
  bool operator==(const FourTuple&) const = default;
};

// inet_ehashfn, shared by the three tables: keyed, so that a peer cannot aim its 4-tuples at one chain;
// murmur3's fmix64 carries every input bit into the low bits that pick the chain.
struct EhashFn {
  using Key = FourTuple;
  size_t hash(const FourTuple& t) const {
    uint64_t h = (uint64_t{t.laddr} << 32 | t.raddr) ^ seed.k0;
    h ^= ((uint64_t{t.lport} << 16 | t.rport) ^ seed.k1) * 0x9e3779b97f4a7c15ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return static_cast<size_t>(h);
  }
  SipKey seed;
};

struct EhashTraits : EhashFn {
  static FourTuple key(const TcpSock& sk) {
    return FourTuple{sk.inet_saddr.to_u32(), sk.inet_daddr.to_u32(), sk.inet_num, sk.inet_dport};
  }
  static TcpSock*& next(TcpSock& sk) { return sk.sk_node; }
};
struct ReqhashTraits : EhashFn {
  static FourTuple key(const RequestSock& r) {
    return FourTuple{r.loc_addr.to_u32(), r.rmt_addr.to_u32(), r.loc_port, r.rmt_port};
  }
  static RequestSock*& next(RequestSock& r) { return r.rsk_node; }
};
struct TwhashTraits : EhashFn {
  static FourTuple key(const TimeWaitSock& tw) {
    return FourTuple{tw.loc_addr.to_u32(), tw.rmt_addr.to_u32(), tw.loc_port, tw.rmt_port};
  }
  static TimeWaitSock*& next(TimeWaitSock& tw) { return tw.tw_node; }
};

// The bind table (inet_bhash), one entry per bound local port: the port's first owner stands for its
// inet_bind_bucket, the other owners hang off it through sk_bind_node. A port bound once, as a
// connect()'s ephemeral port is, costs nothing beyond the links in its sock.
struct BhashTraits {
  using Key = uint16_t;
  static uint16_t key(const TcpSock& sk) { return sk.inet_num; }
  static TcpSock*& next(TcpSock& sk) { return sk.bhash_next; }
  size_t hash(uint16_t port) const { return port; }  // inet_bhashfn: local ports are ours to spread
};

struct TcpStats {
  uint64_t active_opens = 0, passive_opens = 0, attempt_fails = 0, estab_resets = 0, curr_estab = 0;
  uint64_t in_segs = 0, out_segs = 0, retrans_segs = 0, in_errs = 0, out_rsts = 0, in_csum_errors = 0;
  uint64_t challenge_acks = 0, paws_drops = 0, listen_overflows = 0, listen_drops = 0, syn_retrans = 0;
  uint64_t timeouts = 0, fast_retrans = 0, tw_recycled = 0, tw_killed = 0, ofo_queue = 0,
           zero_window_probes = 0;
  uint64_t sack_discard = 0;     // malformed SACK blocks, or beyond what was sent (TCPSACKDiscard)
  uint64_t lost_retransmit = 0;  // retransmissions found lost by a SACK for later data (TCPLostRetransmit)
  uint64_t loss_probes = 0;      // tail loss probes sent (TCPLossProbes)
  uint64_t loss_probe_recovery = 0;  // probes that repaired a loss: cwnd reduced (TCPLossProbeRecovery)
  uint64_t sack_reorder = 0;         // a never-resent segment delivered after a later one (TCPSACKReorder)
  uint64_t dsack_recv = 0;           // D-SACK blocks received (TCPDSACKRecv)
  uint64_t dsack_undo = 0;           // recoveries undone: every retransmission was a duplicate (TCPDSACKUndo)
  uint64_t keepalive_timeouts = 0, abort_on_data = 0, abort_on_close = 0, abort_on_linger = 0,
           abort_on_timeout = 0;
};

class Tcp final : public Proto {
 public:
  explicit Tcp(Ipv4& ip);
  ~Tcp() override;

  Ipv4& ip() { return ip_; }
  TcpSysctl& sysctl() { return sysctl_; }
  const TcpStats& stats() const { return stats_; }
  TcpStats& mutable_stats() { return stats_; }

  // --- struct proto (tcp_prot) ---
  const char* name() const override { return "TCP"; }
  Sock* create() override;
  Status bind(Sock& sk, SockAddrIn addr) override;
  Status connect(Sock& sk, SockAddrIn addr) override;  // tcp_v4_connect
  Status disconnect(Sock& sk) override;                // tcp_disconnect
  Status listen(Sock& sk, int backlog) override;       // inet_csk_listen_start
  Result<Sock*> accept(Sock& sk) override;             // inet_csk_accept
  Result<size_t> sendmsg(Sock& sk, std::span<const std::byte> data, int flags,
                         const std::optional<SockAddrIn>& to) override;
  Result<size_t> recvmsg(Sock& sk, std::span<std::byte> buf, int flags, SockAddrIn* from) override;
  Status shutdown(Sock& sk, int how) override;
  void close(Sock& sk) override;
  Status setsockopt(Sock& sk, int level, int name, std::span<const std::byte> val) override;
  Result<size_t> getsockopt(Sock& sk, int level, int name, std::span<std::byte> out) override;
  uint16_t poll(const Sock& sk) const override;
  uint32_t default_rcvbuf() const final { return clamp_buf(sysctl_.tcp_rmem_default); }
  uint32_t default_sndbuf() const final { return clamp_buf(sysctl_.tcp_wmem_default); }
  static uint32_t clamp_buf(size_t b) { return static_cast<uint32_t>(std::min<size_t>(b, 0xffffffffu)); }

  // Free the socks that finished closing (called from the stack's poll, never from inside their own
  // processing).
  void reap();
  size_t sock_count() const { return socks_.size(); }
  template <class F>
  void for_each_sock(F&& f) const {
    socks_.for_each(f);
  }
  size_t timewait_count() const { return twhash_.size(); }
  size_t timer_entry_count() const { return timer_heap_.size(); }  // connections with a timeout armed
  size_t request_count() const { return reqhash_.size(); }
  size_t orphan_count() const { return orphans_; }

  // --- the rest of the kernel's TCP, used across the tcp_*.cc files ---
  // tcp_ipv4.cc
  void tcp_v4_rcv(SkbPtr skb);
  void tcp_v4_err(const IcmpErrInfo& e);
  void tcp_v4_send_reset(const SkBuff& skb, const wire::TcpHdr& th);
  void tcp_v4_send_ack(Ipv4Addr saddr, Ipv4Addr daddr, uint16_t sport, uint16_t dport, uint32_t seq,
                       uint32_t ack, uint32_t win, bool ts, uint32_t tsval, uint32_t tsecr,
                       uint8_t flags = wire::kTcpAck);
  uint32_t secure_tcp_seq(Ipv4Addr saddr, Ipv4Addr daddr, uint16_t sport, uint16_t dport);
  uint32_t secure_tcp_ts_off(Ipv4Addr saddr, Ipv4Addr daddr);
  uint32_t tcp_time_stamp(uint32_t offset) const;
  void inet_hash(TcpSock& sk);
  void inet_unhash(TcpSock& sk);
  void inet_bind_hash(TcpSock& sk, uint16_t port);
  void inet_put_port(TcpSock& sk);
  Status inet_hash_connect(TcpSock& sk);
  // tcp_output.cc
  void tcp_connect(TcpSock& tp);
  int tcp_transmit_skb(TcpSock& tp, SkBuff& skb, bool clone_it);
  // push_one: at most one segment. loss_probe: one segment even past cwnd (a tail loss probe).
  void tcp_write_xmit(TcpSock& tp, bool push_one = false, bool loss_probe = false);
  void tcp_push(TcpSock& tp);
  void tcp_send_ack(TcpSock& tp);
  void tcp_send_delayed_ack(TcpSock& tp);
  void tcp_send_fin(TcpSock& tp);
  void tcp_send_active_reset(TcpSock& tp);
  void tcp_send_probe0(TcpSock& tp);
  bool tcp_retransmit_skb(TcpSock& tp, SkBuff& skb);
  void tcp_xmit_retransmit_queue(TcpSock& tp);
  void tcp_send_synack(RequestSock& req);
  int tcp_write_wakeup(TcpSock& tp);
  uint32_t tcp_sync_mss(TcpSock& tp, uint32_t pmtu);
  uint32_t tcp_current_mss(TcpSock& tp);
  // tcp_xmit_size_goal: bytes per skb the application's writes fill: one MSS, or as many whole MSS as a
  // TSO packet to the route's device may hold (no more than half the largest window the peer offered).
  uint32_t tcp_xmit_size_goal(const TcpSock& tp, uint32_t mss) const;
  // tcp_fragment: split a queued skb so that it keeps the first `len` payload bytes and a new skb after
  // it in the queue holds the rest; the segment counts follow.
  void tcp_fragment(TcpSock& tp, SkBuff& skb, uint32_t len);
  // tcp_mark_head_lost for NewReno: the first segment at snd_una is lost (one MSS of a TSO skb).
  void tcp_mark_head_lost(TcpSock& tp);
  // tcp_check_sack_reordering: `low_seq`, never sent again, was delivered below `fack`, the highest
  // SACKed sequence: the path reorders by that distance, and `reordering` (dupthresh) grows to it.
  void tcp_check_sack_reordering(TcpSock& tp, uint32_t low_seq, uint32_t fack);
  // tcp_sacktag_write_queue: mark what the ACK's SACK blocks cover; returns the segments newly SACKed.
  // prior_fack: the highest SACKed sequence before this ACK (tcp_ack has it already).
  uint32_t tcp_sacktag_write_queue(TcpSock& tp, const wire::TcpOptions& opt, uint32_t ack,
                                   uint32_t prior_fack);
  // tcp_mark_lost_retrans: retransmissions sent before data now SACKed up to `highest_sacked` are lost.
  void tcp_mark_lost_retrans(TcpSock& tp, uint32_t highest_sacked);
  // tcp_update_scoreboard: RFC 6675's IsLost, every segment with `reordering` SACKed ones above it.
  void tcp_update_scoreboard(TcpSock& tp);
  // tcp_enter_recovery: fast retransmit (RFC 5681 §3.2, RFC 6675 §5): halve, resend the first lost.
  void tcp_enter_recovery(TcpSock& tp);
  // tcp_try_undo_dsack: if D-SACKs showed every retransmission of the recovery needless, give cwnd and
  // ssthresh back (tcp_undo_cwnd_reduction). Returns whether it did.
  bool tcp_try_undo_dsack(TcpSock& tp);
  // tcp_cwnd_reduction: PRR's cwnd for an ACK in recovery that reported `newly_acked_sacked` segments
  // delivered; `newly_lost`: it marked more lost; `snd_una_advanced`: it acknowledged new data.
  void tcp_cwnd_reduction(TcpSock& tp, uint32_t newly_acked_sacked, bool newly_lost, bool snd_una_advanced);
  uint16_t tcp_select_window(TcpSock& tp);
  uint32_t tcp_compute_window(TcpSock& tp);  // __tcp_select_window: the window the free space allows
  uint32_t tcp_space(const TcpSock& tp) const;
  void tcp_select_initial_window(size_t space, uint32_t mss, uint32_t& rcv_wnd, uint8_t& rcv_wscale,
                                 bool wscale_ok);
  bool tcp_snd_wnd_test(const TcpSock& tp, const SkBuff& skb, uint32_t cur_mss) const;
  // RFC 6675's pipe, as Linux counts it: sent, minus what left the network, plus what was resent.
  uint32_t tcp_packets_in_flight(const TcpSock& tp) const {
    const TcpActive& a = tp.active();
    uint32_t left = a.sacked_out + a.lost_out;
    return (a.packets_out > left ? a.packets_out - left : 0) + a.retrans_out;
  }
  void tcp_rearm_rto(TcpSock& tp);
  // Tail loss probes (tcp_schedule_loss_probe, tcp_send_loss_probe, tcp_process_tlp_ack).
  bool tcp_schedule_loss_probe(TcpSock& tp, bool advancing_rto);
  void tcp_send_loss_probe(TcpSock& tp);
  void tcp_process_tlp_ack(TcpSock& tp, uint32_t ack, bool snd_una_advanced, bool not_dup);
  // tcp_recovery.cc: RACK's time-based loss marking (tcp_rack_advance, tcp_rack_detect_loss,
  // tcp_rack_reo_timeout), without the widening of its reordering window on D-SACKs.
  void tcp_rack_advance(TcpSock& tp, const TcpSkbCb& c);
  Duration tcp_rack_detect_loss(TcpSock& tp, bool mark);
  void tcp_rack_reo_timeout(TcpSock& tp);
  // RACK's reordering timer, if a segment sent before a delivered one (so below a SACKed one) is not yet
  // overdue; it stands in for the RTO until then. Returns whether it was armed.
  bool tcp_rack_arm_reo(TcpSock& tp);
  // tcp_input.cc
  void tcp_rcv_state_process(TcpSock& tp, SkbPtr skb);
  // The same with the header and options that tcp_v4_rcv already parsed.
  void tcp_rcv_state_process(TcpSock& tp, SkbPtr skb, const wire::TcpHdr& th, const wire::TcpOptions& opt);
  void tcp_rcv_synsent_state_process(TcpSock& tp, SkbPtr skb, const wire::TcpOptions& opt);
  void tcp_finish_connect(TcpSock& tp, const wire::TcpHdr& th);
  void tcp_reset(TcpSock& tp);
  void tcp_done(TcpSock& tp);
  void tcp_set_state(TcpSock& tp, TcpState s);
  void tcp_init_transfer(TcpSock& tp);
  void tcp_enter_quickack_mode(TcpSock& tp);
  void tcp_rtt_estimator(TcpSock& tp, Duration m);
  void tcp_set_rto(TcpSock& tp);
  void tcp_update_wl_and_window(TcpSock& tp, uint32_t ack, uint32_t seq, uint32_t nwin);
  // tcp_timer.cc
  void tcp_clear_xmit_timers(TcpSock& tp);
  void tcp_retransmit_timer(TcpSock& tp);
  void tcp_probe_timer(TcpSock& tp);
  void tcp_delack_timer(TcpSock& tp);
  void tcp_keepalive_timer(TcpSock& tp);
  void inet_csk_reset_keepalive_timer(TcpSock& tp, Duration when);
  // Arm (or move) one of the connection's timeouts to `when` from now, and disarm it.
  void inet_csk_reset_xmit_timer(TcpSock& tp, TcpTimeout what, Duration when);
  void inet_csk_clear_xmit_timer(TcpSock& tp, TcpTimeout what);
  TimePoint inet_csk_timeout(const TcpSock& tp, TcpTimeout what) const;  // when an armed timeout is due
  void tcp_timer_handler(TcpSock& tp);
  void tcp_enter_loss(TcpSock& tp);
  void tcp_write_err(TcpSock& tp);
  Duration keepalive_time_when(const TcpSock& tp) const;
  Duration keepalive_intvl_when(const TcpSock& tp) const;
  // tcp_minisocks.cc
  // tw_isn: the ISN a TIME_WAIT connection hands over to its successor (0: choose one).
  void tcp_conn_request(TcpSock& listener, SkbPtr skb, const wire::TcpHdr& th, const wire::TcpOptions& opt,
                        uint32_t tw_isn = 0);
  // __tcp_oow_rate_limited: true if an ACK for an invalid segment went out less than
  // tcp_invalid_ratelimit ago; else records now.
  bool tcp_oow_rate_limited(MsStamp& last_oow_ack_time);
  void tcp_check_req(RequestSock& req, SkbPtr skb, const wire::TcpHdr& th, const wire::TcpOptions& opt);
  void tcp_time_wait(TcpSock& tp, TcpState state, Duration timeo);
  // tcp_fin_time: how long an orphan waits in FIN_WAIT2 (TCP_LINGER2 or tcp_fin_timeout, at least 3.5 RTO).
  Duration tcp_fin_time(const TcpSock& tp) const {
    Duration t = tp.linger2 > 0 ? Duration(std::chrono::seconds(tp.linger2)) : sysctl_.tcp_fin_timeout;
    Duration floor = tp.rto.get() * 4 - tp.rto.get() / 2;
    return t < floor ? floor : t;
  }
  void tcp_timewait_state_process(TimeWaitSock& tw, SkbPtr skb, const wire::TcpHdr& th,
                                  const wire::TcpOptions& opt);
  void inet_twsk_kill(TimeWaitSock& tw);
  // inet_twsk_schedule / inet_twsk_reschedule: (re)start tw's wait of `timeo` on the death row.
  void inet_twsk_schedule(TimeWaitSock& tw, Duration timeo);
  void inet_twdr_hangman();
  void reqsk_drop(RequestSock& req);
  void reqsk_timer_handler(RequestSock& req);
  // tcp.cc
  void tcp_cleanup_rbuf(TcpSock& tp, size_t copied);
  void inet_csk_destroy_sock(TcpSock& tp);
  void inet_csk_listen_stop(TcpSock& tp);
  void tcp_close_state_and_fin(TcpSock& tp);
  // tcp_write_queue_purge: drop what is queued to send and its scoreboard, keeping the receive side.
  void tcp_write_queue_purge(TcpSock& tp);

  void trace_seg(const char* func, const TcpSock* tp, const char* dir, const wire::TcpHdr& th, size_t len,
                 const wire::TcpOptions* opt = nullptr);

 private:
  friend class TcpSock;
  TcpSock* lookup_established(const FourTuple& t) const;
  TcpSock* lookup_listener(Ipv4Addr daddr, uint16_t dport) const;
  bool port_in_use(uint16_t port, Ipv4Addr addr, const TcpSock* self, bool reuse) const;
  bool check_established(TcpSock& sk, uint16_t lport, bool& reused_tw);

  Ipv4& ip_;
  TcpSysctl sysctl_;
  TcpStats stats_;
  SipKey secret_;
  // The socks, all of them, in their slab: freed by reap() and ~Tcp.
  Slab<TcpSock> socks_;
  // The connections' timer entries (TcpSock::timer_entry_ms), earliest first, under one timer on the
  // stack's queue for the earliest of them: a connection's timer costs two words, not a Timer.
  struct TimerHeapTraits {
    static uint32_t& slot(TcpSock& tp) { return tp.timer_slot; }
    static bool before(const TcpSock& a, const TcpSock& b) {
      return static_cast<int32_t>(a.timer_entry_ms - b.timer_entry_ms) < 0;
    }
  };
  IntrusiveHeap<TcpSock, TimerHeapTraits> timer_heap_;
  Timer timer_heap_timer_;
  uint32_t timer_heap_timer_ms_ = 0;  // when timer_heap_timer_ is due, while it is pending
  // Put tp's entry at `ms` on the heap, and the stack's timer there if that is earlier.
  void tcp_timer_entry_set(TcpSock& tp, uint32_t ms);
  void tcp_timer_entry_clear(TcpSock& tp);
  void tcp_timer_heap_arm(uint32_t ms);
  void tcp_timer_heap_run();  // the stack's timer fired: run the connections whose entry is due
  std::vector<TcpSock*> reap_list_;
  // Looked up for every segment: chains of one or two, at a slot per connection or less.
  IntrusiveHashTable<TcpSock, EhashTraits, 2> ehash_;
  // The minisocks, owned through their caches: freed by reqsk_drop / inet_twsk_kill and ~Tcp.
  ObjectCache<RequestSock> req_cache_;
  ObjectCache<TimeWaitSock> tw_cache_;
  // The active state of connections (TcpActive), kept for reuse; ~Tcp frees every sock, and with it
  // its block, before the cache goes.
  ObjectCache<TcpActive> active_cache_;
  IntrusiveHashTable<RequestSock, ReqhashTraits> reqhash_;
  IntrusiveHashTable<TimeWaitSock, TwhashTraits> twhash_;
  // The death row (the kernel's inet_timewait_death_row of old): TIME_WAIT socks in order of expiry
  // under one timer for the earliest, in place of one timer each in the timer heap. Each wait is
  // mostly tcp_timewait_len from now, so a new one goes at the tail and scheduling is O(1).
  IntrusiveList<TimeWaitSock, &TimeWaitSock::tw_death_node> tw_death_row_;
  Timer tw_reaper_;
  // Bound ports, each one's first owner: looked up by bind() and connect(), not per segment, so its
  // chains may be longer.
  IntrusiveHashTable<TcpSock, BhashTraits, 4> bhash_;
  // TIME_WAIT socks holding each local port, allocated at the first TIME_WAIT.
  std::unique_ptr<uint32_t[]> bhash_tw_;
  std::unordered_map<uint16_t, std::vector<TcpSock*>> listening_hash_;
  std::array<uint16_t, 256> table_perturb_{};  // RFC 6056 algorithm 4 moving hints
  size_t orphans_ = 0;
};

// A TcpSock's protocol is always its Tcp (tcp_v4_init_sock): no pointer of its own for it.
Tcp& TcpSock::tcp() const { return static_cast<Tcp&>(*sk_prot); }
uint32_t TcpSock::rcvbuf() const {
  return sk_extra && sk_extra->sk_rcvbuf ? sk_extra->sk_rcvbuf
                                         : Tcp::clamp_buf(tcp().sysctl().tcp_rmem_default);
}
uint32_t TcpSock::sndbuf() const {
  return sk_extra && sk_extra->sk_sndbuf ? sk_extra->sk_sndbuf
                                         : Tcp::clamp_buf(tcp().sysctl().tcp_wmem_default);
}

}  // namespace ustack
