#include "socket/socket.h"

#include <algorithm>
#include <cstring>

namespace ustack {

namespace {
constexpr size_t kSockMinRcvbuf = 2304;  // SOCK_MIN_RCVBUF
constexpr size_t kSockMinSndbuf = 4608;
constexpr size_t kBufMax = 64 << 20;

Duration from_timeval(const Timeval& tv) {
  if (tv.tv_sec == 0 && tv.tv_usec == 0) return Duration::max();  // 0 means wait for ever
  return std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec);
}
Timeval to_timeval(Duration d) {
  if (d == Duration::max()) return Timeval{0, 0};
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  return Timeval{us / 1000000, us % 1000000};
}
template <class T>
Result<size_t> put(std::span<std::byte> out, const T& v) {
  size_t n = std::min(out.size(), sizeof(T));
  std::memcpy(out.data(), &v, n);
  return n;
}
}  // namespace

SocketApi::~SocketApi() {
  for (size_t i = 0; i < fds_.size(); ++i)
    if (in_use(fds_[i])) inet_release(fds_[i]);
}

Socket* SocketApi::lookup(int fd) const {
  size_t i = static_cast<size_t>(fd - kFirstFd);
  if (fd < kFirstFd || i >= fds_.size() || !in_use(fds_[i])) return nullptr;
  return const_cast<Socket*>(&fds_[i]);
}

size_t SocketApi::open_count() const {
  size_t n = 0;
  for (size_t i = 0; i < fds_.size(); ++i) n += in_use(fds_[i]);
  return n;
}

// sock_map_fd: the lowest free descriptor, as POSIX requires, searched from the lowest that may be
// free (next_fd) so that opening many descriptors in a row costs O(1) each. The socket moves into
// the table, and its sock follows it (sock_graft again).
int SocketApi::install(std::unique_ptr<Socket> s) {
  while (next_fd_ < fds_.size() && in_use(fds_[next_fd_])) ++next_fd_;
  if (next_fd_ == fds_.size()) fds_.grow();
  fds_[next_fd_] = *s;
  return static_cast<int>(next_fd_++) + kFirstFd;
}

Result<int> SocketApi::socket(int domain, int type, int protocol) {
  if (domain != kAfInet) return make_error(Errc::kAfNoSupport);
  bool nonblock = type & kSockNonblock;
  type &= ~kSockNonblock;
  auto r = inet_create(sw_, type, protocol);
  if (!r) return make_error(r.error());
  (*r)->nonblock() = nonblock;
  Sock* sk = (*r)->sk;
  int fd = install(std::move(*r));
  if (sk->net().trace.on()) sk->net().trace.emit("sock_map_fd", "fd=%d", fd);
  return fd;
}

Status SocketApi::bind(int fd, const SockAddrIn& addr) {
  Socket* s = lookup(fd);
  if (!s) return make_error(Errc::kBadFd);
  if (addr.family != kAfInet) return make_error(Errc::kAfNoSupport);
  return s->sk->sk_prot->bind(*s->sk, addr);
}

Status SocketApi::listen(int fd, int backlog) {
  Socket* s = lookup(fd);
  if (!s) return make_error(Errc::kBadFd);
  return s->ops().listen(*s, backlog);
}

Result<int> SocketApi::accept(int fd, SockAddrIn* peer, int flags) {
  Socket* s = lookup(fd);
  if (!s) return make_error(Errc::kBadFd);
  auto r = s->ops().accept(*s, s->nonblock(), wait_);
  if (!r) return make_error(r.error());
  (*r)->nonblock() = flags & kSockNonblock;
  Sock* sk = (*r)->sk;
  if (peer) *peer = SockAddrIn{sk->inet_daddr, sk->inet_dport};
  return install(std::move(*r));
}

Status SocketApi::connect(int fd, const SockAddrIn& addr) {
  Socket* s = lookup(fd);
  if (!s) return make_error(Errc::kBadFd);
  if (s->sk->net().trace.on()) {
    s->sk->net().trace.emit("connect", "fd=%d -> sock->ops->connect (%s) %s", fd, s->ops().name,
                            addr.to_string().c_str());
  }
  return s->ops().connect(*s, addr, s->nonblock(), wait_);
}

Result<size_t> SocketApi::send(int fd, std::span<const std::byte> data, int flags) {
  Socket* s = lookup(fd);
  if (!s) return make_error(Errc::kBadFd);
  // A null buffer with a length: the copy from user memory would fault (Linux's -EFAULT).
  if (data.data() == nullptr && !data.empty()) return make_error(Errc::kFault);
  return s->ops().sendmsg(*s, data, flags, std::nullopt, wait_);
}

Result<size_t> SocketApi::sendto(int fd, std::span<const std::byte> data, int flags, const SockAddrIn& to) {
  Socket* s = lookup(fd);
  if (!s) return make_error(Errc::kBadFd);
  if (data.data() == nullptr && !data.empty()) return make_error(Errc::kFault);
  return s->ops().sendmsg(*s, data, flags, to, wait_);
}

Result<size_t> SocketApi::recv(int fd, std::span<std::byte> buf, int flags) {
  return recvfrom(fd, buf, flags, nullptr);
}

Result<size_t> SocketApi::recvfrom(int fd, std::span<std::byte> buf, int flags, SockAddrIn* from) {
  Socket* s = lookup(fd);
  if (!s) return make_error(Errc::kBadFd);
  if (buf.data() == nullptr && !buf.empty()) return make_error(Errc::kFault);
  return s->ops().recvmsg(*s, buf, flags, from, wait_);
}

Status SocketApi::shutdown(int fd, int how) {
  Socket* s = lookup(fd);
  if (!s) return make_error(Errc::kBadFd);
  return s->ops().shutdown(*s, how);
}

Status SocketApi::close(int fd) {
  Socket* s = lookup(fd);
  if (!s) return make_error(Errc::kBadFd);
  Sock* sk = s->sk;
  // SO_LINGER with a timeout on a blocking socket: send the FIN and wait for it to be acknowledged
  // (tcp_close's sk_stream_wait_close) before the socket goes.
  if (sk && sk->linger_on && sk->lingertime().count() > 0 && !s->nonblock() && s->type() == kSockStream &&
      (sk->sk_state == TcpState::kEstablished || sk->sk_state == TcpState::kCloseWait)) {
    (void)sk->sk_prot->shutdown(*sk, 1);
    wait_(
        [sk] {
          return sk->sk_state != TcpState::kFinWait1 && sk->sk_state != TcpState::kClosing &&
                 sk->sk_state != TcpState::kLastAck;
        },
        sk->lingertime());
  }
  inet_release(*s);
  const size_t i = static_cast<size_t>(fd - kFirstFd);
  fds_[i] = Socket{};
  next_fd_ = std::min(next_fd_, i);
  return {};
}

Result<SockAddrIn> SocketApi::getsockname(int fd) const {
  Socket* s = lookup(fd);
  if (!s) return make_error(Errc::kBadFd);
  Sock* sk = s->sk;
  return SockAddrIn{sk->inet_rcv_saddr.is_any() ? sk->inet_saddr : sk->inet_rcv_saddr, sk->inet_num};
}

Result<SockAddrIn> SocketApi::getpeername(int fd) const {
  Socket* s = lookup(fd);
  if (!s) return make_error(Errc::kBadFd);
  Sock* sk = s->sk;
  if (sk->inet_dport == 0 || (s->type() == kSockStream && s->state() != SocketState::kConnected &&
                              sk->sk_state != TcpState::kEstablished && sk->sk_state != TcpState::kCloseWait))
    return make_error(Errc::kNotConn);
  return SockAddrIn{sk->inet_daddr, sk->inet_dport};
}

// sock_setsockopt for SOL_SOCKET and the IP level; the rest goes to the protocol.
Status SocketApi::setsockopt(int fd, int level, int name, std::span<const std::byte> val) {
  Socket* s = lookup(fd);
  if (!s) return make_error(Errc::kBadFd);
  Sock& sk = *s->sk;
  int v = 0;
  bool has_int = val.size() >= sizeof(int);
  if (has_int) std::memcpy(&v, val.data(), sizeof v);
  if (level == kSolSocket) {
    switch (name) {
      case kSoReuseAddr:
        if (!has_int) return make_error(Errc::kInval);
        sk.sk_reuse = v != 0;
        return {};
      case kSoBroadcast:
        if (!has_int) return make_error(Errc::kInval);
        sk.sk_broadcast = v != 0;
        return {};
      case kSoRcvBuf:
      case kSoSndBuf: {
        if (!has_int) return make_error(Errc::kInval);
        // Linux doubles the value to leave room for bookkeeping, and keeps a floor.
        size_t b = std::min<size_t>(size_t(std::max(v, 0)) * 2, kBufMax);
        if (name == kSoRcvBuf) {
          sk.extra().sk_rcvbuf = static_cast<uint32_t>(std::max(b, kSockMinRcvbuf));
        } else {
          sk.extra().sk_sndbuf = static_cast<uint32_t>(std::max(b, kSockMinSndbuf));
        }
        return {};
      }
      case kSoRcvTimeo:
      case kSoSndTimeo: {
        Timeval tv{};
        if (val.size() < sizeof tv) return make_error(Errc::kInval);
        std::memcpy(&tv, val.data(), sizeof tv);
        if (tv.tv_sec < 0 || tv.tv_usec < 0 || tv.tv_usec >= 1000000) return make_error(Errc::kDom);
        SockTimeo& t = sk.timeo();
        (name == kSoRcvTimeo ? t.sk_rcvtimeo : t.sk_sndtimeo) = from_timeval(tv);
        return {};
      }
      case kSoLinger: {
        Linger l{};
        if (val.size() < sizeof l) return make_error(Errc::kInval);
        std::memcpy(&l, val.data(), sizeof l);
        sk.linger_on = l.l_onoff != 0;
        sk.timeo().sk_lingertime = std::chrono::seconds(std::max(l.l_linger, 0));
        return {};
      }
      case kSoKeepAlive:
        if (!has_int) return make_error(Errc::kInval);
        sk.sk_keepopen = v != 0;
        if (s->type() == kSockStream) return sk.sk_prot->setsockopt(sk, level, name, val);
        return {};
      default:
        return make_error(Errc::kNoProtoOpt);
    }
  }
  if (level == kSolIp && (name == kIpTos || name == kIpTtl)) {
    if (!has_int) return make_error(Errc::kInval);
    if (name == kIpTtl) {
      if (v < -1 || v > 255 || v == 0) return make_error(Errc::kInval);
      sk.uc_ttl = v == -1 ? 0 : static_cast<uint8_t>(v);
    } else {
      sk.tos = static_cast<uint8_t>(v & 0xfc);
    }
    return {};
  }
  return sk.sk_prot->setsockopt(sk, level, name, val);
}

Result<size_t> SocketApi::getsockopt(int fd, int level, int name, std::span<std::byte> out) {
  Socket* s = lookup(fd);
  if (!s) return make_error(Errc::kBadFd);
  Sock& sk = *s->sk;
  if (level == kSolSocket) {
    switch (name) {
      case kSoError:
        return put(out, int(sk.sock_error()));
      case kSoReuseAddr:
        return put(out, int(sk.sk_reuse));
      case kSoBroadcast:
        return put(out, int(sk.sk_broadcast));
      case kSoKeepAlive:
        return put(out, int(sk.sk_keepopen));
      case kSoRcvBuf:
        return put(out, int(sk.rcvbuf()));
      case kSoSndBuf:
        return put(out, int(sk.sndbuf()));
      case kSoRcvTimeo:
        return put(out, to_timeval(sk.rcvtimeo()));
      case kSoSndTimeo:
        return put(out, to_timeval(sk.sndtimeo()));
      case kSoLinger:
        return put(out,
                   Linger{sk.linger_on ? 1 : 0,
                          int(std::chrono::duration_cast<std::chrono::seconds>(sk.lingertime()).count())});
      default:
        return make_error(Errc::kNoProtoOpt);
    }
  }
  if (level == kSolIp && name == kIpTtl) return put(out, int(sk.uc_ttl ? sk.uc_ttl : 64));
  if (level == kSolIp && name == kIpTos) return put(out, int(sk.tos));
  return sk.sk_prot->getsockopt(sk, level, name, out);
}

Result<int> SocketApi::getsockopt_int(int fd, int level, int name) {
  int v = 0;
  auto r = getsockopt(fd, level, name, std::as_writable_bytes(std::span(&v, 1)));
  if (!r) return make_error(r.error());
  return v;
}

Status SocketApi::set_nonblock(int fd, bool on) {
  Socket* s = lookup(fd);
  if (!s) return make_error(Errc::kBadFd);
  s->nonblock() = on;
  return {};
}

Status SocketApi::set_event_callback(int fd, std::function<void()> cb) {
  Socket* s = lookup(fd);
  if (!s) return make_error(Errc::kBadFd);
  if (!s->sk) return make_error(Errc::kBadFd);
  s->sk->extra().wq.on_event = std::move(cb);
  return {};
}

Result<int> SocketApi::poll(std::span<PollFd> fds, Duration timeout) {
  auto scan = [&] {
    int ready = 0;
    for (auto& p : fds) {
      Socket* s = lookup(p.fd);
      if (!s) {
        p.revents = p.fd < 0 ? 0 : kPollNval;
      } else {
        uint16_t m = s->ops().poll(*s);
        p.revents = m & (p.events | kPollErr | kPollHup | kPollNval);
      }
      if (p.revents) ++ready;
    }
    return ready;
  };
  int n = scan();
  if (n > 0 || timeout.count() == 0) return n;
  wait_([&] { return scan() > 0; }, timeout);
  return scan();
}

}  // namespace ustack
