#include <gtest/gtest.h>

#include "ipv4/arp.h"
#include "ipv4/ip.h"
#include "ipv4/route.h"
#include "support/net_test_util.h"

namespace ustack {
namespace {

using test::CaptureDevice;

Ipv4Cidr cidr(const char* s) { return *Ipv4Cidr::parse(s); }
Ipv4Addr ip(const char* s) { return *Ipv4Addr::parse(s); }

FibRoute route(const char* dst, int ifindex, uint32_t metric = 0, const char* gw = "0.0.0.0") {
  FibRoute r;
  r.dst = cidr(dst);
  r.ifindex = ifindex;
  r.metric = metric;
  r.gateway = ip(gw);
  return r;
}

// --- the FIB alone ---

TEST(Fib, LongestPrefixMatchWhateverTheInsertionOrder) {
  for (int order = 0; order < 2; ++order) {
    Fib fib;
    std::vector<FibRoute> rs = {route("10.0.0.0/8", 1), route("10.1.0.0/16", 2), route("10.1.2.0/24", 3),
                                route("10.1.2.128/25", 4)};
    if (order) std::reverse(rs.begin(), rs.end());
    for (auto& r : rs) ASSERT_TRUE(fib.add(r));
    ASSERT_NE(fib.lookup(ip("10.1.2.3")), nullptr);
    EXPECT_EQ(fib.lookup(ip("10.1.2.3"))->ifindex, 3);
    EXPECT_EQ(fib.lookup(ip("10.1.2.200"))->ifindex, 4);
    EXPECT_EQ(fib.lookup(ip("10.1.3.3"))->ifindex, 2);
    EXPECT_EQ(fib.lookup(ip("10.2.0.1"))->ifindex, 1);
    EXPECT_EQ(fib.lookup(ip("10.255.255.255"))->ifindex, 1);
    EXPECT_EQ(fib.lookup(ip("11.0.0.1")), nullptr);
    EXPECT_EQ(fib.lookup(ip("9.255.255.255")), nullptr);
  }
}

TEST(Fib, LowestMetricWinsAmongEqualPrefixes) {
  Fib fib;
  ASSERT_TRUE(fib.add(route("192.0.2.0/24", 1, 100)));
  ASSERT_TRUE(fib.add(route("192.0.2.0/24", 2, 10)));
  ASSERT_TRUE(fib.add(route("192.0.2.0/24", 3, 50)));
  EXPECT_EQ(fib.lookup(ip("192.0.2.9"))->ifindex, 2);
  // The same prefix and metric again is refused.
  Status dup = fib.add(route("192.0.2.0/24", 4, 10));
  EXPECT_EQ(dup.error(), Errc::kExist);
  ASSERT_TRUE(fib.del(cidr("192.0.2.0/24"), 10));
  EXPECT_EQ(fib.lookup(ip("192.0.2.9"))->ifindex, 3);
  EXPECT_EQ(fib.del(cidr("192.0.2.0/24"), 10).error(), Errc::kNoEnt);
}

TEST(Fib, DefaultRouteCatchesTheRest) {
  Fib fib;
  ASSERT_TRUE(fib.add(route("0.0.0.0/0", 1, 0, "10.0.0.254")));
  ASSERT_TRUE(fib.add(route("10.0.0.0/24", 2)));
  EXPECT_EQ(fib.lookup(ip("8.8.8.8"))->ifindex, 1);
  EXPECT_EQ(fib.lookup(ip("8.8.8.8"))->gateway, ip("10.0.0.254"));
  EXPECT_EQ(fib.lookup(ip("255.255.255.255"))->ifindex, 1);
  EXPECT_EQ(fib.lookup(ip("10.0.0.7"))->ifindex, 2);
  EXPECT_EQ(fib.routes().front().dst.prefix_len, 24);  // most specific first
  EXPECT_EQ(fib.routes().back().to_string(), "default via 10.0.0.254 dev#1");
}

TEST(Fib, StoresTheNetworkAndDeletesByDevice) {
  Fib fib;
  ASSERT_TRUE(fib.add(route("10.1.2.3/16", 1)));
  EXPECT_EQ(fib.routes().front().dst.addr, ip("10.1.0.0"));
  EXPECT_EQ(fib.add(route("10.1.9.9/16", 2)).error(), Errc::kExist);  // same prefix once normalised
  ASSERT_TRUE(fib.add(route("10.2.0.0/16", 2)));
  ASSERT_TRUE(fib.del(cidr("10.1.77.1/16"), 0));  // host bits ignored
  ASSERT_TRUE(fib.add(route("10.3.0.0/16", 3)));
  fib.del_dev(2);
  EXPECT_EQ(fib.routes().size(), 1u);
  EXPECT_EQ(fib.lookup(ip("10.3.1.1"))->ifindex, 3);
}

// --- routing in a stack ---

class RouteTest : public ::testing::Test {
 protected:
  RouteTest() : st(clock) {
    eth0 = &static_cast<CaptureDevice&>(
        st.add_device(std::make_unique<CaptureDevice>("eth0", MacAddr{{2, 0, 0, 0, 0, 1}})));
    eth1 = &static_cast<CaptureDevice&>(
        st.add_device(std::make_unique<CaptureDevice>("eth1", MacAddr{{2, 0, 0, 0, 1, 1}})));
  }
  Ipv4& v4() { return st.ipv4(); }
  DstPtr out(const char* d, const char* s = "0.0.0.0", int oif = 0) {
    auto r = v4().ip_route_output(ip(d), ip(s), oif);
    EXPECT_TRUE(r) << d << ": " << errc_name(r.error());
    return r ? *r : nullptr;
  }
  Errc out_err(const char* d, const char* s = "0.0.0.0", int oif = 0) {
    return v4().ip_route_output(ip(d), ip(s), oif).error();
  }
  const FibRoute* find_route(const char* prefix) {
    Ipv4Cidr c = cidr(prefix);
    for (auto& r : v4().fib().routes())
      if (r.dst.network() == c.network() && r.dst.prefix_len == c.prefix_len) return &r;
    return nullptr;
  }

  VirtualClock clock;
  Stack st;
  CaptureDevice* eth0;
  CaptureDevice* eth1;
};

TEST_F(RouteTest, AddAddressCreatesConnectedRoute) {
  ASSERT_TRUE(st.add_address(*eth0, cidr("10.0.0.1/24")));
  const FibRoute* r = find_route("10.0.0.0/24");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->ifindex, eth0->ifindex());
  EXPECT_TRUE(r->gateway.is_any());
  EXPECT_EQ(r->prefsrc, ip("10.0.0.1"));
  EXPECT_EQ(r->scope, RouteScope::kLink);
  DstPtr d = out("10.0.0.2");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->type, RouteType::kUnicast);
  EXPECT_EQ(d->dev, eth0);
  EXPECT_EQ(d->nexthop, ip("10.0.0.2"));
  EXPECT_FALSE(d->gateway);
  EXPECT_EQ(d->saddr, ip("10.0.0.1"));
  ASSERT_TRUE(d->neigh);
  EXPECT_EQ(d->neigh->key(), ip("10.0.0.2"));
  EXPECT_EQ(d->mtu(), 1500u);
  // A host address (/32) has no subnet to route to.
  ASSERT_TRUE(st.add_address(*eth1, cidr("192.0.2.7/32")));
  EXPECT_EQ(find_route("192.0.2.7/32"), nullptr);
  EXPECT_EQ(out_err("192.0.2.8"), Errc::kNetUnreach);
  // Adding the same address twice is refused; bad addresses are refused.
  EXPECT_EQ(st.add_address(*eth0, cidr("10.0.0.1/24")).error(), Errc::kExist);
  EXPECT_EQ(st.add_address(*eth0, cidr("255.255.255.255/32")).error(), Errc::kInval);
  EXPECT_EQ(st.add_address(*eth0, cidr("224.0.0.1/4")).error(), Errc::kInval);
  EXPECT_EQ(v4().add_address(99, cidr("10.9.9.9/24")).error(), Errc::kNoDev);
}

TEST_F(RouteTest, DeletingAnAddressRemovesItsRouteOnlyWhenTheSubnetIsUnused) {
  ASSERT_TRUE(st.add_address(*eth0, cidr("10.0.0.1/24")));
  ASSERT_TRUE(st.add_address(*eth0, cidr("10.0.0.5/24")));
  int n = 0;
  for (auto& r : v4().fib().routes()) n += r.dst.prefix_len == 24;
  EXPECT_EQ(n, 1);  // shared
  ASSERT_TRUE(v4().del_address(eth0->ifindex(), ip("10.0.0.1")));
  ASSERT_NE(find_route("10.0.0.0/24"), nullptr);
  // The remaining address now sources the subnet's traffic: we never send from an address we dropped.
  DstPtr d = out("10.0.0.2");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->saddr, ip("10.0.0.5"));
  EXPECT_TRUE(v4().is_local_address(d->saddr));
  ASSERT_TRUE(v4().del_address(eth0->ifindex(), ip("10.0.0.5")));
  EXPECT_EQ(find_route("10.0.0.0/24"), nullptr);
  EXPECT_EQ(out_err("10.0.0.2"), Errc::kNetUnreach);
  EXPECT_EQ(v4().del_address(eth0->ifindex(), ip("10.0.0.5")).error(), Errc::kAddrNotAvail);
}

TEST_F(RouteTest, OutputErrors) {
  ASSERT_TRUE(st.add_address(*eth0, cidr("10.0.0.1/24")));
  uint64_t noroutes = st.net().mib[Mib::IpOutNoRoutes];
  EXPECT_EQ(out_err("192.0.2.1"), Errc::kNetUnreach);
  EXPECT_EQ(st.net().mib[Mib::IpOutNoRoutes], noroutes + 1);
  // The route exists but not through the requested device.
  EXPECT_EQ(out_err("10.0.0.2", "0.0.0.0", eth1->ifindex()), Errc::kNetUnreach);
  EXPECT_TRUE(out("10.0.0.2", "0.0.0.0", eth0->ifindex()));
  // Source addresses must be ours, and unicast.
  EXPECT_EQ(out_err("10.0.0.3", "10.0.0.9"), Errc::kAddrNotAvail);
  EXPECT_EQ(out_err("10.0.0.3", "255.255.255.255"), Errc::kInval);
  EXPECT_EQ(out_err("10.0.0.3", "224.0.0.1"), Errc::kInval);
  EXPECT_EQ(out_err("10.0.0.3", "0.1.2.3"), Errc::kInval);
  EXPECT_TRUE(out("10.0.0.3", "10.0.0.1"));
  // An unreachable route answers EHOSTUNREACH.
  FibRoute u = route("198.51.100.0/24", eth0->ifindex());
  u.type = RouteType::kUnreachable;
  ASSERT_TRUE(v4().add_route(u));
  EXPECT_EQ(out_err("198.51.100.1"), Errc::kHostUnreach);
  // Bad routes are refused.
  EXPECT_EQ(v4().add_route(route("192.0.2.0/24", 42)).error(), Errc::kNoDev);
  FibRoute bad = route("192.0.2.0/24", eth0->ifindex());
  bad.dst.prefix_len = 33;
  EXPECT_EQ(v4().add_route(bad).error(), Errc::kInval);
  EXPECT_EQ(v4().del_route(cidr("203.0.113.0/24")).error(), Errc::kNoEnt);
}

TEST_F(RouteTest, DownDeviceIsUnreachable) {
  ASSERT_TRUE(st.add_address(*eth0, cidr("10.0.0.1/24")));
  eth0->set_up(false);
  EXPECT_EQ(out_err("10.0.0.2"), Errc::kNetUnreach);
  eth0->set_up(true);
  EXPECT_TRUE(out("10.0.0.2"));
}

TEST_F(RouteTest, LocalAddressesRouteThroughLoopback) {
  ASSERT_TRUE(st.add_address(*eth0, cidr("10.0.0.1/24")));
  for (const char* a : {"10.0.0.1", "127.0.0.1", "127.1.2.3"}) {
    DstPtr d = out(a);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->type, RouteType::kLocal) << a;
    EXPECT_EQ(d->dev, &st.loopback()) << a;
    EXPECT_EQ(d->saddr, ip(a)) << a;
    EXPECT_EQ(d->neigh->nud_state(), NudState::kNoArp) << a;
  }
  EXPECT_EQ(out("10.0.0.1", "127.0.0.1")->saddr, ip("127.0.0.1"));
}

TEST_F(RouteTest, BroadcastRoutes) {
  ASSERT_TRUE(st.add_address(*eth0, cidr("10.0.0.1/24")));
  ASSERT_TRUE(st.add_address(*eth1, cidr("10.1.0.1/16")));
  DstPtr lb = out("255.255.255.255");
  ASSERT_TRUE(lb);
  EXPECT_EQ(lb->type, RouteType::kBroadcast);
  EXPECT_EQ(lb->dev, eth0);  // the first device with an address
  EXPECT_EQ(lb->neigh->nud_state(), NudState::kNoArp);
  EXPECT_TRUE(lb->neigh->ha().is_broadcast());
  EXPECT_EQ(out("255.255.255.255", "0.0.0.0", eth1->ifindex())->dev, eth1);
  DstPtr sb = out("10.1.255.255");
  ASSERT_TRUE(sb);
  EXPECT_EQ(sb->type, RouteType::kBroadcast);
  EXPECT_EQ(sb->dev, eth1);
  EXPECT_EQ(sb->saddr, ip("10.1.0.1"));
  EXPECT_TRUE(sb->neigh->ha().is_broadcast());
  // The same address is plain unicast on a subnet where it is not the broadcast address.
  EXPECT_EQ(out("10.0.0.255")->type, RouteType::kBroadcast);
  EXPECT_EQ(out("10.1.0.255")->type, RouteType::kUnicast);
}

TEST_F(RouteTest, MulticastMapsToItsEthernetGroup) {
  ASSERT_TRUE(st.add_address(*eth0, cidr("10.0.0.1/24")));
  ASSERT_TRUE(st.add_default_route(ip("10.0.0.254"), *eth0));
  DstPtr d = out("224.0.0.251");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->type, RouteType::kMulticast);
  EXPECT_EQ(d->neigh->ha(), (MacAddr{{0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb}}));
  EXPECT_EQ(out("239.129.2.3")->neigh->ha(), (MacAddr{{0x01, 0x00, 0x5e, 0x01, 0x02, 0x03}}));  // 23 bits
}

TEST_F(RouteTest, GatewayRoutesResolveTheGateway) {
  ASSERT_TRUE(st.add_address(*eth0, cidr("10.0.0.1/24")));
  ASSERT_TRUE(st.add_default_route(ip("10.0.0.254"), *eth0));
  DstPtr d = out("8.8.8.8");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->type, RouteType::kUnicast);
  EXPECT_TRUE(d->gateway);
  EXPECT_EQ(d->nexthop, ip("10.0.0.254"));
  EXPECT_EQ(d->daddr, ip("8.8.8.8"));
  EXPECT_EQ(d->saddr, ip("10.0.0.1"));
  EXPECT_EQ(d->neigh->key(), ip("10.0.0.254"));
  // Two destinations behind the gateway share its neighbour entry.
  EXPECT_EQ(out("1.1.1.1")->neigh, d->neigh);
  // A preferred source on the route wins over the device's address.
  ASSERT_TRUE(st.add_address(*eth0, cidr("10.0.0.9/24")));
  FibRoute r = route("192.0.2.0/24", eth0->ifindex(), 0, "10.0.0.253");
  r.prefsrc = ip("10.0.0.9");
  ASSERT_TRUE(v4().add_route(r));
  EXPECT_EQ(out("192.0.2.1")->saddr, ip("10.0.0.9"));
}

TEST_F(RouteTest, DstCacheIsReusedUntilRoutesChange) {
  ASSERT_TRUE(st.add_address(*eth0, cidr("10.0.0.1/24")));
  ASSERT_TRUE(st.add_address(*eth1, cidr("10.1.0.1/24")));
  ASSERT_TRUE(st.add_default_route(ip("10.0.0.254"), *eth0));
  DstPtr a = out("192.0.2.1");
  EXPECT_EQ(out("192.0.2.1"), a);  // the same cached object
  EXPECT_EQ(a->dev, eth0);
  // A more specific route through the other device: the cached result must not be used.
  ASSERT_TRUE(v4().add_route(route("192.0.2.0/24", eth1->ifindex(), 0, "10.1.0.254")));
  DstPtr b = out("192.0.2.1");
  ASSERT_TRUE(b);
  EXPECT_NE(b, a);
  EXPECT_EQ(b->dev, eth1);
  EXPECT_EQ(b->nexthop, ip("10.1.0.254"));
  EXPECT_NE(b->genid, a->genid);
  ASSERT_TRUE(v4().del_route(cidr("192.0.2.0/24")));
  DstPtr c = out("192.0.2.1");
  EXPECT_EQ(c->dev, eth0);
  // Address changes invalidate too.
  ASSERT_TRUE(st.add_address(*eth1, cidr("10.2.0.1/24")));
  DstPtr e = out("192.0.2.1");
  EXPECT_NE(e, c);
  EXPECT_NE(e->genid, c->genid);
  ASSERT_TRUE(v4().del_address(eth1->ifindex(), ip("10.2.0.1")));
  EXPECT_NE(out("192.0.2.1"), e);
  // An explicit flush gives fresh objects.
  DstPtr d = out("10.1.0.2");
  v4().rt_cache_flush();
  EXPECT_NE(out("10.1.0.2"), d);
}

// A socket keeps its route (sk_dst_cache) and asks dst_check() before each use: the answer must turn
// false on every change that a fresh lookup would see.
TEST_F(RouteTest, DstCheckFailsOnceRoutesAddressesOrTheNeighbourChange) {
  ASSERT_TRUE(st.add_address(*eth0, cidr("10.0.0.1/24")));
  ASSERT_TRUE(st.add_address(*eth1, cidr("10.1.0.1/24")));
  DstPtr a = out("10.0.0.2");
  EXPECT_TRUE(v4().dst_check(*a));
  EXPECT_TRUE(v4().dst_check(*a));  // checking changes nothing
  ASSERT_TRUE(v4().add_route(route("10.0.0.2/32", eth1->ifindex(), 0, "10.1.0.254")));
  EXPECT_FALSE(v4().dst_check(*a));
  DstPtr b = out("10.0.0.2");
  EXPECT_TRUE(v4().dst_check(*b));
  EXPECT_EQ(b->dev, eth1);
  ASSERT_TRUE(v4().del_route(cidr("10.0.0.2/32")));
  EXPECT_FALSE(v4().dst_check(*b));
  DstPtr c = out("10.0.0.2");
  ASSERT_TRUE(st.add_address(*eth1, cidr("10.2.0.1/24")));
  EXPECT_FALSE(v4().dst_check(*c));
  // The next hop's neighbour entry going away (a device flush) invalidates the route that holds it.
  DstPtr d = out("10.0.0.2");
  ASSERT_TRUE(d->neigh);
  v4().arp().tbl().flush_dev(*eth0);
  EXPECT_FALSE(v4().dst_check(*d));
  DstPtr e = out("10.0.0.2");
  EXPECT_NE(e->neigh, d->neigh);
  EXPECT_TRUE(v4().dst_check(*e));
  // A route the cache dropped to make room is obsolete for its holders too.
  v4().sysctl().dst_cache_max = 2;
  DstPtr f = out("10.0.0.3");
  EXPECT_TRUE(v4().dst_check(*f));
  (void)out("10.0.0.4");
  (void)out("10.0.0.5");  // the cache is full: emptied before this one goes in
  EXPECT_FALSE(v4().dst_check(*f));
  EXPECT_TRUE(f->obsolete);
}

TEST_F(RouteTest, DstCheckForgetsAnExpiredPmtuAsALookupWould) {
  ASSERT_TRUE(st.add_address(*eth0, cidr("10.0.0.1/24")));
  DstPtr held = out("10.0.0.2");
  v4().ip_rt_update_pmtu(ip("10.0.0.2"), 1200);
  ASSERT_TRUE(v4().dst_check(*held));
  EXPECT_EQ(held->mtu(), 1200u);
  clock.set(test::at(600s));
  ASSERT_TRUE(v4().dst_check(*held));
  EXPECT_EQ(held->mtu(), 1500u);
}

TEST_F(RouteTest, PmtuUpdateClampsAndIsPerDestination) {
  ASSERT_TRUE(st.add_address(*eth0, cidr("10.0.0.1/24")));
  DstPtr held = out("10.0.0.2");
  EXPECT_EQ(v4().path_mtu(ip("10.0.0.2")), 1500u);
  v4().ip_rt_update_pmtu(ip("10.0.0.2"), 1400);
  EXPECT_EQ(v4().path_mtu(ip("10.0.0.2")), 1400u);
  EXPECT_EQ(held->mtu(), 1400u);  // routes already handed out learn it too
  EXPECT_EQ(v4().path_mtu(ip("10.0.0.3")), 1500u);
  // Below min_pmtu: clamped to 552.
  v4().ip_rt_update_pmtu(ip("10.0.0.3"), 300);
  EXPECT_EQ(v4().path_mtu(ip("10.0.0.3")), 552u);
  v4().ip_rt_update_pmtu(ip("10.0.0.4"), 68);
  EXPECT_EQ(v4().path_mtu(ip("10.0.0.4")), 552u);
  // At or above the device MTU: nothing learned.
  v4().ip_rt_update_pmtu(ip("10.0.0.5"), 1500);
  v4().ip_rt_update_pmtu(ip("10.0.0.5"), 9000);
  EXPECT_EQ(v4().path_mtu(ip("10.0.0.5")), 1500u);
  // It survives a route-cache flush: the learned value belongs to the destination.
  v4().rt_cache_flush();
  EXPECT_EQ(v4().path_mtu(ip("10.0.0.2")), 1400u);
  // A lower value lowers it further.
  v4().ip_rt_update_pmtu(ip("10.0.0.2"), 1300);
  EXPECT_EQ(v4().path_mtu(ip("10.0.0.2")), 1300u);
}

TEST_F(RouteTest, PmtuIsNeverRaisedByAnUpdate) {
  // RFC 1191 §3: a host must not increase its estimate in response to a Datagram Too Big message (a stale
  // or forged one could otherwise undo what the path taught us); only expiry raises it.
  ASSERT_TRUE(st.add_address(*eth0, cidr("10.0.0.1/24")));
  v4().ip_rt_update_pmtu(ip("10.0.0.2"), 1000);
  v4().ip_rt_update_pmtu(ip("10.0.0.2"), 1400);
  EXPECT_EQ(v4().path_mtu(ip("10.0.0.2")), 1000u);
  v4().ip_rt_update_pmtu(ip("10.0.0.2"), 300);  // clamped, but still not above what we know
  EXPECT_EQ(v4().path_mtu(ip("10.0.0.2")), 552u);
}

TEST_F(RouteTest, PmtuExpiresAfterTenMinutes) {
  ASSERT_TRUE(st.add_address(*eth0, cidr("10.0.0.1/24")));
  clock.set(test::at(5s));
  DstPtr held = out("10.0.0.2");
  v4().ip_rt_update_pmtu(ip("10.0.0.2"), 1200);
  EXPECT_EQ(held->pmtu_expires, test::at(605s));
  clock.set(test::at(605s) - 1ms);
  EXPECT_EQ(v4().path_mtu(ip("10.0.0.2")), 1200u);
  clock.set(test::at(605s));
  EXPECT_EQ(v4().path_mtu(ip("10.0.0.2")), 1500u);
  // A fresh route after expiry does not bring the old value back.
  v4().rt_cache_flush();
  EXPECT_EQ(v4().path_mtu(ip("10.0.0.2")), 1500u);
  // Learning again starts a new ten minutes.
  v4().ip_rt_update_pmtu(ip("10.0.0.2"), 1100);
  clock.set(test::at(1204s));
  EXPECT_EQ(v4().path_mtu(ip("10.0.0.2")), 1100u);
  clock.set(test::at(1205s));
  EXPECT_EQ(v4().path_mtu(ip("10.0.0.2")), 1500u);
}

TEST_F(RouteTest, PmtuExpiryFollowsTheSysctl) {
  ASSERT_TRUE(st.add_address(*eth0, cidr("10.0.0.1/24")));
  v4().sysctl().mtu_expires = 60s;
  v4().sysctl().ip_min_pmtu = 1000;
  v4().ip_rt_update_pmtu(ip("10.0.0.2"), 600);
  EXPECT_EQ(v4().path_mtu(ip("10.0.0.2")), 1000u);
  clock.set(test::at(60s));
  EXPECT_EQ(v4().path_mtu(ip("10.0.0.2")), 1500u);
}

TEST_F(RouteTest, SelectsSourceAddressOnTheOutgoingDevice) {
  ASSERT_TRUE(st.add_address(*eth0, cidr("10.0.0.1/24")));
  ASSERT_TRUE(st.add_address(*eth0, cidr("172.16.0.1/16")));
  ASSERT_TRUE(st.add_address(*eth1, cidr("10.1.0.1/24")));
  EXPECT_EQ(v4().inet_select_addr(eth0->ifindex(), ip("172.16.5.5")), ip("172.16.0.1"));
  EXPECT_EQ(v4().inet_select_addr(eth0->ifindex(), ip("8.8.8.8")), ip("10.0.0.1"));  // first on the device
  EXPECT_EQ(v4().inet_select_addr(eth1->ifindex(), ip("8.8.8.8")), ip("10.1.0.1"));
  EXPECT_TRUE(v4().is_local_on(ip("10.1.0.1"), eth1->ifindex()));
  EXPECT_FALSE(v4().is_local_on(ip("10.1.0.1"), eth0->ifindex()));
  EXPECT_TRUE(v4().is_broadcast_on(ip("10.0.0.255"), eth0->ifindex()));
  EXPECT_FALSE(v4().is_broadcast_on(ip("10.0.0.255"), eth1->ifindex()));
}

}  // namespace
}  // namespace ustack
