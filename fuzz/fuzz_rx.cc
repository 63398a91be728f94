// libFuzzer target: untrusted Ethernet frames into the receive path (netif_receive_skb and everything
// above it: ARP, neighbours, IPv4 input, reassembly, ICMP, UDP, TCP and the replies they send). The input
// format is in fuzz_rx.h. Each input gets a fresh stack on a virtual clock, so a crash reproduces from
// the input alone.
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <span>
#include <vector>

#include "dev/net_device.h"
#include "drivers/tap.h"
#include "fuzz_rx.h"
#include "socket/socket.h"
#include "stack/stack.h"

namespace ustack::fuzz {
namespace {

// A device whose transmit drops every frame (as the loopback device would deliver it, but nowhere).
class NullDevice final : public NetDevice {
 public:
  explicit NullDevice(MacAddr mac) : NetDevice("fz0", mac, 1500, kIffBroadcast) {}
  XmitResult ndo_start_xmit(SkbPtr& skb) override {
    skb.reset();
    return XmitResult::kOk;
  }
  const char* driver() const override { return "fuzz"; }
};

class Harness {
 public:
  explicit Harness(uint8_t ctl) : stack_(clock_, StackConfig{"fuzz", 1}) {
    int sv[2] = {-1, -1};
    if ((ctl & kVnet) && ::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0) {
      // The stack's end is the TAP descriptor; the harness writes frames into the other and throws
      // away what the stack sends.
      wire_fd_ = sv[1];
      dev_ = &stack_.add_device(TapDevice::attach(sv[0], "fz0", kDevMac, 1500, true, (ctl & kVnetTso) != 0));
    } else {
      dev_ = &stack_.add_device(std::make_unique<NullDevice>(kDevMac));
    }
    (void)stack_.add_address(*dev_, Ipv4Cidr{kOurAddr, 24});
    // Replies to sources off the subnet go through the peer rather than fail the route lookup.
    (void)stack_.add_default_route(kPeerAddr, *dev_);
    echo_ = stack_.udp().socket();
    (void)echo_->bind(SockAddrIn{Ipv4Addr::any(), kEchoPort});
    echo_->set_data_ready([this] {
      SockAddrIn from;
      for (int i = 0; i < 64; ++i) {
        auto n = echo_->recvfrom(buf_, &from);
        if (!n) {
          if (n.error() == Errc::kAgain) break;
          continue;  // a reported error
        }
        (void)echo_->sendto(std::span(buf_.data(), *n), from);
      }
    });
    // A TCP echo server on the same port, through the socket calls, non-blocking.
    SocketApi& api = stack_.sockets();
    if (auto fd = api.socket(kAfInet, kSockStream | kSockNonblock)) {
      listen_fd_ = *fd;
      (void)api.bind(listen_fd_, SockAddrIn{Ipv4Addr::any(), kEchoPort});
      (void)api.listen(listen_fd_, 8);
    }
  }

  ~Harness() {
    // FUZZ_RX_REPORT=1 shows what an input did (run the target on that one file).
    static const bool report = std::getenv("FUZZ_RX_REPORT") != nullptr;
    if (report) std::fprintf(stderr, "%s", stack_.counters_report().c_str());
    if (wire_fd_ >= 0) ::close(wire_fd_);
  }

  Stack& stack() { return stack_; }

  void trace_on() {
    static const bool show = std::getenv("FUZZ_RX_REPORT") != nullptr;
    if (show) {
      stack_.net().trace.set_sink(
          [](std::string_view l) { std::fprintf(stderr, "%.*s\n", int(l.size()), l.data()); });
    } else {
      stack_.net().trace.set_sink([](std::string_view) {});
    }
  }

  // One frame, as a driver hands it over: headroom as the TAP driver reserves it, data at the link header.
  void receive(std::span<const uint8_t> frame) {
    if (wire_fd_ >= 0) {
      // One datagram, as the kernel hands one frame to a TAP reader.
      (void)::send(wire_fd_, frame.data(), frame.size(), MSG_DONTWAIT);
      settle();
      return;
    }
    SkbPtr skb = SkBuff::alloc(64, frame.size());
    (void)skb->put_data(std::as_bytes(frame));
    stack_.devs().netif_receive_skb(std::move(skb), *dev_);
    settle();
  }

  // Move virtual time forward by `d`, stopping at every timer deadline on the way.
  void advance(Duration d) {
    TimePoint end = clock_.now() + d;
    for (int round = 0; round < 10000; ++round) {
      auto next = stack_.next_deadline();
      if (!next || *next > end) break;
      clock_.set(*next);
      settle();
    }
    clock_.set(end);
    settle();
  }

  // Until no timer is left, or (timers that re-arm themselves) a bound of virtual time.
  void drain() {
    TimePoint end = clock_.now() + std::chrono::seconds(600);
    for (int round = 0; round < 10000; ++round) {
      auto next = stack_.next_deadline();
      if (!next || *next > end) break;
      clock_.set(*next);
      settle();
    }
  }

 private:
  void settle() {
    for (int round = 0; round < 8; ++round) {
      discard_sent();
      for (int i = 0; i < 1000 && stack_.poll(); ++i) {
      }
      if (!serve_tcp()) break;
    }
  }

  void discard_sent() {
    if (wire_fd_ < 0) return;
    while (::recv(wire_fd_, sent_buf_.data(), sent_buf_.size(), MSG_DONTWAIT | MSG_TRUNC) >= 0) {
    }
  }

  // Accept what is waiting, echo what can be read, close what the peer closed or reset. True if any
  // socket call did something (the stack then has new work).
  bool serve_tcp() {
    SocketApi& api = stack_.sockets();
    bool did = false;
    if (listen_fd_ >= 0) {
      for (int i = 0; i < 8; ++i) {
        auto fd = api.accept(listen_fd_, nullptr, kSockNonblock);
        if (!fd) break;
        conns_.push_back(*fd);
        did = true;
      }
    }
    std::erase_if(conns_, [&](int fd) {
      auto n = api.recv(fd, buf_);
      if (!n && n.error() == Errc::kAgain) return false;
      did = true;
      if (!n || *n == 0) {
        (void)api.close(fd);
        return true;
      }
      (void)api.send(fd, std::span(buf_.data(), *n));
      return false;
    });
    return did;
  }

  VirtualClock clock_;
  Stack stack_;
  NetDevice* dev_ = nullptr;
  int wire_fd_ = -1;
  std::unique_ptr<UdpSock> echo_;
  int listen_fd_ = -1;
  std::vector<int> conns_;
  // One for all inputs: a fresh 64 KiB per input costs more than the stack does.
  static inline std::vector<std::byte> buf_ = std::vector<std::byte>(65536);
  static inline std::vector<std::byte> sent_buf_ = std::vector<std::byte>(256);
};

}  // namespace
}  // namespace ustack::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ustack::fuzz;
  if (size < 1) return 0;
  const uint8_t ctl = data[0];
  std::span<const uint8_t> rest(data + 1, size - 1);
  Harness h(ctl);
  if (ctl & kTrace) h.trace_on();
  if (ctl & kForward) h.stack().ipv4().sysctl().ip_forward = true;
  if (!(ctl & kMulti)) {
    h.receive(rest);
  } else {
    for (size_t n = 0; n < kMaxFrames && rest.size() >= 3; ++n) {
      size_t len = (size_t{rest[0]} << 8) | rest[1];
      uint8_t delay = rest[2];
      rest = rest.subspan(3);
      if (len > rest.size()) len = rest.size();
      h.advance(delay_of(delay));
      h.receive(rest.first(len));
      rest = rest.subspan(len);
    }
  }
  if (ctl & kDrain) h.drain();
  return 0;
}
