// SocketApi: the BSD socket calls on one stack (Linux net/socket.c): a descriptor table (sock_map_fd),
// socket/bind/listen/accept/connect/send/recv/shutdown/close, socket options, and poll. Errors are
// Linux's errno values. Blocking calls wait through the stack's Waiter, which keeps the stack running
// while the caller waits (see docs/ARCHITECTURE.md, threading).
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "inet/af_inet.h"

namespace ustack {

inline constexpr int kSockNonblock = 04000;  // SOCK_NONBLOCK, also O_NONBLOCK

struct PollFd {
  int fd = -1;
  uint16_t events = 0;
  uint16_t revents = 0;
};

// The descriptor table (the kernel's fdtable): the sockets themselves, one sock pointer each, in chunks
// that never move once made, so that a call holding its socket stays valid while it blocks (its wait
// runs the stack, whose callbacks may open descriptors). Finding one is a shift and a mask. A free slot
// has no sock.
class FdTable {
 public:
  static constexpr size_t kChunk = 64;
  size_t size() const { return chunks_.size() * kChunk; }
  Socket& operator[](size_t i) { return (*chunks_[i / kChunk])[i % kChunk]; }
  const Socket& operator[](size_t i) const { return (*chunks_[i / kChunk])[i % kChunk]; }
  void grow() { chunks_.push_back(std::make_unique<std::array<Socket, kChunk>>()); }

 private:
  std::vector<std::unique_ptr<std::array<Socket, kChunk>>> chunks_;
};

class SocketApi {
 public:
  SocketApi(const InetSw& sw, Waiter wait) : sw_(sw), wait_(std::move(wait)) {}
  ~SocketApi();
  SocketApi(const SocketApi&) = delete;
  SocketApi& operator=(const SocketApi&) = delete;

  void set_waiter(Waiter w) { wait_ = std::move(w); }

  // sock_create + sock_map_fd. domain must be AF_INET; type SOCK_STREAM or SOCK_DGRAM, optionally with
  // SOCK_NONBLOCK.
  Result<int> socket(int domain, int type, int protocol = 0);
  Status bind(int fd, const SockAddrIn& addr);
  Status listen(int fd, int backlog);
  Result<int> accept(int fd, SockAddrIn* peer = nullptr, int flags = 0);
  Status connect(int fd, const SockAddrIn& addr);
  Result<size_t> send(int fd, std::span<const std::byte> data, int flags = 0);
  Result<size_t> sendto(int fd, std::span<const std::byte> data, int flags, const SockAddrIn& to);
  Result<size_t> recv(int fd, std::span<std::byte> buf, int flags = 0);
  Result<size_t> recvfrom(int fd, std::span<std::byte> buf, int flags, SockAddrIn* from);
  Status shutdown(int fd, int how);
  Status close(int fd);
  Result<SockAddrIn> getsockname(int fd) const;
  Result<SockAddrIn> getpeername(int fd) const;
  Status setsockopt(int fd, int level, int name, std::span<const std::byte> val);
  Result<size_t> getsockopt(int fd, int level, int name, std::span<std::byte> out);
  // Convenience for int-valued options.
  Status setsockopt_int(int fd, int level, int name, int v) {
    return setsockopt(fd, level, name, std::as_bytes(std::span(&v, 1)));
  }
  Result<int> getsockopt_int(int fd, int level, int name);
  // fcntl(F_SETFL, O_NONBLOCK).
  Status set_nonblock(int fd, bool on);
  // poll(2): returns how many descriptors have events; waits up to `timeout` (0: don't wait).
  Result<int> poll(std::span<PollFd> fds, Duration timeout);
  // Called whenever the socket's state, data or buffer space changes (for event-driven servers).
  Status set_event_callback(int fd, std::function<void()> cb);

  Socket* lookup(int fd) const;
  Sock* sock_of(int fd) const {
    Socket* s = lookup(fd);
    return s ? s->sk : nullptr;
  }
  size_t open_count() const;

 private:
  int install(std::unique_ptr<Socket> s);
  static bool in_use(const Socket& s) { return s.sk != nullptr; }
  const InetSw& sw_;
  Waiter wait_;
  FdTable fds_;         // index = fd - kFirstFd
  size_t next_fd_ = 0;  // no free slot below this index (files_struct's next_fd)
  static constexpr int kFirstFd = 3;
};

}  // namespace ustack
