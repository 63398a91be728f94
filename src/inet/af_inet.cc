#include "inet/af_inet.h"

namespace ustack {

const char* socket_state_name(SocketState s) {
  switch (s) {
    case SocketState::kFree:
      return "SS_FREE";
    case SocketState::kUnconnected:
      return "SS_UNCONNECTED";
    case SocketState::kConnecting:
      return "SS_CONNECTING";
    case SocketState::kConnected:
      return "SS_CONNECTED";
    case SocketState::kDisconnecting:
      return "SS_DISCONNECTING";
  }
  return "?";
}

const InetProtosw* InetSw::lookup(int type, int protocol) const {
  for (const auto& e : entries_)
    if (e.type == type && (protocol == 0 || protocol == e.protocol)) return &e;
  return nullptr;
}

void sock_graft(Socket& sock, Sock& sk) { sock.sk = &sk; }

Result<std::unique_ptr<Socket>> inet_create(const InetSw& sw, int type, int protocol) {
  const InetProtosw* e = sw.lookup(type, protocol);
  if (!e) {
    bool type_known = sw.lookup(type, 0) != nullptr;
    return make_error(type_known ? Errc::kProtoNoSupport : Errc::kProtoType);
  }
  auto sock = std::make_unique<Socket>();
  Sock* sk = e->prot->create();  // sk_alloc + sk_prot->init
  if (!sk) return make_error(Errc::kNoBufs);
  sk->sk_type = static_cast<uint8_t>(type);
  sk->socket_state = SocketState::kUnconnected;
  if (sk->net().trace.on()) {
    sk->net().trace.emit("sock_create",
                         "family=AF_INET type=%s protocol=%d -> __sock_create: sock_alloc, pf->create",
                         type == kSockStream ? "SOCK_STREAM" : "SOCK_DGRAM", protocol);
  }
  sock_graft(*sock, *sk);
  if (sk->net().trace.on()) {
    sk->net().trace.emit("inet_create", "inetsw[%s] -> prot=%s ops=%s; sock_init_data: %s, sk_state=%s",
                         type == kSockStream ? "SOCK_STREAM" : "SOCK_DGRAM", e->prot->name(),
                         inet_ops(sk->sk_type).name, socket_state_name(sk->socket_state),
                         tcp_state_name(sk->sk_state));
  }
  return sock;
}

void inet_release(Socket& sock) {
  if (!sock.sk) return;
  Sock* sk = sock.sk;
  sk->socket_state = SocketState::kFree;  // sock_orphan
  sock.sk = nullptr;
  sk->sk_prot->close(*sk);
}

namespace {

Duration timeo(bool nonblock, Duration t) { return nonblock ? Duration(0) : t; }

// inet_stream_connect: the seeds' path, SS_* first, then the protocol.
Status inet_stream_connect(Socket& sock, const SockAddrIn& addr, bool nonblock, const Waiter& wait) {
  Sock& sk = *sock.sk;
  NetCore& net = sk.net();
  if (addr.family == kAfUnspec) {
    Status s = sk.sk_prot->disconnect(sk);
    sock.state() = s ? SocketState::kUnconnected : SocketState::kDisconnecting;
    return s;
  }
  if (addr.family != kAfInet) return make_error(Errc::kAfNoSupport);
  Errc err;
  switch (sock.state()) {
    case SocketState::kConnected:
      return make_error(Errc::kIsConn);
    case SocketState::kConnecting:
      err = Errc::kAlready;
      break;
    case SocketState::kUnconnected: {
      if (sk.sk_state != TcpState::kClose) return make_error(Errc::kIsConn);
      if (net.trace.on()) {
        net.trace.emit("inet_stream_connect", "%s sk_state=%s -> sk_prot->connect (tcp_v4_connect) %s",
                       socket_state_name(sock.state()), tcp_state_name(sk.sk_state),
                       addr.to_string().c_str());
      }
      Status s = sk.sk_prot->connect(sk, addr);
      if (!s) return s;
      sock.state() = SocketState::kConnecting;
      err = Errc::kInProgress;
      break;
    }
    default:
      return make_error(Errc::kInval);
  }
  Duration t = timeo(nonblock, sk.sndtimeo());
  if (sk.sk_state == TcpState::kSynSent || sk.sk_state == TcpState::kSynRecv) {
    if (t.count() == 0) return make_error(err);
    // inet_wait_for_connect: sleep until the handshake ends one way or the other.
    if (net.trace.on())
      net.trace.emit("inet_wait_for_connect", "SS_CONNECTING, waiting (timeout %s)",
                     t == Duration::max() ? "none" : "SO_SNDTIMEO");
    bool done =
        wait([&sk] { return sk.sk_state != TcpState::kSynSent && sk.sk_state != TcpState::kSynRecv; }, t);
    if (!done) return make_error(err);
  }
  if (sk.sk_state == TcpState::kClose) {
    // Connection refused, timed out, or reset.
    Errc e = sk.sock_error();
    sock.state() = SocketState::kUnconnected;
    (void)sk.sk_prot->disconnect(sk);
    return make_error(e != Errc::kOk ? e : Errc::kConnAborted);
  }
  sock.state() = SocketState::kConnected;
  if (net.trace.on())
    net.trace.emit("inet_stream_connect", "woken: sk_state=%s -> %s, connect() returns 0",
                   tcp_state_name(sk.sk_state), socket_state_name(sock.state()));
  return {};
}

Status inet_dgram_connect(Socket& sock, const SockAddrIn& addr, bool, const Waiter&) {
  Sock& sk = *sock.sk;
  if (addr.family == kAfUnspec) {
    Status s = sk.sk_prot->disconnect(sk);
    sock.state() = SocketState::kUnconnected;
    return s;
  }
  if (addr.family != kAfInet) return make_error(Errc::kAfNoSupport);
  Status s = sk.sk_prot->connect(sk, addr);
  if (s) sock.state() = SocketState::kConnected;
  return s;
}

Status inet_listen(Socket& sock, int backlog) {
  if (sock.state() != SocketState::kUnconnected || sock.type() != kSockStream)
    return make_error(Errc::kInval);
  return sock.sk->sk_prot->listen(*sock.sk, backlog);
}

Status no_listen(Socket&, int) { return make_error(Errc::kOpNotSupp); }

Result<std::unique_ptr<Socket>> inet_accept(Socket& sock, bool nonblock, const Waiter& wait) {
  Sock& sk = *sock.sk;
  auto r = sk.sk_prot->accept(sk);
  if (!r && r.error() == Errc::kAgain) {
    Duration t = timeo(nonblock, sk.rcvtimeo());
    if (t.count() == 0) return make_error(Errc::kAgain);
    wait([&sk] { return (sk.sk_prot->poll(sk) & kPollIn) || sk.sk_state != TcpState::kListen; }, t);
    r = sk.sk_prot->accept(sk);
  }
  if (!r) return make_error(r.error());
  auto newsock = std::make_unique<Socket>();
  sock_graft(*newsock, **r);
  (*r)->sk_type = sock.type();
  (*r)->socket_state = SocketState::kConnected;
  return newsock;
}

Result<std::unique_ptr<Socket>> no_accept(Socket&, bool, const Waiter&) {
  return make_error(Errc::kOpNotSupp);
}

// inet_sendmsg for streams: block (up to SO_SNDTIMEO) while the send buffer is full.
Result<size_t> inet_stream_sendmsg(Socket& sock, std::span<const std::byte> data, int flags,
                                   const std::optional<SockAddrIn>& to, const Waiter& wait) {
  Sock& sk = *sock.sk;
  bool nb = sock.nonblock() || (flags & kMsgDontWait);
  Duration t = timeo(nb, sk.sndtimeo());
  size_t sent = 0;
  for (;;) {
    auto r = sk.sk_prot->sendmsg(sk, data.subspan(sent), flags, to);
    if (r) sent += *r;
    if (sent == data.size()) return sent;
    if (!r && r.error() != Errc::kAgain) return sent ? Result<size_t>(sent) : make_error(r.error());
    if (t.count() == 0) return sent ? Result<size_t>(sent) : make_error(Errc::kAgain);
    bool ready = wait([&sk] { return (sk.sk_prot->poll(sk) & (kPollOut | kPollErr | kPollHup)) != 0; }, t);
    if (!ready) return sent ? Result<size_t>(sent) : make_error(Errc::kAgain);
  }
}

Result<size_t> inet_recvmsg(Socket& sock, std::span<std::byte> buf, int flags, SockAddrIn* from,
                            const Waiter& wait) {
  Sock& sk = *sock.sk;
  bool nb = sock.nonblock() || (flags & kMsgDontWait);
  Duration t = timeo(nb, sk.rcvtimeo());
  bool waitall = (flags & kMsgWaitAll) && sock.type() == kSockStream && !(flags & kMsgPeek);
  size_t got = 0;
  for (;;) {
    auto r = sk.sk_prot->recvmsg(sk, buf.subspan(got), flags, from);
    if (r) {
      got += *r;
      if (!waitall || got == buf.size() || *r == 0) return got;
    } else if (r.error() != Errc::kAgain) {
      return got ? Result<size_t>(got) : make_error(r.error());
    }
    if (t.count() == 0) return got ? Result<size_t>(got) : make_error(Errc::kAgain);
    bool ready = wait([&sk] { return (sk.sk_prot->poll(sk) & (kPollIn | kPollErr | kPollHup)) != 0; }, t);
    if (!ready) return got ? Result<size_t>(got) : make_error(Errc::kAgain);
  }
}

Result<size_t> inet_dgram_sendmsg(Socket& sock, std::span<const std::byte> data, int flags,
                                  const std::optional<SockAddrIn>& to, const Waiter&) {
  return sock.sk->sk_prot->sendmsg(*sock.sk, data, flags, to);
}

// inet_shutdown: the socket state follows, then the protocol.
Status inet_shutdown(Socket& sock, int how) {
  Sock& sk = *sock.sk;
  if (how < 0 || how > 2) return make_error(Errc::kInval);
  if (sock.state() == SocketState::kConnecting) {
    sock.state() = (sk.sk_state == TcpState::kSynSent || sk.sk_state == TcpState::kSynRecv ||
                    sk.sk_state == TcpState::kClose)
                       ? SocketState::kDisconnecting
                       : SocketState::kConnected;
  }
  if (sock.type() == kSockDgram && sock.state() != SocketState::kConnected) return make_error(Errc::kNotConn);
  Status s = sk.sk_prot->shutdown(sk, how);
  return s;
}

uint16_t inet_poll(const Socket& sock) { return sock.sk->sk_prot->poll(*sock.sk); }

}  // namespace

const ProtoOps inet_stream_ops = {"inet_stream_ops",   inet_stream_connect, inet_accept,   inet_listen,
                                  inet_stream_sendmsg, inet_recvmsg,        inet_shutdown, inet_poll};
const ProtoOps inet_dgram_ops = {"inet_dgram_ops",   inet_dgram_connect, no_accept,     no_listen,
                                 inet_dgram_sendmsg, inet_recvmsg,       inet_shutdown, inet_poll};

}  // namespace ustack
