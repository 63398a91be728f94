// The user side of a socket (Linux struct socket and net/ipv4/af_inet.c): the socket state SS_* apart
// from the protocol state, the protocol switch (inetsw) that inet_create consults, and the stream and
// datagram operations (inet_stream_ops, inet_dgram_ops) that the BSD calls dispatch to.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>

#include "sock/sock.h"
#include "ustack/result.h"

namespace ustack {

inline constexpr int kSockStream = 1;
inline constexpr int kSockDgram = 2;
inline constexpr int kIpProtoTcpNum = 6;
inline constexpr int kIpProtoUdpNum = 17;

// How a blocking call waits: run the stack until `cond()` holds or `timeout` passes; true if it held.
// The stack's driver provides it (a Sim runs virtual time, an EventLoop real time).
using Waiter = std::function<bool(const std::function<bool()>& cond, Duration timeout)>;

struct ProtoOps;

// struct socket, as a handle: the descriptor table holds one per descriptor, and it is one pointer. What
// struct socket and struct file keep (the SS_* state, O_NONBLOCK, the type) the sock holds for it (see
// Sock::socket_state); a sock can outlive its socket, never the other way round. The socket's wait
// queue is its sock's sk_extra->wq: every sock event runs its callback, for event loops.
class Socket {
 public:
  Sock* sk = nullptr;  // nullptr: a free descriptor slot
  SocketState& state() { return sk->socket_state; }
  SocketState state() const { return sk->socket_state; }
  bool& nonblock() { return sk->socket_nonblock; }
  bool nonblock() const { return sk->socket_nonblock; }
  uint8_t type() const { return sk->sk_type; }
  inline const ProtoOps& ops() const;
};
static_assert(sizeof(Socket) == sizeof(Sock*), "the descriptor table holds a Socket per descriptor");

// struct proto_ops: the per-type operations; blocking waits go through `wait`.
struct ProtoOps {
  const char* name;
  Status (*connect)(Socket& sock, const SockAddrIn& addr, bool nonblock, const Waiter& wait);
  Result<std::unique_ptr<Socket>> (*accept)(Socket& sock, bool nonblock, const Waiter& wait);
  Status (*listen)(Socket& sock, int backlog);
  Result<size_t> (*sendmsg)(Socket& sock, std::span<const std::byte> data, int flags,
                            const std::optional<SockAddrIn>& to, const Waiter& wait);
  Result<size_t> (*recvmsg)(Socket& sock, std::span<std::byte> buf, int flags, SockAddrIn* from,
                            const Waiter& wait);
  Status (*shutdown)(Socket& sock, int how);
  uint16_t (*poll)(const Socket& sock);
};

extern const ProtoOps inet_stream_ops;
extern const ProtoOps inet_dgram_ops;

// The operations of a socket type (sock->ops as inet_create sets them from inetsw): inet_stream_ops for
// SOCK_STREAM, inet_dgram_ops for SOCK_DGRAM, as every Linux inet protocol of those types has.
inline const ProtoOps& inet_ops(uint8_t type) {
  return type == kSockStream ? inet_stream_ops : inet_dgram_ops;
}
const ProtoOps& Socket::ops() const { return inet_ops(sk->sk_type); }

// struct inet_protosw: one entry of the protocol switch.
struct InetProtosw {
  int type;
  int protocol;
  Proto* prot;
};

class InetSw {
 public:
  void inet_register_protosw(InetProtosw p) { entries_.push_back(p); }
  // The entry for (type, protocol); protocol 0 picks the type's default. nullptr: no such protocol.
  const InetProtosw* lookup(int type, int protocol) const;

 private:
  std::vector<InetProtosw> entries_;
};

// inet_create + sock_init_data: a socket over a fresh sock of the chosen protocol.
Result<std::unique_ptr<Socket>> inet_create(const InetSw& sw, int type, int protocol);
// inet_release: close the sock; the socket is finished.
void inet_release(Socket& sock);
// Point the sock's callbacks at the socket (sock_def_wakeup and friends).
void sock_graft(Socket& sock, Sock& sk);

}  // namespace ustack
