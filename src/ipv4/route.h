// Routing (Linux net/ipv4/fib_*.c and route.c): the FIB is a list of prefixes searched by longest-prefix
// match; the result for one destination is a Dst (struct rtable/dst_entry) carrying what output needs:
// the device, the next hop and its neighbour, the source address and the path MTU. Dsts are cached per
// destination, so a connected flow looks its route up once, and are invalidated by a generation number
// whenever routes or addresses change.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "core/clock.h"
#include "core/ref_ptr.h"
#include "dev/net_device.h"
#include "neigh/neighbour.h"
#include "ustack/addr.h"

namespace ustack {

enum class RouteType : uint8_t { kUnicast, kLocal, kBroadcast, kMulticast, kUnreachable };
const char* route_type_name(RouteType t);

enum class RouteScope : uint8_t { kUniverse, kLink, kHost };

struct FibRoute {
  Ipv4Cidr dst;
  Ipv4Addr gateway;  // any(): directly connected
  int ifindex = 0;
  Ipv4Addr prefsrc;  // source address to use, any(): choose from the device
  uint32_t metric = 0;
  RouteType type = RouteType::kUnicast;
  RouteScope scope = RouteScope::kUniverse;
  std::string to_string() const;
};

class Fib {
 public:
  // Adds a route; kExist if the same prefix and metric is already there.
  Status add(const FibRoute& r);
  Status del(const Ipv4Cidr& dst, uint32_t metric);
  void del_dev(int ifindex);
  // fib_lookup: the most specific route, then the lowest metric.
  const FibRoute* lookup(Ipv4Addr daddr) const;
  const std::vector<FibRoute>& routes() const { return routes_; }

 private:
  std::vector<FibRoute> routes_;  // most specific first
};

// The route result for one destination (struct rtable).
struct Dst : RefCounted {
  RouteType type = RouteType::kUnicast;
  NetDevice* dev = nullptr;
  Ipv4Addr daddr;
  Ipv4Addr nexthop;  // the gateway, or daddr when directly connected
  Ipv4Addr saddr;    // preferred source
  std::shared_ptr<Neighbour> neigh;
  uint32_t pmtu = 0;  // learned path MTU, 0: none
  TimePoint pmtu_expires{};
  uint32_t genid = 0;
  bool gateway = false;
  // Dropped from the route cache (dst->obsolete): whoever still holds it must look the route up again.
  bool obsolete = false;

  // dst_mtu: the learned path MTU if any, else the device's.
  uint32_t mtu() const { return pmtu != 0 && pmtu < dev->mtu() ? pmtu : dev->mtu(); }
};
using DstPtr = RefPtr<Dst>;

}  // namespace ustack
