#include "ustack_server.h"

#include <cstdlib>
#include <string>
#include <vector>

#include "drivers/ring_device.h"
#include "stack/stack.h"

namespace ustack::bench::lwip {

// ---------------------------------------------------------------------------------------------------
// ustack server (lwip_ustack): the same behaviour over ustack's non-blocking socket calls, woken by the
// sockets' event callbacks rather than by scanning every descriptor.

class UstackServerImpl {
 public:
  UstackServerImpl(FrameRingPair& rings, int side, const WorkerArgs& a, Control& ctl)
      : stack_(clock_, StackConfig{"server", 2}), ctl_(ctl), echo_(echo_test(a.test)) {
    MacAddr mac{kServerMac};
    dev_ = &stack_.add_device(rings.make_end(side, "ring0", mac, a.mtu));
    queued_.reserve(a.conns + 64);
    ready_.reserve(a.conns + 64);
    buf_.resize(kChunk);
  }

  bool listen() {
    Ipv4Cidr cidr{Ipv4Addr(kServerAddr[0], kServerAddr[1], kServerAddr[2], kServerAddr[3]), 24};
    if (!stack_.add_address(*dev_, cidr)) return false;
    auto fd = stack_.sockets().socket(kAfInet, kSockStream | kSockNonblock);
    if (!fd) return false;
    lfd_ = *fd;
    (void)stack_.sockets().setsockopt_int(lfd_, kSolSocket, 2 /* SO_REUSEADDR */, 1);
    if (!stack_.sockets().bind(lfd_, SockAddrIn{Ipv4Addr::any(), kPort})) return false;
    if (!stack_.sockets().listen(lfd_, 4096)) return false;
    (void)stack_.sockets().set_event_callback(lfd_, [this] { mark(lfd_); });
    return true;
  }

  std::string counters() const { return stack_.counters_report(); }
  void step() {
    stack_.poll();
    if (ready_.empty()) return;
    std::swap(ready_, work_);
    for (int fd : work_) {
      queued_[size_t(fd)] = 0;
      if (fd == lfd_) {
        accept_all();
      } else {
        serve(fd);
      }
    }
    work_.clear();
  }

 private:
  void mark(int fd) {
    if (size_t(fd) >= queued_.size()) queued_.resize(size_t(fd) + 1);
    if (queued_[size_t(fd)]) return;
    queued_[size_t(fd)] = 1;
    ready_.push_back(fd);
  }
  void accept_all() {
    SocketApi& s = stack_.sockets();
    for (;;) {
      auto fd = s.accept(lfd_, nullptr, kSockNonblock);
      if (!fd) return;
      int c = *fd;
      if (echo_) (void)s.setsockopt_int(c, kSolTcp, kTcpNoDelay, 1);
      (void)s.set_event_callback(c, [this, c] { mark(c); });
      ctl_.accepted.fetch_add(1, std::memory_order_relaxed);
      mark(c);  // data may have come with the handshake
    }
  }
  void serve(int fd) {
    SocketApi& s = stack_.sockets();
    for (;;) {
      auto n = s.recv(fd, buf_);
      if (!n) {
        if (n.error() == Errc::kAgain) return;
        break;  // reset or other error: close
      }
      if (*n == 0) break;  // the client closed
      if (echo_) (void)s.send(fd, std::span<const std::byte>(buf_.data(), *n));
    }
    (void)s.close(fd);
  }

  RealClock clock_;
  Stack stack_;
  NetDevice* dev_ = nullptr;
  Control& ctl_;
  bool echo_;
  int lfd_ = -1;
  std::vector<uint8_t> queued_;
  std::vector<int> ready_, work_;
  std::vector<std::byte> buf_;
};

UstackServer::UstackServer(FrameRingPair& rings, int side, const WorkerArgs& a, Control& ctl)
    : impl_(std::make_unique<UstackServerImpl>(rings, side, a, ctl)), ctl_(ctl) {}

UstackServer::~UstackServer() {
  // The server's counters (nstat's view) help to see why a run failed.
  if (std::getenv("USTACK_BENCH_LWIP_DEBUG")) std::fprintf(stderr, "%s", impl_->counters().c_str());
}

bool UstackServer::start() {
  if (!impl_->listen()) {
    std::fprintf(stderr, "ustack server: cannot listen\n");
    ctl_.server_failed.store(1);
    return false;
  }
  // In one process the client's heap measurement covers both stacks.
  ctl_.measured.store(1);
  ctl_.server_ready.store(1, std::memory_order_release);
  return true;
}

void UstackServer::step() { impl_->step(); }

void UstackServer::run() {
  while (!ctl_.stop.load(std::memory_order_relaxed)) impl_->step();
}

}  // namespace ustack::bench::lwip
