// Stack: one network stack, the counterpart of a Linux network namespace. It owns its devices, its
// IPv4/ARP/ICMP/UDP state and its timers, and does nothing until driven: poll() does one round of work
// at the clock's current time, and next_deadline() says when it next needs to run. A Sim drives stacks in
// virtual time; an EventLoop drives one in real time. Threading: a stack belongs to the thread that
// drives it; nothing in it is locked.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "core/net.h"
#include "dev/dev.h"
#include "inet/af_inet.h"
#include "ipv4/arp.h"
#include "ipv4/icmp.h"
#include "ipv4/ip.h"
#include "ipv4/ip_fragment.h"
#include "socket/socket.h"
#include "tcp/tcp.h"
#include "udp/udp.h"

namespace ustack {

struct StackConfig {
  std::string name = "ustack";
  uint64_t seed = 1;
};

class Stack {
 public:
  explicit Stack(Clock& clock, StackConfig cfg = {});
  ~Stack();
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;

  const std::string& name() const { return cfg_.name; }
  NetCore& net() { return net_; }
  DevCore& devs() { return devs_; }
  Ipv4& ipv4() { return *ipv4_; }
  Arp& arp() { return ipv4_->arp(); }
  Icmp& icmp() { return ipv4_->icmp(); }
  Udp& udp() { return *udp_; }
  Tcp& tcp() { return *tcp_; }
  // The BSD socket calls on this stack.
  SocketApi& sockets() { return *sockets_; }
  // How blocking socket calls wait; the stack's driver (Sim, EventLoop) installs its own.
  void set_waiter(Waiter w) { sockets_->set_waiter(std::move(w)); }
  NetDevice& loopback() { return *lo_; }

  // register_netdevice.
  NetDevice& add_device(std::unique_ptr<NetDevice> dev) { return devs_.register_netdevice(std::move(dev)); }
  // ip addr add CIDR dev NAME.
  Status add_address(const NetDevice& dev, Ipv4Cidr cidr) { return ipv4_->add_address(dev.ifindex(), cidr); }
  // ip route add default via GW.
  Status add_default_route(Ipv4Addr gateway, const NetDevice& dev);

  // One round of work at the current time: due timers, received frames, blocked transmit queues.
  // Returns true if anything happened (call again until it returns false).
  bool poll();
  // The earliest timer, if any.
  std::optional<TimePoint> next_deadline() const { return net_.timers.next_deadline(); }

  // Non-zero MIB counters, drop reasons and device counters, one per line, as nstat prints them.
  std::string counters_report() const;

 private:
  StackConfig cfg_;
  NetCore net_;
  DevCore devs_;
  NetDevice* lo_ = nullptr;
  std::unique_ptr<Ipv4> ipv4_;
  std::unique_ptr<Udp> udp_;
  std::unique_ptr<Tcp> tcp_;
  InetSw inetsw_;
  std::unique_ptr<SocketApi> sockets_;
};

}  // namespace ustack
