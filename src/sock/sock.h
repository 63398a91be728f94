// Sock: the protocol side of a socket (Linux struct sock with struct inet_sock folded in), and Proto,
// the protocol's operations (struct proto: tcp_prot, udp_prot). The user side, struct socket with its
// SS_* state and proto_ops, is in src/inet/af_inet.h; the split is the kernel's: a Sock can outlive its
// socket (an orphaned TCP connection finishing its close).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>

#include "core/net.h"
#include "ipv4/route.h"
#include "ustack/addr.h"
#include "ustack/result.h"

namespace ustack {

// TCP states with Linux's numbering (include/net/tcp_states.h); UDP uses kEstablished and kClose too.
enum class TcpState : uint8_t {
  kEstablished = 1,
  kSynSent,
  kSynRecv,
  kFinWait1,
  kFinWait2,
  kTimeWait,
  kClose,
  kCloseWait,
  kLastAck,
  kListen,
  kClosing,
};
const char* tcp_state_name(TcpState s);

// The user side's state (struct socket's SS_*), apart from the protocol's.
enum class SocketState : uint8_t { kFree, kUnconnected, kConnecting, kConnected, kDisconnecting };
const char* socket_state_name(SocketState s);

enum ShutdownBits : uint8_t { kRcvShutdown = 1, kSendShutdown = 2, kShutdownMask = 3 };

// poll(2) event bits, with Linux's values.
enum PollEvents : uint16_t {
  kPollIn = 0x001,
  kPollPri = 0x002,
  kPollOut = 0x004,
  kPollErr = 0x008,
  kPollHup = 0x010,
  kPollNval = 0x020,
  kPollRdNorm = 0x040,
  kPollWrNorm = 0x100,
  kPollRdHup = 0x2000,
};

// Message flags for send and receive, Linux's values.
enum MsgFlags : int {
  kMsgPeek = 0x2,
  kMsgDontWait = 0x40,
  kMsgEor = 0x80,
  kMsgWaitAll = 0x100,
  kMsgNoSignal = 0x4000,
  kMsgMore = 0x8000,
};

// Socket option levels and names we take (Linux values).
inline constexpr int kSolSocket = 1;
inline constexpr int kSolTcp = 6;
inline constexpr int kSolIp = 0;
enum SockOpt : int {
  kSoReuseAddr = 2,
  kSoError = 4,
  kSoBroadcast = 6,
  kSoSndBuf = 7,
  kSoRcvBuf = 8,
  kSoKeepAlive = 9,
  kSoLinger = 13,
  kSoRcvTimeo = 20,
  kSoSndTimeo = 21,
};
enum TcpOpt : int {
  kTcpNoDelay = 1,
  kTcpMaxSeg = 2,
  kTcpKeepIdle = 4,
  kTcpKeepIntvl = 5,
  kTcpKeepCnt = 6,
  kTcpLinger2 = 8,
  kTcpInfo = 11,
  kTcpQuickAck = 12,
  kTcpCongestion = 13,
};
enum IpOpt : int { kIpTos = 1, kIpTtl = 2, kIpMtuDiscover = 10 };
struct Linger {
  int l_onoff;
  int l_linger;
};
struct Timeval {
  int64_t tv_sec;
  int64_t tv_usec;
};

class Sock;
class Socket;

// struct proto: what a transport protocol does for its socks.
class Proto {
 public:
  explicit Proto(NetCore& net) : net_(net) {}
  virtual ~Proto() = default;
  NetCore& net() const { return net_; }
  virtual const char* name() const = 0;
  // sk_alloc + sk->sk_prot->init (tcp_v4_init_sock): a new sock owned by the protocol until close().
  virtual Sock* create() = 0;
  virtual Status bind(Sock& sk, SockAddrIn addr) = 0;
  virtual Status connect(Sock& sk, SockAddrIn addr) = 0;
  virtual Status disconnect(Sock& sk) = 0;
  virtual Status listen(Sock& sk, int backlog) = 0;
  // A connection from the accept queue, or EAGAIN.
  virtual Result<Sock*> accept(Sock& sk) = 0;
  virtual Result<size_t> sendmsg(Sock& sk, std::span<const std::byte> data, int flags,
                                 const std::optional<SockAddrIn>& to) = 0;
  virtual Result<size_t> recvmsg(Sock& sk, std::span<std::byte> buf, int flags, SockAddrIn* from) = 0;
  virtual Status shutdown(Sock& sk, int how) = 0;
  // The socket is gone: finish (or abort) and free the sock when done. Nothing may touch `sk` after.
  virtual void close(Sock& sk) = 0;
  virtual Status setsockopt(Sock& sk, int level, int name, std::span<const std::byte> val) = 0;
  virtual Result<size_t> getsockopt(Sock& sk, int level, int name, std::span<std::byte> out) = 0;
  // The readiness mask (tcp_poll, udp_poll).
  virtual uint16_t poll(const Sock& sk) const = 0;
  // The buffer sizes of a sock that did not set SO_RCVBUF or SO_SNDBUF (net.ipv4.tcp_rmem[1] and
  // net.core.rmem_default, and their send-side peers).
  virtual uint32_t default_rcvbuf() const = 0;
  virtual uint32_t default_sndbuf() const = 0;

 private:
  NetCore& net_;  // the stack the protocol and its socks belong to
};

// struct socket_wq: whoever is told of a sock's events (state change, data, write space, error). The
// sock holds one in its SockExtra; an event loop puts its callback there. A plain struct, not an
// interface: a virtual table pointer would cost every socket a word.
struct SocketWq {
  std::function<void()> on_event;  // run on every event; may be empty
};

// SO_RCVTIMEO, SO_SNDTIMEO and SO_LINGER's time (sk_rcvtimeo, sk_sndtimeo, sk_lingertime), and TCP's
// keepalive times.
struct SockTimeo {
  Duration sk_rcvtimeo = Duration::max();
  Duration sk_sndtimeo = Duration::max();
  Duration sk_lingertime{0};
  // A TCP sock's TCP_KEEPIDLE and TCP_KEEPINTVL in seconds, 1..32767 (MAX_TCP_KEEPIDLE,
  // MAX_TCP_KEEPINTVL); 0: the sysctl.
  uint16_t keepidle_s = 0, keepintvl_s = 0;
  bool operator==(const SockTimeo&) const = default;
};

// What few socks use, out of line and made when the first of it is set: whoever waits on the sock
// (Linux's sk_wq, which points into struct socket; an event loop's callback), the timeouts and the
// buffer sizes. One pointer for all of it: every connection carries it.
struct SockExtra {
  SocketWq wq;
  SockTimeo timeo;
  // SO_RCVBUF and SO_SNDBUF in bytes, once set: 32 bits, as the kernel's int (setsockopt caps them at
  // 64 MiB). 0: the protocol's default (Proto::default_rcvbuf), read when used, so that a sock that
  // never set them follows the setting.
  uint32_t sk_rcvbuf = 0;
  uint32_t sk_sndbuf = 0;
};

class Sock {
 public:
  explicit Sock(Proto& prot) : sk_prot(&prot) {}
  Sock(const Sock&) = delete;
  Sock& operator=(const Sock&) = delete;

  NetCore& net() const { return sk_prot->net(); }  // no pointer of its own: every connection has a Sock

  // sock_error: the pending error, cleared once read.
  Errc sock_error() { return std::exchange(sk_err, Errc::kOk); }

  // The sock_def_* callbacks: every event wakes whoever waits on or polls the sock (sk_extra->wq).
  void state_change() { wake(); }
  void data_ready() { wake(); }
  void write_space() { wake(); }
  void error_report() { wake(); }

  // The fields go from words down to bytes so that none pads: every connection carries a Sock, and
  // its TcpSock's first fields take the last bytes of its last word.
  Proto* sk_prot;
  std::unique_ptr<SockExtra> sk_extra;  // nullptr: no callback, the default timeouts
  SockExtra& extra() {
    if (!sk_extra) sk_extra = std::make_unique<SockExtra>();
    return *sk_extra;
  }
  Duration rcvtimeo() const { return sk_extra ? sk_extra->timeo.sk_rcvtimeo : Duration::max(); }
  Duration sndtimeo() const { return sk_extra ? sk_extra->timeo.sk_sndtimeo : Duration::max(); }
  Duration lingertime() const { return sk_extra ? sk_extra->timeo.sk_lingertime : Duration(0); }
  SockTimeo& timeo() { return extra().timeo; }
  // SO_RCVBUF and SO_SNDBUF (sk_rcvbuf, sk_sndbuf): the sock's own, or its protocol's default.
  uint32_t rcvbuf() const {
    return sk_extra && sk_extra->sk_rcvbuf ? sk_extra->sk_rcvbuf : sk_prot->default_rcvbuf();
  }
  uint32_t sndbuf() const {
    return sk_extra && sk_extra->sk_sndbuf ? sk_extra->sk_sndbuf : sk_prot->default_sndbuf();
  }
  DstPtr sk_dst_cache;

  // inet_sock: the bound and connected addresses and ports, host order.
  Ipv4Addr inet_rcv_saddr;  // bound address (any: all)
  Ipv4Addr inet_saddr;      // source address in use
  Ipv4Addr inet_daddr;
  uint16_t inet_num = 0;  // local port, host order (inet_sport)
  uint16_t inet_dport = 0;

  TcpState sk_state = TcpState::kClose;
  uint8_t sk_shutdown = 0;
  bool sk_reuse : 1 = false;      // SO_REUSEADDR
  bool sk_keepopen : 1 = false;   // SO_KEEPALIVE
  bool sk_broadcast : 1 = false;  // SO_BROADCAST
  bool linger_on : 1 = false;     // SO_LINGER
  uint8_t uc_ttl = 0;             // IP_TTL (inet_sock); 0: the route's default
  uint8_t tos = 0;                // IP_TOS (inet_sock)
  Errc sk_err = Errc::kOk;
  Errc sk_err_soft = Errc::kOk;
  uint8_t sk_type = 0;  // kSockStream or kSockDgram
  // The socket's side, held here so that the descriptor table is an array of sock pointers, as the
  // kernel's is one of file pointers: struct socket's state (kFree: the sock has no socket, not yet
  // accepted or orphaned, Linux's sk_socket == NULL) and the file's O_NONBLOCK.
  SocketState socket_state = SocketState::kFree;
  bool socket_nonblock = false;

 protected:
  // Not virtual: a sock is freed by its protocol, which knows its type (and a virtual table pointer
  // would cost every connection a word).
  ~Sock() = default;

 private:
  void wake() {
    if (sk_extra && sk_extra->wq.on_event) sk_extra->wq.on_event();
  }
};

}  // namespace ustack
