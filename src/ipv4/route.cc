#include <algorithm>

#include "ipv4/arp.h"
#include "ipv4/ip.h"

namespace ustack {

const char* route_type_name(RouteType t) {
  switch (t) {
    case RouteType::kUnicast:
      return "unicast";
    case RouteType::kLocal:
      return "local";
    case RouteType::kBroadcast:
      return "broadcast";
    case RouteType::kMulticast:
      return "multicast";
    case RouteType::kUnreachable:
      return "unreachable";
  }
  return "?";
}

std::string FibRoute::to_string() const {
  std::string s = dst.prefix_len == 0 ? std::string("default")
                                      : dst.network().to_string() + "/" + std::to_string(dst.prefix_len);
  if (!gateway.is_any()) s += " via " + gateway.to_string();
  s += " dev#" + std::to_string(ifindex);
  if (!prefsrc.is_any()) s += " src " + prefsrc.to_string();
  if (metric) s += " metric " + std::to_string(metric);
  return s;
}

Status Fib::add(const FibRoute& r) {
  FibRoute n = r;
  n.dst.addr = r.dst.network();
  for (auto& e : routes_)
    if (e.dst.network() == n.dst.addr && e.dst.prefix_len == n.dst.prefix_len && e.metric == n.metric)
      return make_error(Errc::kExist);
  // Most specific first, then by metric: the first match in lookup() is the best.
  auto pos = std::find_if(routes_.begin(), routes_.end(), [&](const FibRoute& e) {
    return e.dst.prefix_len < n.dst.prefix_len ||
           (e.dst.prefix_len == n.dst.prefix_len && e.metric > n.metric);
  });
  routes_.insert(pos, n);
  return {};
}

Status Fib::del(const Ipv4Cidr& dst, uint32_t metric) {
  auto n = std::erase_if(routes_, [&](const FibRoute& e) {
    return e.dst.network() == dst.network() && e.dst.prefix_len == dst.prefix_len && e.metric == metric;
  });
  return n ? Status{} : make_error(Errc::kNoEnt);  // ESRCH in Linux; ENOENT reads better here
}

void Fib::del_dev(int ifindex) {
  std::erase_if(routes_, [&](const FibRoute& e) { return e.ifindex == ifindex; });
}

const FibRoute* Fib::lookup(Ipv4Addr daddr) const {
  for (auto& r : routes_)
    if (r.dst.contains(daddr)) return &r;
  return nullptr;
}

Status Ipv4::add_route(const FibRoute& r) {
  if (!dev_.dev_get_by_index(r.ifindex)) return make_error(Errc::kNoDev);
  if (r.dst.prefix_len > 32) return make_error(Errc::kInval);
  Status s = fib_.add(r);
  if (s) rt_cache_flush();
  return s;
}

Status Ipv4::del_route(const Ipv4Cidr& dst, uint32_t metric) {
  Status s = fib_.del(dst, metric);
  if (s) rt_cache_flush();
  return s;
}

DstPtr Ipv4::make_dst(const FibRoute& r, Ipv4Addr daddr, Ipv4Addr saddr) {
  DstPtr dst = make_ref<Dst>();
  dst->dev = dev_.dev_get_by_index(r.ifindex);
  dst->daddr = daddr;
  dst->type = r.type;
  dst->gateway = !r.gateway.is_any() && r.type == RouteType::kUnicast;
  dst->nexthop = dst->gateway ? r.gateway : daddr;
  dst->saddr = !saddr.is_any()       ? saddr
               : !r.prefsrc.is_any() ? r.prefsrc
                                     : inet_select_addr(r.ifindex, dst->nexthop);
  dst->genid = genid_;
  if (auto it = pmtu_.find(daddr); it != pmtu_.end() && it->second.expires > net_.now()) {
    dst->pmtu = it->second.mtu;
    dst->pmtu_expires = it->second.expires;
  }
  return dst;
}

Result<DstPtr> Ipv4::ip_route_output(Ipv4Addr daddr, Ipv4Addr saddr, int oif) {
  uint64_t key = (uint64_t{daddr.to_u32()} << 32) | (saddr.to_u32() ^ (uint32_t(oif) * 2654435761u));
  if (auto it = dst_cache_.find(key); it != dst_cache_.end()) {
    Dst& d = *it->second;
    if (d.genid == genid_ && d.daddr == daddr && (!d.neigh || !d.neigh->dead())) {
      if (d.pmtu != 0 && d.pmtu_expires <= net_.now()) d.pmtu = 0;
      return it->second;
    }
    it->second->obsolete = true;
    dst_cache_.erase(it);
  }
  if (!saddr.is_any() && (saddr.is_lbcast_or_mcast() || saddr.is_zeronet())) return make_error(Errc::kInval);
  if (!saddr.is_any() && !is_local_address(saddr)) return make_error(Errc::kAddrNotAvail);

  FibRoute r;
  NetDevice* lo = nullptr;
  for (auto& d : dev_.devices())
    if (d->flags() & kIffLoopback) lo = d.get();
  if ((daddr.is_loopback() || is_local_address(daddr)) && lo) {
    // Linux's local table: our own addresses are reached through the loopback device.
    r = FibRoute{Ipv4Cidr{daddr, 32}, Ipv4Addr::any(),  lo->ifindex(), saddr.is_any() ? daddr : saddr, 0,
                 RouteType::kLocal,   RouteScope::kHost};
  } else if (daddr.is_broadcast()) {
    if (oif == 0) {
      for (auto& a : ifaddrs_)
        if (a.ifindex != (lo ? lo->ifindex() : 0)) {
          oif = a.ifindex;
          break;
        }
    }
    if (oif == 0) return make_error(Errc::kNetUnreach);
    r = FibRoute{Ipv4Cidr{daddr, 32},   Ipv4Addr::any(),  oif, saddr, 0,
                 RouteType::kBroadcast, RouteScope::kLink};
  } else {
    const FibRoute* fr = fib_.lookup(daddr);
    if (!fr || (oif != 0 && fr->ifindex != oif)) {
      net_.mib.inc(Mib::IpOutNoRoutes);
      return make_error(Errc::kNetUnreach);
    }
    r = *fr;
    if (daddr.is_multicast()) {
      r.type = RouteType::kMulticast;
    } else if (r.gateway.is_any() && is_broadcast_on(daddr, r.ifindex)) {
      r.type = RouteType::kBroadcast;
    }
    if (r.type == RouteType::kUnreachable) return make_error(Errc::kHostUnreach);
  }
  DstPtr dst = make_dst(r, daddr, saddr);
  if (!dst->dev->is_up()) return make_error(Errc::kNetUnreach);
  switch (dst->type) {
    case RouteType::kBroadcast:
      dst->neigh = arp_->tbl().lookup_or_create_noarp(daddr, *dst->dev, MacAddr::broadcast());
      break;
    case RouteType::kMulticast: {
      // RFC 1112 §6.4: 01:00:5e and the low 23 bits of the group.
      uint32_t a = daddr.to_u32();
      MacAddr m{{0x01, 0x00, 0x5e, uint8_t((a >> 16) & 0x7f), uint8_t(a >> 8), uint8_t(a)}};
      dst->neigh = arp_->tbl().lookup_or_create_noarp(daddr, *dst->dev, m);
      break;
    }
    default:
      dst->neigh = arp_->tbl().lookup_or_create(dst->nexthop, *dst->dev);
  }
  if (!dst->neigh) return make_error(Errc::kNoBufs);
  if (dst_cache_.size() >= sysctl_.dst_cache_max) dst_cache_clear();
  dst_cache_.emplace(key, dst);
  if (net_.trace.on()) {
    net_.trace.emit("ip_route_output_key", "daddr=%s -> %s dev=%s nexthop=%s src=%s mtu=%u",
                    daddr.to_string().c_str(), route_type_name(dst->type), dst->dev->name().c_str(),
                    dst->nexthop.to_string().c_str(), dst->saddr.to_string().c_str(), dst->mtu());
  }
  return dst;
}

void Ipv4::ip_rt_update_pmtu(Ipv4Addr daddr, uint32_t mtu) {
  auto r = ip_route_output(daddr);
  if (!r) return;
  // RFC 1191 §3: a Datagram Too Big never raises the estimate (only expiry does: a stale or forged
  // message must not undo what the path taught us).
  uint32_t old_mtu = (*r)->mtu();
  if (mtu > old_mtu) return;
  // RFC 1191 §7 and Linux: never believe a path MTU below min_pmtu (a forged ICMP could otherwise shrink
  // our segments to nothing).
  mtu = std::min(std::max(mtu, sysctl_.ip_min_pmtu), old_mtu);
  if (mtu >= (*r)->dev->mtu()) return;
  TimePoint expires = net_.now() + sysctl_.mtu_expires;
  pmtu_[daddr] = PmtuException{mtu, expires};
  for (auto& [k, d] : dst_cache_) {
    if (d->daddr == daddr) {
      d->pmtu = mtu;
      d->pmtu_expires = expires;
    }
  }
  if (net_.trace.on())
    net_.trace.emit("ip_rt_update_pmtu", "daddr=%s pmtu=%u", daddr.to_string().c_str(), mtu);
}

uint32_t Ipv4::path_mtu(Ipv4Addr daddr) {
  auto r = ip_route_output(daddr);
  return r ? (*r)->mtu() : 0;
}

}  // namespace ustack
