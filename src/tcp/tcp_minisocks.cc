// The small states of a connection (Linux net/ipv4/tcp_minisocks.c and the request-sock half of
// tcp_input.c): a SYN received on a listener becomes a request sock that answers with SYN-ACK (and
// resends it); the final ACK of the handshake turns it into a full TcpSock on the accept queue. A
// connection in TIME_WAIT (or an orphan waiting in FIN_WAIT2) keeps only a TimeWaitSock.
#include <algorithm>

#include "tcp/tcp.h"

namespace ustack {

using namespace wire;

namespace {

// A request sock's timer reaches its Tcp through the listener.
void reqsk_timer_fn(RequestSock& req) { req.listener->tcp().reqsk_timer_handler(req); }

}  // namespace

// tcp_conn_request: a SYN for a listener.
void Tcp::tcp_conn_request(TcpSock& l, SkbPtr skb, const TcpHdr& th, const TcpOptions& opt, uint32_t tw_isn) {
  const std::byte* nh = skb->network_header();
  Ipv4Addr saddr{load_be32(nh + 12)};
  Ipv4Addr daddr{load_be32(nh + 16)};
  if (saddr.is_lbcast_or_mcast() || daddr.is_lbcast_or_mcast()) {
    kfree_skb(net(), std::move(skb), DropReason::OTHERHOST);
    return;
  }
  TcpListenState& ls = *l.listen_state();
  size_t pending = size_t(ls.accept_queue.reqsk_queue_len());
  // A full accept queue (or SYN queue) drops the SYN: the client retries and is served once accept()
  // drains the queue (Linux without syncookies). Full means more than the backlog (sk_acceptq_is_full:
  // listen(fd, 1) queues two connections).
  if (ls.accept_queue.size() > size_t(ls.max_ack_backlog) ||
      pending >= size_t(std::max(ls.max_ack_backlog, 1)) * 2) {
    ++stats_.listen_overflows;
    ++stats_.listen_drops;
    kfree_skb(net(), std::move(skb), DropReason::TCP_LISTEN_OVERFLOW);
    return;
  }
  auto rt = ip_.ip_route_output(saddr, daddr);
  if (!rt) {
    kfree_skb(net(), std::move(skb), DropReason::IP_INNOROUTES);
    return;
  }
  RequestSock* req = req_cache_.create();
  req->listener = &l;
  req->loc_addr = daddr;
  req->rmt_addr = saddr;
  req->loc_port = th.dest;
  req->rmt_port = th.source;
  req->rcv_isn = th.seq;
  req->snt_isn = tw_isn ? tw_isn : secure_tcp_seq(daddr, saddr, th.dest, th.source);
  uint16_t advmss = static_cast<uint16_t>(std::min<uint32_t>((*rt)->dev->mtu() - 40, 65535));
  if (l.user_mss) advmss = std::min(advmss, l.user_mss);
  req->mss = advmss;
  req->ts_ok = opt.ts && sysctl_.tcp_timestamps;
  req->ts_recent = opt.tsval;
  req->ts_offset = secure_tcp_ts_off(daddr, saddr);
  req->sack_ok = opt.sack_ok && sysctl_.tcp_sack;
  req->wscale_ok = opt.wscale.has_value() && sysctl_.tcp_window_scaling;
  req->snd_wscale = req->wscale_ok ? *opt.wscale : 0;
  req->peer_mss = opt.mss ? std::max<uint16_t>(*opt.mss, 48) : 536;
  // tcp_openreq_init_rwin: whole segments of what the peer will send, the timestamp option deducted.
  tcp_select_initial_window(l.rcvbuf(), advmss - (req->ts_ok ? 12u : 0u), req->rcv_wnd, req->rcv_wscale,
                            req->wscale_ok);
  req->snt_synack = net().now();
  req->rsk_timer.setup<reqsk_timer_fn>(*req);
  net().mod_timer(req->rsk_timer, sysctl_.rto_init);
  reqhash_.insert(*req);
  ls.accept_queue.reqsk_queue_added();
  ++stats_.passive_opens;
  tcp_send_synack(*req);
  consume_skb(std::move(skb));
}

void Tcp::reqsk_drop(RequestSock& req) {
  if (req.listener) req.listener->listen_state()->accept_queue.reqsk_queue_removed();
  reqhash_.erase(req);
  req_cache_.destroy(&req);  // the timer disarms itself in its destructor
}

// reqsk_timer_handler: resend the SYN-ACK with backoff, up to tcp_synack_retries.
void Tcp::reqsk_timer_handler(RequestSock& req) {
  if (req.num_retrans >= sysctl_.tcp_synack_retries) {
    reqsk_drop(req);
    return;
  }
  ++req.num_retrans;
  ++stats_.syn_retrans;
  tcp_send_synack(req);
  net().mod_timer(req.rsk_timer, std::min(sysctl_.rto_init * (1 << req.num_retrans), sysctl_.rto_max));
}

// tcp_check_req: a segment for a connection in SYN_RECV.
void Tcp::tcp_check_req(RequestSock& req, SkbPtr skb, const TcpHdr& th, const TcpOptions& opt) {
  NetCore& n = net();
  if ((th.flags & kTcpSyn) && !(th.flags & kTcpAck) && th.seq == req.rcv_isn) {
    // The peer did not get our SYN-ACK: send it again.
    tcp_send_synack(req);
    consume_skb(std::move(skb));
    return;
  }
  if (th.flags & kTcpRst) {
    if (th.seq == req.rcv_isn + 1) reqsk_drop(req);
    consume_skb(std::move(skb));
    return;
  }
  if (!(th.flags & kTcpAck)) {
    kfree_skb(n, std::move(skb), DropReason::TCP_FLAGS);
    return;
  }
  if (th.ack_seq != req.snt_isn + 1) {
    tcp_v4_send_reset(*skb, th);
    kfree_skb(n, std::move(skb), DropReason::TCP_FLAGS);
    return;
  }
  // RFC 9293 §3.10.7.4, first check the sequence number: out of the window we offered, an ACK (our
  // SYN-ACK's numbers, rate-limited for pure ACKs) and nothing more (tcp_in_window in tcp_check_req).
  const TcpSkbCb& cb = tcp_skb_cb(*skb);
  uint32_t rcv_nxt = req.rcv_isn + 1;
  if (cb.seq != rcv_nxt && !(after(cb.end_seq, rcv_nxt) && before(cb.seq, rcv_nxt + req.rcv_wnd)) &&
      !(cb.seq == rcv_nxt + req.rcv_wnd && cb.seq == cb.end_seq)) {
    if ((cb.seq != cb.end_seq && !(th.flags & kTcpSyn)) || !tcp_oow_rate_limited(req.last_oow_ack_time)) {
      tcp_v4_send_ack(req.loc_addr, req.rmt_addr, req.loc_port, req.rmt_port, req.snt_isn + 1, rcv_nxt,
                      req.rcv_wnd >> req.rcv_wscale, req.ts_ok, tcp_time_stamp(req.ts_offset), req.ts_recent);
    }
    kfree_skb(n, std::move(skb), DropReason::TCP_OLD_DATA);
    return;
  }
  if (th.flags & kTcpSyn) {
    kfree_skb(n, std::move(skb), DropReason::TCP_FLAGS);
    return;
  }
  TcpSock& l = *req.listener;
  TcpListenState& ls = *l.listen_state();
  if (ls.accept_queue.size() > size_t(ls.max_ack_backlog)) {
    // Accept queue full: forget this ACK; the SYN-ACK timer makes the peer send it again later.
    ++stats_.listen_overflows;
    kfree_skb(n, std::move(skb), DropReason::TCP_LISTEN_OVERFLOW);
    return;
  }
  // tcp_create_openreq_child: the full sock, ESTABLISHED, inheriting the listener's settings.
  auto* child = static_cast<TcpSock*>(create());
  TcpSock& c = *child;
  c.inet_saddr = c.inet_rcv_saddr = req.loc_addr;
  c.inet_daddr = req.rmt_addr;
  c.inet_num = req.loc_port;
  c.inet_dport = req.rmt_port;
  c.snd_una = c.snd_nxt = c.write_seq = req.snt_isn + 1;
  c.rcv_nxt = c.rcv_wup = req.rcv_isn + 1;
  c.ts_ok = req.ts_ok;
  c.sack_ok = req.sack_ok;
  c.wscale_ok = req.wscale_ok;
  c.snd_wscale = req.snd_wscale;
  c.rcv_wscale = req.wscale_ok ? req.rcv_wscale : 0;
  c.rcv_wnd = req.rcv_wnd;
  c.ts_recent = opt.ts ? opt.tsval : req.ts_recent;
  c.ts_recent_stamp.set(n.now());
  c.ts_offset = req.ts_offset;
  c.snd_wnd = uint32_t{th.window} << c.snd_wscale;
  c.max_window = c.snd_wnd;
  c.snd_wl1 = th.seq;
  c.advmss = req.mss;
  c.user_mss = l.user_mss;
  c.mss_clamp = req.peer_mss;
  c.nodelay = l.nodelay;
  c.sk_keepopen = l.sk_keepopen;
  c.keepalive_probes = l.keepalive_probes;
  c.linger_on = l.linger_on;
  // The listener's timeouts and buffer sizes, not its callback: the child's waiter is whoever accepts
  // it. A child of a listener that set none gets no block.
  if (const SockExtra* e = l.sk_extra.get(); e && (e->timeo != SockTimeo{} || e->sk_rcvbuf || e->sk_sndbuf)) {
    SockExtra& ce = c.extra();
    ce.timeo = e->timeo;
    ce.sk_rcvbuf = e->sk_rcvbuf;
    ce.sk_sndbuf = e->sk_sndbuf;
  }
  auto rt = ip_.ip_route_output(c.inet_daddr, c.inet_saddr);
  if (rt) c.sk_dst_cache = *rt;
  tcp_sync_mss(c, c.sk_dst_cache ? c.sk_dst_cache->mtu() : 576);
  c.rcv_mss = std::min<uint32_t>(c.advmss, c.mss_cache);
  if (req.num_retrans == 0) tcp_rtt_estimator(c, n.now() - req.snt_synack);
  // The child shares the listener's port (inet_inherit_port).
  inet_bind_hash(c, c.inet_num);
  tcp_set_state(c, TcpState::kEstablished);
  inet_hash(c);
  tcp_init_transfer(c);
  reqsk_drop(req);
  ls.accept_queue.push_back(&c);
  if (n.trace.on()) {
    n.trace.emit("tcp_check_req", "handshake done: child %s:%u ESTABLISHED on the accept queue (%zu/%d)",
                 c.inet_daddr.to_string().c_str(), c.inet_dport, ls.accept_queue.size(), ls.max_ack_backlog);
  }
  l.data_ready();
  // tcp_child_process: the ACK may carry data or a FIN.
  size_t payload = skb->len() - th.header_len();
  if (payload > 0 || (th.flags & kTcpFin)) {
    tcp_rcv_state_process(c, std::move(skb));
  } else {
    consume_skb(std::move(skb));
  }
}

// tcp_time_wait: hand the connection to a TimeWaitSock and let the full sock go.
void Tcp::tcp_time_wait(TcpSock& tp, TcpState state, Duration timeo) {
  TimeWaitSock* tw = tw_cache_.create();
  tw->loc_addr = tp.inet_saddr;
  tw->rmt_addr = tp.inet_daddr;
  tw->loc_port = tp.inet_num;
  tw->rmt_port = tp.inet_dport;
  tw->rcv_nxt = tp.rcv_nxt;
  tw->snd_nxt = tp.snd_nxt;
  tw->rcv_wnd = tp.rcv_wnd;
  tw->rcv_wscale = tp.rcv_wscale;
  tw->ts_ok = tp.ts_ok;
  tw->ts_recent = tp.ts_recent;
  tw->ts_recent_stamp = tp.ts_recent_stamp;
  tw->ts_offset = tp.ts_offset;
  tw->substate = state;
  inet_twsk_schedule(*tw, timeo);
  if (!bhash_tw_) bhash_tw_ = std::make_unique<uint32_t[]>(65536);
  ++bhash_tw_[tw->loc_port];
  if (net().trace.on()) {
    net().trace.emit("tcp_time_wait", "%s for %.0f s as a TIME_WAIT sock", tcp_state_name(state),
                     to_seconds(timeo));
  }
  tcp_done(tp);  // unhashes the full sock first, so the 4-tuple is free for the minisock
  twhash_.insert(*tw);
}

void Tcp::inet_twsk_kill(TimeWaitSock& tw) {
  --bhash_tw_[tw.loc_port];
  twhash_.erase(tw);
  tw_death_row_.erase(tw);
  if (tw_death_row_.empty()) net().timers.del_timer(tw_reaper_);
  tw_cache_.destroy(&tw);
}

void Tcp::inet_twsk_schedule(TimeWaitSock& tw, Duration timeo) {
  if (tw_death_row_.contains(tw)) tw_death_row_.erase(tw);
  tw.tw_expires = net().now() + timeo;
  // From the tail back past later deadlines: with one wait length for all, that is no step at all.
  // Equal deadlines keep the order they were scheduled in.
  TimeWaitSock* pos = tw_death_row_.back();
  while (pos && pos->tw_expires > tw.tw_expires) pos = tw_death_row_.prev(*pos);
  tw_death_row_.insert_after(pos, tw);
  TimeWaitSock* first = tw_death_row_.front();
  if (!tw_reaper_.pending() || tw_reaper_.expires() != first->tw_expires) {
    net().timers.mod_timer(tw_reaper_, first->tw_expires);
  }
}

// The death row's timer: end every wait that is over and sleep until the next.
void Tcp::inet_twdr_hangman() {
  TimePoint now = net().now();
  while (TimeWaitSock* tw = tw_death_row_.front()) {
    if (tw->tw_expires > now) {
      net().timers.mod_timer(tw_reaper_, tw->tw_expires);
      return;
    }
    inet_twsk_kill(*tw);
  }
}

// tcp_timewait_state_process (RFC 9293 §3.10.7.4; RFC 1122 §4.2.2.13 and RFC 6191 for a new SYN), with
// Linux's rules. FIN_WAIT2 repeats tcp_rcv_state_process's checks: out of window an ACK, a RST kills, the
// peer's FIN starts TIME_WAIT, new data or a SYN get a reset. In TIME_WAIT a bare ACK or a RST exactly at
// rcv_nxt restarts the timer or (tcp_rfc1337 = 0) ends TIME_WAIT; a newer SYN goes to a listener with an
// ISN above the old connection's; anything else is acknowledged and, if it carries an ACK, restarts the
// timer. ACKs for pure ACKs and SYNs are rate-limited (tcp_timewait_check_oow_rate_limit).
void Tcp::tcp_timewait_state_process(TimeWaitSock& tw, SkbPtr skb, const TcpHdr& th, const TcpOptions& opt) {
  NetCore& n = net();
  const TcpSkbCb& cb = tcp_skb_cb(*skb);
  auto ack_it = [&] {
    uint32_t tsval = tcp_time_stamp(tw.ts_offset);
    tcp_v4_send_ack(tw.loc_addr, tw.rmt_addr, tw.loc_port, tw.rmt_port, tw.snd_nxt, tw.rcv_nxt,
                    tw.rcv_wnd >> tw.rcv_wscale, tw.ts_ok, tsval, tw.ts_recent);
  };
  auto ack_oow = [&] {
    if ((cb.seq != cb.end_seq && !(th.flags & kTcpSyn)) || !tcp_oow_rate_limited(tw.last_oow_ack_time))
      ack_it();
  };
  auto reset_and_kill = [&] {
    tcp_v4_send_reset(*skb, th);
    inet_twsk_kill(tw);
    consume_skb(std::move(skb));
  };
  // tcp_paws_reject with no slack: a timestamp older than the last one seen (a reset is believed once
  // TCP_PAWS_MSL has passed).
  bool paws_reject = tw.ts_ok && opt.ts && tw.ts_recent &&
                     static_cast<int32_t>(tw.ts_recent - opt.tsval) > 0 &&
                     !((th.flags & kTcpRst) && tw.ts_recent_stamp.since(n.now()) >= 60s);
  if (tw.substate == TcpState::kFinWait2) {
    bool in_window = cb.seq == tw.rcv_nxt ||
                     (after(cb.end_seq, tw.rcv_nxt) && before(cb.seq, tw.rcv_nxt + tw.rcv_wnd)) ||
                     (cb.seq == tw.rcv_nxt + tw.rcv_wnd && cb.seq == cb.end_seq);
    if (paws_reject || !in_window) {
      ack_oow();
    } else if (th.flags & kTcpRst) {
      inet_twsk_kill(tw);
    } else if ((th.flags & kTcpSyn) && !before(cb.seq, tw.rcv_nxt)) {
      return reset_and_kill();
    } else if (!(th.flags & kTcpAck) || !after(cb.end_seq, tw.rcv_nxt) || cb.end_seq == cb.seq) {
      // A duplicate ACK: nothing to do.
    } else if (!(th.flags & kTcpFin) || cb.end_seq != tw.rcv_nxt + 1) {
      return reset_and_kill();  // new data after our half-close: nobody will read it
    } else {
      // The peer's FIN: TIME_WAIT now, for TCP_TIMEWAIT_LEN.
      tw.substate = TcpState::kTimeWait;
      tw.rcv_nxt = cb.end_seq;
      if (opt.ts) {
        tw.ts_recent = opt.tsval;
        tw.ts_recent_stamp.set(n.now());
      }
      inet_twsk_schedule(tw, sysctl_.tcp_timewait_len);
      ack_it();
    }
    consume_skb(std::move(skb));
    return;
  }
  if (!paws_reject && cb.seq == tw.rcv_nxt && (cb.seq == cb.end_seq || (th.flags & kTcpRst))) {
    // In window: only a bare ACK or a reset can be.
    if (th.flags & kTcpRst) {
      ++stats_.tw_killed;  // TIME_WAIT assassination (RFC 1337), allowed as Linux's tcp_rfc1337 = 0 does
      inet_twsk_kill(tw);
    } else {
      inet_twsk_schedule(tw, sysctl_.tcp_timewait_len);
      if (opt.ts) {
        tw.ts_recent = opt.tsval;
        tw.ts_recent_stamp.set(n.now());
      }
    }
    consume_skb(std::move(skb));
    return;
  }
  if ((th.flags & kTcpSyn) && !(th.flags & (kTcpRst | kTcpAck)) && !paws_reject &&
      (after(cb.seq, tw.rcv_nxt) || (opt.ts && static_cast<int32_t>(tw.ts_recent - opt.tsval) < 0))) {
    // A newer SYN (TCP_TW_SYN): a listener may take it; the new connection's sequence space starts
    // beyond anything the old one used.
    if (TcpSock* l = lookup_listener(tw.loc_addr, th.dest)) {
      uint32_t isn = tw.snd_nxt + 65535 + 2;
      inet_twsk_kill(tw);
      tcp_conn_request(*l, std::move(skb), th, opt, isn ? isn : 1);
      return;
    }
    ack_it();  // no listener: TCP_TW_ACK
    consume_skb(std::move(skb));
    return;
  }
  if (!(th.flags & kTcpRst)) {
    // Out of window (a retransmitted FIN, old data, an old SYN): acknowledge. A segment with an ACK
    // (or a PAWS failure) shows the peer still sends: TIME_WAIT starts over.
    if (paws_reject || (th.flags & kTcpAck)) inet_twsk_schedule(tw, sysctl_.tcp_timewait_len);
    ack_oow();
  }
  consume_skb(std::move(skb));
}

}  // namespace ustack
