#include "stack/stack.h"

#include <cinttypes>
#include <cstdio>

#include "drivers/loopback.h"

namespace ustack {

Stack::Stack(Clock& clock, StackConfig cfg) : cfg_(std::move(cfg)), net_(clock, cfg_.seed), devs_(net_) {
  lo_ = &devs_.register_netdevice(std::make_unique<LoopbackDevice>());
  ipv4_ = std::make_unique<Ipv4>(net_, devs_);
  udp_ = std::make_unique<Udp>(*ipv4_);
  tcp_ = std::make_unique<Tcp>(*ipv4_);
  // inetsw_array: the protocol switch of inet_create.
  inetsw_.inet_register_protosw(InetProtosw{kSockStream, kIpProtoTcpNum, tcp_.get()});
  inetsw_.inet_register_protosw(InetProtosw{kSockDgram, kIpProtoUdpNum, udp_.get()});
  // Without a driver, a blocking call can only run the stack at the current instant.
  sockets_ = std::make_unique<SocketApi>(inetsw_, [this](const std::function<bool()>& cond, Duration) {
    for (int i = 0; i < 1000 && !cond() && poll(); ++i) {
    }
    return cond();
  });
  (void)ipv4_->add_address(lo_->ifindex(), Ipv4Cidr{Ipv4Addr(127, 0, 0, 1), 8});
}

Stack::~Stack() {
  sockets_.reset();  // close every socket before the protocols go
}

Status Stack::add_default_route(Ipv4Addr gateway, const NetDevice& dev) {
  FibRoute r;
  r.dst = Ipv4Cidr{Ipv4Addr::any(), 0};
  r.gateway = gateway;
  r.ifindex = dev.ifindex();
  return ipv4_->add_route(r);
}

bool Stack::poll() {
  bool did = net_.timers.run_expired(net_.now()) > 0;
  did |= devs_.poll();
  tcp_->reap();
  return did;
}

std::string Stack::counters_report() const {
  std::string out;
  char line[128];
  for (size_t i = 0; i < MibCounters::size(); ++i) {
    auto m = static_cast<Mib>(i);
    if (net_.mib[m] == 0) continue;
    std::snprintf(line, sizeof line, "%-28s %" PRIu64 "\n", std::string(mib_name(m)).c_str(), net_.mib[m]);
    out += line;
  }
  for (size_t i = 0; i < DropCounters::size(); ++i) {
    auto r = static_cast<DropReason>(i);
    if (net_.drops[r] == 0) continue;
    std::snprintf(line, sizeof line, "drop:%-23s %" PRIu64 "\n", std::string(drop_reason_name(r)).c_str(),
                  net_.drops[r]);
    out += line;
  }
  for (auto& d : devs_.devices()) {
    std::snprintf(line, sizeof line,
                  "dev %-8s rx %" PRIu64 " pkts %" PRIu64 " bytes, tx %" PRIu64 " pkts %" PRIu64
                  " bytes, drops rx %" PRIu64 " tx %" PRIu64 "\n",
                  d->name().c_str(), d->stats.rx_packets, d->stats.rx_bytes, d->stats.tx_packets,
                  d->stats.tx_bytes, d->stats.rx_dropped, d->stats.tx_dropped);
    out += line;
  }
  return out;
}

}  // namespace ustack
