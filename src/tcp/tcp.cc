// The socket-facing half of TCP (Linux net/ipv4/tcp.c and inet_connection_sock.c): send and receive,
// close and shutdown, listen and accept, socket options and TCP_INFO.
#include <algorithm>
#include <cstring>

#include "tcp/tcp.h"

namespace ustack {

using namespace wire;

namespace {
template <class T>
bool read_opt(std::span<const std::byte> v, T& out) {
  if (v.size() < sizeof(T)) return false;
  std::memcpy(&out, v.data(), sizeof(T));
  return true;
}
template <class T>
Result<size_t> write_opt(std::span<std::byte> out, const T& v) {
  size_t n = std::min(out.size(), sizeof(T));
  std::memcpy(out.data(), &v, n);
  return n;
}
}  // namespace

// tcp_sendmsg: copy into skbs of the size goal (an MSS, or many for TSO) at the tail of the write queue,
// then push.
Result<size_t> Tcp::sendmsg(Sock& sk, std::span<const std::byte> data, int flags,
                            const std::optional<SockAddrIn>& to) {
  auto& tp = static_cast<TcpSock&>(sk);
  if (to && tp.sk_state != TcpState::kEstablished && tp.sk_state != TcpState::kCloseWait)
    return make_error(Errc::kNotConn);
  if (tp.sk_err != Errc::kOk) return make_error(tp.sock_error());
  if (tp.sk_state == TcpState::kSynSent || tp.sk_state == TcpState::kSynRecv) return make_error(Errc::kAgain);
  if ((tp.sk_state != TcpState::kEstablished && tp.sk_state != TcpState::kCloseWait) ||
      (tp.sk_shutdown & kSendShutdown))
    return make_error(Errc::kPipe);
  uint32_t size_goal = tcp_xmit_size_goal(tp, tcp_current_mss(tp));
  TcpActive& a = tp.activate();
  size_t copied = 0;
  while (copied < data.size()) {
    if (tp.wmem_queued() >= tp.sndbuf()) break;
    size_t space = tp.sndbuf() - tp.wmem_queued();
    SkBuff* tail = a.sk_write_queue.back();
    bool can_append = tail && a.send_head && tail->len() < size_goal && tail->tailroom() > 0 &&
                      !(tcp_skb_cb(*tail).tcp_flags & (kTcpFin | kTcpSyn)) && !tcp_skb_cb(*tail).eor;
    if (!can_append) {
      size_t room = kTcpHeaderLen + kTcpMaxOptionLen +
                    (tp.sk_dst_cache ? Ipv4::max_header_room(*tp.sk_dst_cache) : 128);
      SkbPtr skb = SkBuff::alloc(room, size_goal);
      skb->clear_cb();
      TcpSkbCb& cb = tcp_skb_cb(*skb);
      cb.seq = cb.end_seq = tp.write_seq;
      cb.tcp_flags = kTcpAck;
      tail = skb.get();
      a.sk_write_queue.push_back(std::move(skb));
      if (!a.send_head) a.send_head = tail;
    }
    size_t n = std::min({data.size() - copied, size_t(size_goal) - tail->len(), tail->tailroom(), space});
    if (n == 0) break;
    // A write that continues an unsent segment takes its PSH away: PSH goes where this write ends.
    if (copied == 0) tcp_skb_cb(*tail).tcp_flags &= static_cast<uint8_t>(~kTcpPsh);
    std::memcpy(a.sk_write_queue.put_tail(n).data(), data.data() + copied, n);
    tcp_skb_cb(*tail).end_seq += uint32_t(n);
    tp.write_seq += uint32_t(n);
    copied += n;
  }
  if (copied == 0) {
    tp.deactivate_if_idle();
    return make_error(Errc::kAgain);
  }
  // tcp_push / tcp_mark_push: PSH on the segment that ends what the application wrote (RFC 9293 §3.9.1:
  // the sender sets PSH where a SEND ends), unless more is promised (MSG_MORE); MSG_EOR also ends the
  // skb for good.
  if (SkBuff* tail = a.sk_write_queue.back(); tail && a.send_head) {
    if (!(flags & kMsgMore)) tcp_skb_cb(*tail).tcp_flags |= kTcpPsh;
    if (flags & kMsgEor && copied == data.size()) tcp_skb_cb(*tail).eor = true;
  }
  tcp_push(tp);
  return copied;
}

// tcp_cleanup_rbuf: after a read, tell the peer about the space we freed if the window grows a lot
// (doubles, or reopens from zero), so that a sender stuck on a small window resumes at once.
void Tcp::tcp_cleanup_rbuf(TcpSock& tp, size_t copied) {
  // Not in states where nothing more will come (after the peer's FIN).
  if (copied == 0 || tp.sk_state == TcpState::kClose || (tp.sk_shutdown & kRcvShutdown)) return;
  uint32_t rcv_window_now = tp.rcv_wup + tp.rcv_wnd - tp.rcv_nxt;
  if (static_cast<int32_t>(rcv_window_now) < 0) rcv_window_now = 0;
  uint32_t window_clamp = uint32_t(std::min<size_t>(tp.rcvbuf(), 65535u << tp.rcv_wscale));
  if (2 * uint64_t{rcv_window_now} <= window_clamp) {
    uint32_t new_window = tcp_compute_window(tp);
    if (new_window && new_window >= 2 * uint64_t{rcv_window_now}) tcp_send_ack(tp);
  }
}

// tcp_recvmsg: in-order data from the receive queue; 0 at end of stream.
Result<size_t> Tcp::recvmsg(Sock& sk, std::span<std::byte> buf, int flags, SockAddrIn* from) {
  auto& tp = static_cast<TcpSock&>(sk);
  if (tp.sk_state == TcpState::kListen) return make_error(Errc::kNotConn);
  size_t copied = 0;
  bool peek = flags & kMsgPeek;
  // An idle connection has no receive queue to read; an active one keeps it while we read.
  SkbQueue* q = tp.is_active() ? &tp.activate().sk_receive_queue : nullptr;
  SkBuff* s = q ? q->front() : nullptr;
  size_t peek_off = 0;
  while (copied < buf.size() && s) {
    size_t avail = s->len() - (peek ? peek_off : 0);
    size_t n = std::min(avail, buf.size() - copied);
    std::memcpy(buf.data() + copied, s->data() + (peek ? peek_off : 0), n);
    copied += n;
    if (peek) {
      peek_off += n;
      if (peek_off == s->len()) {
        s = SkbQueue::next(s);
        peek_off = 0;
      }
    } else if (n == s->len()) {
      q->pop_front();
      s = q->front();
    } else {
      q->pull_front(n);
    }
  }
  if (from) *from = SockAddrIn{tp.inet_daddr, tp.inet_dport};
  if (copied > 0) {
    if (!peek) {
      tcp_cleanup_rbuf(tp, copied);
    }
    tp.deactivate_if_idle();
    return copied;
  }
  tp.deactivate_if_idle();
  if (tp.sk_err != Errc::kOk) return make_error(tp.sock_error());
  if (tp.sk_shutdown & kRcvShutdown) return size_t{0};
  if (tp.sk_state == TcpState::kClose) return make_error(Errc::kNotConn);
  return make_error(Errc::kAgain);
}

// tcp_close_state: the state after our FIN, and whether a FIN is to be sent (tcp_close's new_state[]).
void Tcp::tcp_close_state_and_fin(TcpSock& tp) {
  switch (tp.sk_state) {
    case TcpState::kEstablished:
    case TcpState::kSynRecv:
      tcp_set_state(tp, TcpState::kFinWait1);
      tcp_send_fin(tp);
      break;
    case TcpState::kCloseWait:
      tcp_set_state(tp, TcpState::kLastAck);
      tcp_send_fin(tp);
      break;
    case TcpState::kSynSent:
      tcp_set_state(tp, TcpState::kClose);
      break;
    default:
      break;
  }
}

Status Tcp::shutdown(Sock& sk, int how) {
  auto& tp = static_cast<TcpSock&>(sk);
  if (how < 0 || how > 2) return make_error(Errc::kInval);
  uint8_t bits = static_cast<uint8_t>(how + 1);  // SHUT_RD 0, SHUT_WR 1, SHUT_RDWR 2 -> 1, 2, 3
  switch (tp.sk_state) {
    case TcpState::kClose:
      return make_error(Errc::kNotConn);
    case TcpState::kListen:
      if (bits & kRcvShutdown) return disconnect(tp);
      return {};
    case TcpState::kSynSent:
      return disconnect(tp);
    default:
      break;
  }
  tp.sk_shutdown |= bits;
  if ((bits & kSendShutdown) && (tp.sk_state == TcpState::kEstablished || tp.sk_state == TcpState::kSynRecv ||
                                 tp.sk_state == TcpState::kCloseWait))
    tcp_close_state_and_fin(tp);
  tp.state_change();
  return {};
}

void Tcp::tcp_write_queue_purge(TcpSock& tp) {
  if (!tp.is_active()) return;
  TcpActive& a = tp.activate();
  a.sk_write_queue.purge();
  a.send_head = nullptr;
  a.packets_out = a.retrans_out = a.lost_out = a.sacked_out = 0;
  tp.deactivate_if_idle();
}

// inet_csk_destroy_sock: the sock is finished; free it once the current processing returns.
void Tcp::inet_csk_destroy_sock(TcpSock& tp) {
  if (std::find(reap_list_.begin(), reap_list_.end(), &tp) != reap_list_.end()) return;
  tcp_clear_xmit_timers(tp);
  inet_unhash(tp);
  inet_put_port(tp);
  tp.deactivate();  // the queues go with it
  if (tp.dead && orphans_) --orphans_;
  reap_list_.push_back(&tp);
}

void Tcp::reap() {
  for (TcpSock* tp : reap_list_) socks_.destroy(tp);
  reap_list_.clear();
}

// tcp_close: the application is done with the socket.
void Tcp::close(Sock& sk) {
  auto& tp = static_cast<TcpSock&>(sk);
  tp.socket_state = SocketState::kFree;                 // sock_orphan
  if (tp.sk_extra) tp.sk_extra->wq.on_event = nullptr;  // nobody waits on an orphan
  tp.sk_shutdown = kShutdownMask;
  tp.dead = true;
  ++orphans_;
  if (tp.sk_state == TcpState::kListen) {
    inet_csk_listen_stop(tp);
    inet_csk_destroy_sock(tp);
    return;
  }
  bool data_was_unread = !tp.active().sk_receive_queue.empty();
  if (data_was_unread) tp.activate().sk_receive_queue.purge();
  if (tp.sk_state == TcpState::kClose) {
    inet_csk_destroy_sock(tp);
    return;
  }
  if (data_was_unread || (tp.linger_on && tp.lingertime().count() == 0)) {
    // RFC 2525 §2.17: closing with unread data aborts; so does SO_LINGER with a zero timeout.
    if (data_was_unread) {
      ++stats_.abort_on_close;
    } else {
      ++stats_.abort_on_linger;
    }
    if (tp.sk_state != TcpState::kSynSent) tcp_send_active_reset(tp);
    tcp_done(tp);
    return;
  }
  tcp_close_state_and_fin(tp);
  if (tp.sk_state == TcpState::kClose) {
    tcp_done(tp);
    return;
  }
  if (tp.sk_state == TcpState::kFinWait2) {
    if (tp.linger2 < 0) {  // TCP_LINGER2 < 0: no FIN_WAIT2 for an orphan, reset at once
      tcp_set_state(tp, TcpState::kClose);
      tcp_send_active_reset(tp);
      tcp_done(tp);
      return;
    }
    tcp_time_wait(tp, TcpState::kFinWait2, tcp_fin_time(tp));
  }
  if (orphans_ > sysctl_.max_orphans) {
    tcp_send_active_reset(tp);
    tcp_done(tp);
  }
}

// inet_csk_listen_stop: the listener stops (close, or shutdown/disconnect): pending handshakes vanish,
// and every connection nobody accepted is reset and freed (inet_child_forget).
void Tcp::inet_csk_listen_stop(TcpSock& tp) {
  tcp_set_state(tp, TcpState::kClose);
  std::vector<RequestSock*> reqs;
  reqhash_.for_each([&](RequestSock& r) {
    if (r.listener == &tp) reqs.push_back(&r);
  });
  for (RequestSock* r : reqs) reqsk_drop(*r);
  if (!tp.listen_state()) return;
  AcceptQueue& q = tp.listen_state()->accept_queue;
  while (!q.empty()) {
    TcpSock* child = q.front();
    q.pop_front();
    (void)disconnect(*child);
    child->socket_state = SocketState::kFree;
    child->dead = true;
    ++orphans_;
    inet_csk_destroy_sock(*child);
  }
  tp.activate().listen.reset();
  tp.deactivate_if_idle();
}

// tcp_disconnect: back to CLOSE, ready to connect again (connect with AF_UNSPEC).
Status Tcp::disconnect(Sock& sk) {
  auto& tp = static_cast<TcpSock&>(sk);
  TcpState old = tp.sk_state;
  if (old == TcpState::kListen) {
    inet_csk_listen_stop(tp);  // a listener shut down keeps no children: they would outlive it
  } else if (old != TcpState::kClose && old != TcpState::kSynSent) {
    tcp_send_active_reset(tp);
    tp.sk_err = Errc::kConnReset;
  }
  tcp_set_state(tp, TcpState::kClose);
  tcp_clear_xmit_timers(tp);
  tp.deactivate();  // the queues, the scoreboard and the recovery state go with it
  tp.sk_shutdown = 0;
  tp.inet_daddr = Ipv4Addr::any();
  tp.inet_dport = 0;
  if (!tp.port_locked) tp.inet_rcv_saddr = tp.inet_saddr = Ipv4Addr::any();
  tp.write_seq = tp.snd_una = tp.snd_nxt = 0;
  tp.snd_cwnd = sysctl_.init_cwnd;
  tp.snd_ssthresh = 0x7fffffff;
  tp.srtt = tp.rttvar = Duration(0);
  tp.rto = sysctl_.rto_init;
  tp.backoff = tp.retransmits = 0;
  tp.ca_state = CaState::kOpen;
  tp.sk_dst_cache.reset();
  tp.state_change();
  return {};
}

// inet_listen / inet_csk_listen_start.
Status Tcp::listen(Sock& sk, int backlog) {
  auto& tp = static_cast<TcpSock&>(sk);
  if (tp.sk_state != TcpState::kClose && tp.sk_state != TcpState::kListen) return make_error(Errc::kInval);
  const int max_ack_backlog = std::clamp(backlog, 0, sysctl_.somaxconn);
  if (tp.sk_state == TcpState::kListen) {
    tp.listen_state()->max_ack_backlog = max_ack_backlog;
    return {};
  }
  if (!tp.bound) {
    if (Status s = bind(tp, SockAddrIn{Ipv4Addr::any(), 0}); !s) return s;
  }
  auto& ls = listening_hash_[tp.inet_num];
  for (TcpSock* o : ls) {
    if (o->inet_rcv_saddr.is_any() || tp.inet_rcv_saddr.is_any() || o->inet_rcv_saddr == tp.inet_rcv_saddr)
      return make_error(Errc::kAddrInUse);
  }
  ls.push_back(&tp);
  TcpActive& a = tp.activate();
  a.listen = std::make_unique<TcpListenState>();
  a.listen->max_ack_backlog = max_ack_backlog;
  tcp_set_state(tp, TcpState::kListen);
  return {};
}

// inet_csk_accept: the oldest established connection, or EAGAIN.
Result<Sock*> Tcp::accept(Sock& sk) {
  auto& tp = static_cast<TcpSock&>(sk);
  if (tp.sk_state != TcpState::kListen) return make_error(Errc::kInval);
  AcceptQueue& q = tp.listen_state()->accept_queue;
  if (q.empty()) return make_error(Errc::kAgain);
  TcpSock* child = q.front();
  q.pop_front();
  return static_cast<Sock*>(child);
}

// tcp_poll.
uint16_t Tcp::poll(const Sock& sk) const {
  const auto& tp = static_cast<const TcpSock&>(sk);
  if (tp.sk_state == TcpState::kListen)
    return tp.listen_state()->accept_queue.empty() ? 0 : (kPollIn | kPollRdNorm);
  uint16_t mask = 0;
  if (tp.sk_shutdown == kShutdownMask || tp.sk_state == TcpState::kClose) mask |= kPollHup;
  if (tp.sk_shutdown & kRcvShutdown) mask |= kPollIn | kPollRdNorm | kPollRdHup;
  if (tp.sk_state != TcpState::kSynSent && tp.sk_state != TcpState::kSynRecv) {
    if (!tp.active().sk_receive_queue.empty()) mask |= kPollIn | kPollRdNorm;
    if (!(tp.sk_shutdown & kSendShutdown)) {
      // sk_stream_is_writeable: at least a third of the buffer free.
      size_t queued = tp.wmem_queued();
      if (tp.sndbuf() > queued && tp.sndbuf() - queued >= queued / 2) mask |= kPollOut | kPollWrNorm;
    } else {
      mask |= kPollOut | kPollWrNorm;  // writes fail at once with EPIPE
    }
  }
  if (tp.sk_err != Errc::kOk) mask |= kPollErr;
  return mask;
}

TcpInfo TcpSock::tcp_get_info() const {
  TcpInfo i{};
  i.state = sk_state;
  i.ca_state = ca_state;
  i.retransmits = retransmits;
  i.backoff = backoff;
  i.snd_wscale = snd_wscale;
  i.rcv_wscale = rcv_wscale;
  i.ts = ts_ok;
  i.sack = sack_ok;
  i.wscale = wscale_ok;
  i.rto_us = static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::microseconds>(rto.get()).count());
  i.ato_us = static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::microseconds>(ato.get()).count());
  i.snd_mss = mss_cache;
  i.rcv_mss = rcv_mss;
  i.unacked = active().packets_out;
  i.sacked = active().sacked_out;
  i.lost = active().lost_out;
  i.retrans = active().retrans_out;
  i.total_retrans = total_retrans;
  i.rtt_us = static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::microseconds>(srtt.get()).count());
  i.rttvar_us =
      static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::microseconds>(rttvar.get()).count());
  i.snd_ssthresh = snd_ssthresh;
  i.snd_cwnd = snd_cwnd;
  i.advmss = advmss;
  i.reordering = reordering;
  i.rcv_space = static_cast<uint32_t>(rcvbuf());
  i.snd_wnd = snd_wnd;
  i.rcv_wnd = rcv_wnd;
  i.bytes_acked = bytes_acked;
  i.bytes_received = bytes_received;
  i.bytes_sent = bytes_sent;
  i.bytes_retrans = bytes_retrans;
  i.segs_out = segs_out;
  i.segs_in = segs_in;
  i.data_segs_out = data_segs_out;
  i.data_segs_in = data_segs_in;
  i.snd_una = snd_una;
  i.snd_nxt = snd_nxt;
  i.rcv_nxt = rcv_nxt;
  return i;
}

Status Tcp::setsockopt(Sock& sk, int level, int name, std::span<const std::byte> val) {
  auto& tp = static_cast<TcpSock&>(sk);
  int v = 0;
  if (level == kSolIp && name == kIpMtuDiscover) {
    if (!read_opt(val, v) || v < 0 || v > 3) return make_error(Errc::kInval);
    tp.ip_pmtudisc = static_cast<uint8_t>(v);
    return {};
  }
  if (level == kSolTcp) {
    if (name == kTcpCongestion) {
      std::string cc(reinterpret_cast<const char*>(val.data()), val.size());
      cc = cc.substr(0, cc.find('\0'));
      std::optional<uint8_t> key = tcp_ca_find(cc);
      if (!key) return make_error(Errc::kNoEnt);
      tp.ca_key = *key;
      return {};
    }
    if (!read_opt(val, v)) return make_error(Errc::kInval);
    switch (name) {
      case kTcpLinger2:
        tp.linger2 = static_cast<int8_t>(v < 0 ? -1 : std::min(v, 120));  // TCP_FIN_TIMEOUT_MAX
        return {};
      case kTcpNoDelay:
        tp.nodelay = v != 0;
        if (tp.nodelay) tcp_push(tp);
        return {};
      case kTcpMaxSeg:
        if (v != 0 && (v < 88 || v > 65535)) return make_error(Errc::kInval);
        tp.user_mss = static_cast<uint16_t>(v);
        return {};
      case kTcpKeepIdle:
      case kTcpKeepIntvl:
        if (v < 1 || v > 32767) return make_error(Errc::kInval);
        (name == kTcpKeepIdle ? tp.timeo().keepidle_s : tp.timeo().keepintvl_s) = static_cast<uint16_t>(v);
        if (name == kTcpKeepIdle && tp.sk_keepopen && tp.sk_state == TcpState::kEstablished)
          inet_csk_reset_keepalive_timer(tp, keepalive_time_when(tp));
        return {};
      case kTcpKeepCnt:
        if (v < 1 || v > 127) return make_error(Errc::kInval);
        tp.keepalive_probes = static_cast<uint8_t>(v);
        return {};
      case kTcpQuickAck:
        if (v) tcp_enter_quickack_mode(tp);
        return {};
      default:
        return make_error(Errc::kNoProtoOpt);
    }
  }
  if (level == kSolSocket && name == kSoKeepAlive) {
    if (!read_opt(val, v)) return make_error(Errc::kInval);
    tp.sk_keepopen = v != 0;
    if (tp.sk_keepopen && tp.sk_state == TcpState::kEstablished)
      inet_csk_reset_keepalive_timer(tp, keepalive_time_when(tp));
    if (!tp.sk_keepopen) inet_csk_clear_xmit_timer(tp, TcpTimeout::kKeepalive);
    return {};
  }
  return make_error(Errc::kNoProtoOpt);
}

Result<size_t> Tcp::getsockopt(Sock& sk, int level, int name, std::span<std::byte> out) {
  auto& tp = static_cast<TcpSock&>(sk);
  if (level == kSolIp && name == kIpMtuDiscover) return write_opt(out, int(tp.ip_pmtudisc));
  if (level != kSolTcp) return make_error(Errc::kNoProtoOpt);
  switch (name) {
    case kTcpLinger2:
      return write_opt(
          out, tp.linger2 < 0 ? -1
               : tp.linger2 > 0
                   ? int(tp.linger2)
                   : int(std::chrono::duration_cast<std::chrono::seconds>(sysctl_.tcp_fin_timeout).count()));
    case kTcpNoDelay:
      return write_opt(out, int(tp.nodelay));
    case kTcpMaxSeg:
      return write_opt(out, int(tp.sk_state == TcpState::kClose || tp.sk_state == TcpState::kListen
                                    ? (tp.user_mss ? tp.user_mss : 536)
                                    : tp.mss_cache));
    case kTcpKeepIdle:
      return write_opt(
          out, int(std::chrono::duration_cast<std::chrono::seconds>(keepalive_time_when(tp)).count()));
    case kTcpKeepIntvl:
      return write_opt(
          out, int(std::chrono::duration_cast<std::chrono::seconds>(keepalive_intvl_when(tp)).count()));
    case kTcpKeepCnt:
      return write_opt(out, int(tp.keepalive_probes ? tp.keepalive_probes : sysctl_.tcp_keepalive_probes));
    case kTcpInfo:
      return write_opt(out, tp.tcp_get_info());
    case kTcpCongestion: {
      std::string n = tp.ca_ops().name();
      size_t len = std::min(out.size(), n.size() + 1);
      std::memcpy(out.data(), n.c_str(), len);
      return len;
    }
    default:
      return make_error(Errc::kNoProtoOpt);
  }
}

}  // namespace ustack
