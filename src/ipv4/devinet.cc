// Interface addresses (Linux net/ipv4/devinet.c).
#include <algorithm>

#include "ipv4/arp.h"
#include "ipv4/ip.h"

namespace ustack {

Status Ipv4::add_address(int ifindex, Ipv4Cidr cidr) {
  NetDevice* dev = dev_.dev_get_by_index(ifindex);
  if (!dev) return make_error(Errc::kNoDev);
  if (cidr.prefix_len > 32 || cidr.addr.is_lbcast_or_mcast() || cidr.addr.is_any())
    return make_error(Errc::kInval);
  for (auto& a : ifaddrs_)
    if (a.ifindex == ifindex && a.local.addr == cidr.addr) return make_error(Errc::kExist);
  ifaddrs_.push_back(InIfaddr{cidr, ifindex});
  // fib_add_ifaddr: the connected route for the subnet, with this address as its source.
  if (cidr.prefix_len < 32 && !(dev->flags() & kIffLoopback)) {
    FibRoute r{Ipv4Cidr{cidr.network(), cidr.prefix_len},
               Ipv4Addr::any(),
               ifindex,
               cidr.addr,
               0,
               RouteType::kUnicast,
               RouteScope::kLink};
    (void)fib_.add(r);  // kExist: a second address in the same subnet shares the first one's route
  }
  rt_cache_flush();
  // Gratuitous ARP (RFC 5227 §3): announce the address so that neighbours update stale caches.
  if (!(dev->flags() & (kIffNoArp | kIffLoopback))) arp_->send_gratuitous(*dev, cidr.addr);
  return {};
}

Status Ipv4::del_address(int ifindex, Ipv4Addr addr) {
  auto it = std::find_if(ifaddrs_.begin(), ifaddrs_.end(),
                         [&](const InIfaddr& a) { return a.ifindex == ifindex && a.local.addr == addr; });
  if (it == ifaddrs_.end()) return make_error(Errc::kAddrNotAvail);
  Ipv4Cidr cidr = it->local;
  ifaddrs_.erase(it);
  auto next = std::find_if(ifaddrs_.begin(), ifaddrs_.end(), [&](const InIfaddr& a) {
    return a.ifindex == ifindex && a.local.prefix_len == cidr.prefix_len &&
           a.local.network() == cidr.network();
  });
  if (next == ifaddrs_.end()) {
    (void)fib_.del(Ipv4Cidr{cidr.network(), cidr.prefix_len}, 0);
  } else {
    // The subnet's route may name the deleted address as its source: the next address in the subnet
    // takes over (promote_secondaries), so that nothing is sent from an address we no longer own.
    for (const FibRoute& r : fib_.routes()) {
      if (r.ifindex == ifindex && r.metric == 0 && r.prefsrc == addr && r.dst.prefix_len == cidr.prefix_len &&
          r.dst.network() == cidr.network()) {
        FibRoute promoted = r;
        promoted.prefsrc = next->local.addr;
        (void)fib_.del(promoted.dst, 0);
        (void)fib_.add(promoted);
        break;
      }
    }
  }
  rt_cache_flush();
  return {};
}

bool Ipv4::is_local_address(Ipv4Addr a) const {
  if (a.is_loopback()) return true;
  for (auto& i : ifaddrs_)
    if (i.local.addr == a) return true;
  return false;
}

bool Ipv4::is_local_on(Ipv4Addr a, int ifindex) const {
  for (auto& i : ifaddrs_)
    if (i.ifindex == ifindex && i.local.addr == a) return true;
  return false;
}

bool Ipv4::is_broadcast_on(Ipv4Addr a, int ifindex) const {
  if (a.is_broadcast()) return true;
  for (auto& i : ifaddrs_)
    if (i.ifindex == ifindex && i.local.prefix_len < 31 && i.local.subnet_broadcast() == a) return true;
  return false;
}

Ipv4Addr Ipv4::inet_select_addr(int ifindex, Ipv4Addr dst) const {
  const InIfaddr* first_on_dev = nullptr;
  for (auto& i : ifaddrs_) {
    if (i.ifindex != ifindex) continue;
    if (i.local.contains(dst)) return i.local.addr;
    if (!first_on_dev) first_on_dev = &i;
  }
  if (first_on_dev) return first_on_dev->local.addr;
  for (auto& i : ifaddrs_)
    if (!i.local.addr.is_loopback()) return i.local.addr;
  return Ipv4Addr::any();
}

}  // namespace ustack
