// ustack: a user-space TCP/IP stack. This header is the API a program uses; it includes nothing but the
// other public headers (ustack/addr.h, errc.h, result.h, socket.h) and the standard library.
//
// A Host is one network stack with its interface:
//   Host::tap(cfg)          a stack on a Linux TAP interface, in real time (needs CAP_NET_ADMIN, or a TAP
//                           interface the user may open);
//   Host::loopback()        a stack with only 127.0.0.1, in real time (no privileges);
//   Host::memory_pair(cfg)  two stacks in this process joined by an in-memory wire, in virtual time:
//                           time jumps from one event to the next, so a 60 s timer costs microseconds
//                           and a run with the same seed is the same run (no privileges; for tests and
//                           demonstrations).
// Its socket calls are the BSD calls with Linux's semantics and errno values: a call returns Result<T> or
// Status holding the value or an Errc (EAGAIN is Errc::kAgain, ECONNREFUSED Errc::kConnRefused, ...).
// Descriptors are the stack's own small integers, not kernel descriptors: pass them to this Host only.
//
// Threading model (docs/THREADING.md has the long version):
//  - A Host belongs to one thread at a time, its owner: the thread that makes its socket calls and
//    drives it. Nothing inside is locked; two threads must never call into the same Host at once. (The
//    two hosts of a memory pair share one wire and one clock, so they have one owner.) Ownership may pass
//    from one thread to another if the program orders the hand-over (a mutex, a join).
//  - The stack runs only when its owner drives it. run_once/run_for/run_until/run drive it explicitly.
//    A blocking call (connect, accept, send, recv, poll with a timeout, close with SO_LINGER) drives it
//    too while it waits: it runs the stack, sleeping in poll(2) on the interface between events (or
//    advancing virtual time), until it can return. So a single-threaded program needs no loop of its
//    own: blocking calls alone make progress, and so does a non-blocking program that calls poll().
//  - Other threads talk to the owner through post(task), which is safe from any thread: the task is
//    queued, the owner is woken, and the owner runs the task inside its next run_* call (never inside a
//    blocking socket call, so a task cannot pull a socket from under one). A task may use every Host
//    call, including post().
//  - stop() is safe from any thread and from a signal handler: run_* return, and blocking calls stop
//    waiting (they fail as if their timeout had passed).
//  - set_on_step(f) runs f on the owner thread after each round of network work, also while a blocking
//    call waits: how one thread serves non-blocking sockets while it makes blocking calls elsewhere.
//  - Several Hosts on several threads share nothing and need no coordination.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "ustack/addr.h"
#include "ustack/errc.h"
#include "ustack/result.h"
#include "ustack/socket.h"

namespace ustack::api {

struct TapConfig {
  std::string ifname;               // attached to, or created (IFF_TAP | IFF_NO_PI) and set up
  Ipv4Cidr address;                 // our address on the link, e.g. 198.18.0.2/24
  std::optional<Ipv4Addr> gateway;  // default route, if any
  std::optional<MacAddr> mac;       // our MAC (must differ from the kernel side's); random if absent
  uint32_t mtu = 1500;
  std::string pcap;   // capture the interface's frames to this file, if not empty
  uint64_t seed = 0;  // for ISNs, ports and the MAC; 0: from the clock
  // A virtio-net header on every frame (IFF_VNET_HDR, as QEMU): TCP segments of up to 64 KiB cross in one
  // system call each way and checksums are left to the other side. false: plain MTU-sized frames.
  bool offload = true;
};

struct MemoryPairConfig {
  Ipv4Cidr a_address{Ipv4Addr(198, 18, 0, 1), 24};
  Ipv4Cidr b_address{Ipv4Addr(198, 18, 0, 2), 24};
  std::chrono::nanoseconds delay = std::chrono::microseconds(100);  // one way
  double loss = 0;                                                  // probability per frame, 0 to 1
  std::string pcap;                                                 // capture a's end, if not empty
  uint64_t seed = 1;
};

// A subset of TCP_INFO.
struct TcpInfo {
  int state = 0;  // Linux's numbering: 1 ESTABLISHED, 2 SYN_SENT, ..., 7 CLOSE, 8 CLOSE_WAIT, 10 LISTEN
  uint32_t rtt_us = 0, rttvar_us = 0, rto_us = 0;
  uint32_t snd_mss = 0, rcv_mss = 0;
  uint32_t snd_cwnd = 0, snd_ssthresh = 0;  // segments
  uint32_t total_retrans = 0;
  uint64_t bytes_sent = 0, bytes_acked = 0, bytes_received = 0, bytes_retrans = 0;
};

class Host;

struct HostPair {
  std::unique_ptr<Host> a, b;
};

class Host {
 public:
  using Duration = std::chrono::nanoseconds;

  // A stack on a TAP interface, in real time.
  static Result<std::unique_ptr<Host>> tap(const TapConfig& cfg);
  // A stack with only the loopback interface (127.0.0.1/8), in real time.
  static std::unique_ptr<Host> loopback(uint64_t seed = 0);
  // Two stacks on one memory wire, in virtual time. They share their owner thread; driving either (or a
  // blocking call on either) runs both. Fails only if the capture file cannot be written.
  static Result<HostPair> memory_pair(const MemoryPairConfig& cfg = {});

  ~Host();
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;

  // --- BSD socket calls (owner thread only) ---
  // domain: kAfInet. type: kSockStream or kSockDgram, optionally | kSockNonblock.
  Result<int> socket(int domain, int type, int protocol = 0);
  Status bind(int fd, const SockAddrIn& addr);
  Status listen(int fd, int backlog);
  // flags: kSockNonblock makes the new socket non-blocking (accept4).
  Result<int> accept(int fd, SockAddrIn* peer = nullptr, int flags = 0);
  Status connect(int fd, const SockAddrIn& addr);
  Result<size_t> send(int fd, std::span<const std::byte> data, int flags = 0);
  Result<size_t> send(int fd, std::string_view data, int flags = 0) {
    return send(fd, std::as_bytes(std::span(data.data(), data.size())), flags);
  }
  Result<size_t> sendto(int fd, std::span<const std::byte> data, int flags, const SockAddrIn& to);
  Result<size_t> recv(int fd, std::span<std::byte> buf, int flags = 0);
  Result<size_t> recvfrom(int fd, std::span<std::byte> buf, int flags, SockAddrIn* from);
  // how: kShutRd, kShutWr or kShutRdWr.
  Status shutdown(int fd, int how);
  Status close(int fd);
  Result<SockAddrIn> getsockname(int fd) const;
  Result<SockAddrIn> getpeername(int fd) const;
  Status setsockopt(int fd, int level, int name, std::span<const std::byte> val);
  Result<size_t> getsockopt(int fd, int level, int name, std::span<std::byte> out);
  Status setsockopt_int(int fd, int level, int name, int v);
  Result<int> getsockopt_int(int fd, int level, int name);
  // fcntl(F_SETFL, O_NONBLOCK).
  Status set_nonblock(int fd, bool on);
  // poll(2): how many descriptors have events; waits (driving the stack) up to `timeout`; 0: no wait.
  Result<int> poll(std::span<PollFd> fds, Duration timeout);
  // TCP_INFO, in part.
  Result<TcpInfo> tcp_info(int fd);
  // Called on the owner thread whenever the socket's state, data or buffer space changes.
  Status set_event_callback(int fd, std::function<void()> cb);

  // --- driving the stack (owner thread only) ---
  // Posted tasks and the work that is ready now; if there was none, one wait of at most `max_wait` for
  // a frame, a timer or a post, and the work it brings.
  void run_once(Duration max_wait);
  // Until `d` has passed (or stop()).
  void run_for(Duration d);
  // Until `done()` holds, `timeout` passes, or stop() is called. Returns done(). done() is evaluated on
  // the owner thread between rounds.
  bool run_until(const std::function<bool()>& done, Duration timeout = Duration::max());
  // Until stop().
  void run();
  // Work to run after each round of network work, including while a blocking call waits. Not re-entered:
  // a blocking call made from `f` does not run `f` again. Pass {} to remove it.
  void set_on_step(std::function<void()> f);

  // --- from any thread ---
  // Runs `task` on the owner thread inside its next run_* call, waking it if it sleeps. Tasks run in the
  // order posted. Not safe from a signal handler (it allocates and locks).
  void post(std::function<void()> task);
  // Makes run_* return and blocking calls stop waiting, now and from now on. Also safe from a signal
  // handler. For a memory pair, stops both hosts.
  void stop();
  bool stopped() const;

  // --- information (owner thread only) ---
  // The stack's clock: time since the host was made (virtual for a memory pair).
  Duration now() const;
  bool virtual_time() const;
  // Our address on the interface (127.0.0.1/8 for loopback()).
  Ipv4Cidr address() const;
  // Non-zero MIB counters, drop reasons and device counters, one per line, as nstat prints them.
  std::string counters() const;

 private:
  struct Impl;
  explicit Host(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ustack::api

namespace ustack {
// ustack::Host, ustack::kSockStream, ... name the public API.
using namespace ustack::api;  // NOLINT(google-build-using-namespace)
}  // namespace ustack
