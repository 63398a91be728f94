#include <gtest/gtest.h>

#include "ipv4/icmp.h"
#include "netfilter/hooks.h"
#include "support/net_test_util.h"

namespace ustack {
namespace {

using test::Bytes;
using test::DeviceTap;
using test::pattern;
using namespace wire;

const Ipv4Addr kH1(10, 0, 1, 1);
const Ipv4Addr kR1(10, 0, 1, 254);
const Ipv4Addr kR2(10, 0, 2, 254);
const Ipv4Addr kH2(10, 0, 2, 1);

// h1 (10.0.1.1) -- r (10.0.1.254 | 10.0.2.254) -- h2 (10.0.2.1); the hosts route everything via r.
struct Net3 {
  explicit Net3(uint32_t mtu2 = 1500) : sim(31) {
    h1 = &sim.add_stack("h1");
    r = &sim.add_stack("r");
    h2 = &sim.add_stack("h2");
    sim.connect(*h1, Ipv4Cidr{kH1, 24}, *r, Ipv4Cidr{kR1, 24});
    sim.connect(*r, Ipv4Cidr{kR2, 24}, *h2, Ipv4Cidr{kH2, 24}, {}, mtu2);
    h1_dev = h1->devs().dev_get_by_name("mw1a");
    r_in = r->devs().dev_get_by_name("mw1b");
    r_out = r->devs().dev_get_by_name("mw2a");
    h2_dev = h2->devs().dev_get_by_name("mw2b");
    EXPECT_TRUE(h1->add_default_route(kR1, *h1_dev));
    EXPECT_TRUE(h2->add_default_route(kR2, *h2_dev));
    rx = h2->udp().socket();
    EXPECT_TRUE(rx->bind(SockAddrIn{Ipv4Addr::any(), 9}));
    tx = h1->udp().socket();
    EXPECT_TRUE(tx->bind(SockAddrIn{Ipv4Addr::any(), 5000}));
    h1->icmp().set_echo_listener(1, Icmp::EchoListener{[this](const EchoReply& e) { replies.push_back(e); },
                                                       [this](const EchoError& e) { errors.push_back(e); }});
    sim.run_for(10ms);
  }
  // Sends one datagram h1 -> h2 and reports whether it arrived.
  bool udp_through(size_t len = 100) {
    auto s = tx->sendto(pattern(len, 1), SockAddrIn{kH2, 9});
    sim.run_for(100ms);
    std::vector<std::byte> buf(70000);
    bool got = false;
    while (auto n = rx->recvfrom(buf)) got = got || *n == len;
    return s && got;
  }
  bool ping_through(uint16_t seq, uint8_t ttl = 0) {
    size_t before = replies.size();
    EXPECT_TRUE(h1->icmp().send_echo(kH2, 1, seq, pattern(32, seq), ttl));
    sim.run_for(100ms);
    return replies.size() == before + 1;
  }
  uint64_t mib(Stack& s, Mib m) { return s.net().mib[m]; }
  uint64_t drops(Stack& s, DropReason d) { return s.net().drops[d]; }

  Sim sim;
  Stack *h1, *r, *h2;
  NetDevice *h1_dev, *r_in, *r_out, *h2_dev;
  std::unique_ptr<UdpSock> rx, tx;
  std::vector<EchoReply> replies;
  std::vector<EchoError> errors;
};

// --- forwarding ---

TEST(Forwarding, OffByDefault) {
  Net3 n;
  uint64_t out0 = n.r_out->stats.tx_packets;
  EXPECT_FALSE(n.r->ipv4().sysctl().ip_forward);
  EXPECT_FALSE(n.udp_through());
  EXPECT_FALSE(n.ping_through(1));
  EXPECT_EQ(n.mib(*n.r, Mib::IpInAddrErrors), 2u);
  EXPECT_EQ(n.drops(*n.r, DropReason::IP_INADDRERRORS), 2u);
  EXPECT_EQ(n.mib(*n.r, Mib::IpForwDatagrams), 0u);
  EXPECT_EQ(n.mib(*n.r, Mib::IcmpOutMsgs), 0u);  // silently, as Linux with forwarding off
  EXPECT_EQ(n.r_out->stats.tx_packets, out0);
}

TEST(Forwarding, OnForwardsAndDecrementsTtl) {
  Net3 n;
  n.r->ipv4().sysctl().ip_forward = true;
  DeviceTap tap(*n.h2_dev, "fwd");
  EXPECT_TRUE(n.udp_through());
  EXPECT_TRUE(n.ping_through(1));
  ASSERT_EQ(n.replies.size(), 1u);
  EXPECT_EQ(n.replies[0].from, kH2);
  EXPECT_EQ(n.replies[0].ttl, 63);                   // h2 sent 64; r took one
  EXPECT_EQ(n.mib(*n.r, Mib::IpForwDatagrams), 3u);  // datagram, request, reply
  // The forwarded datagram as h2 received it: TTL 63 and a header checksum that still verifies.
  bool seen = false;
  for (auto& rec : tap.records()) {
    auto f = test::parse_frame(rec.bytes);
    if (!f.ip || f.ip->protocol != kIpProtoUdp) continue;
    seen = true;
    EXPECT_EQ(f.ip->ttl, 63);
    EXPECT_EQ(f.ip->saddr, kH1);
    EXPECT_EQ(f.eth.src, n.r_out->dev_addr());
    EXPECT_TRUE(test::udp_csum_ok(*f.ip, f.l4));
  }
  EXPECT_TRUE(seen);
}

TEST(Forwarding, TtlOneGetsTimeExceeded) {
  Net3 n;
  n.r->ipv4().sysctl().ip_forward = true;
  EXPECT_FALSE(n.ping_through(7, 1));
  ASSERT_EQ(n.errors.size(), 1u);
  EXPECT_EQ(n.errors[0].from, kR1);
  EXPECT_EQ(n.errors[0].type, kIcmpTimeExceeded);
  EXPECT_EQ(n.errors[0].code, kIcmpExcTtl);
  EXPECT_EQ(n.errors[0].seq, 7);
  EXPECT_EQ(n.mib(*n.r, Mib::IcmpOutTimeExcds), 1u);
  EXPECT_EQ(n.drops(*n.r, DropReason::IP_TTL_EXPIRED), 1u);
  EXPECT_EQ(n.mib(*n.h1, Mib::IcmpInTimeExcds), 1u);
  // TTL 2 makes it.
  EXPECT_TRUE(n.ping_through(8, 2));
}

TEST(Forwarding, NoTimeExceededForLaterFragments) {
  Net3 n;
  n.r->ipv4().sysctl().ip_forward = true;
  n.tx->set_ttl(1);
  n.tx->set_pmtudisc(PmtuDisc::kDont);
  ASSERT_TRUE(n.tx->sendto(pattern(4000, 1), SockAddrIn{kH2, 9}));  // three fragments
  n.sim.run_for(100ms);
  EXPECT_EQ(n.drops(*n.r, DropReason::IP_TTL_EXPIRED), 3u);
  EXPECT_EQ(n.mib(*n.r, Mib::IcmpOutTimeExcds), 1u);  // about the first fragment only
  EXPECT_EQ(n.mib(*n.h1, Mib::IcmpInTimeExcds), 1u);
}

TEST(Forwarding, NoTimeExceededAboutAnIcmpError) {
  Net3 n;
  n.r->ipv4().sysctl().ip_forward = true;
  auto send_raw = [&](const Bytes& icmp) {
    Bytes dgram = test::ipv4_packet({kH1, kH2, kIpProtoIcmp, 1}, icmp);
    auto dst = n.h1->ipv4().ip_route_output(kH2);
    ASSERT_TRUE(dst);
    SkbPtr skb = SkBuff::alloc(64, dgram.size());
    (void)skb->put_data(dgram);
    skb->reset_network_header();
    ASSERT_TRUE(n.h1->ipv4().ip_local_out(std::move(skb), *dst));
    n.sim.run_for(100ms);
  };
  Bytes quoted =
      test::ipv4_packet({kH2, kH1, kIpProtoUdp}, test::udp_segment(kH2, kH1, 9, 5000, pattern(8, 1)));
  send_raw(test::icmp_message(kIcmpDestUnreach, kIcmpPortUnreach, 0, quoted));
  EXPECT_EQ(n.drops(*n.r, DropReason::IP_TTL_EXPIRED), 1u);
  EXPECT_EQ(n.mib(*n.r, Mib::IcmpOutTimeExcds), 0u);
  send_raw(test::icmp_message(kIcmpEcho, 0, (2u << 16) | 1, pattern(8, 2)));  // an echo request is fair game
  EXPECT_EQ(n.mib(*n.r, Mib::IcmpOutTimeExcds), 1u);
}

TEST(Forwarding, NoRouteGetsNetUnreachable) {
  Net3 n;
  n.r->ipv4().sysctl().ip_forward = true;
  ASSERT_TRUE(n.h1->icmp().send_echo(Ipv4Addr(192, 0, 2, 1), 1, 3, pattern(8, 3)));
  n.sim.run_for(100ms);
  ASSERT_EQ(n.errors.size(), 1u);
  EXPECT_EQ(n.errors[0].type, kIcmpDestUnreach);
  EXPECT_EQ(n.errors[0].code, kIcmpNetUnreach);
  EXPECT_EQ(n.errors[0].from, kR1);
  EXPECT_EQ(n.mib(*n.r, Mib::IpExtInNoRoutes), 1u);
  EXPECT_EQ(n.drops(*n.r, DropReason::IP_INNOROUTES), 1u);
}

TEST(Forwarding, PathMtuDiscoveryThroughASmallerLink) {
  Net3 n(1000);
  n.r->ipv4().sysctl().ip_forward = true;
  // 1400 bytes fit h1's link, so DF is set; r cannot forward it and says so.
  EXPECT_FALSE(n.udp_through(1400));
  EXPECT_EQ(n.mib(*n.r, Mib::IpFragFails), 1u);
  EXPECT_EQ(n.drops(*n.r, DropReason::PKT_TOO_BIG), 1u);
  EXPECT_EQ(n.h1->ipv4().path_mtu(kH2), 1000u);
  // h1 now fragments to 1000 itself, and the datagram arrives.
  EXPECT_TRUE(n.udp_through(1400));
  EXPECT_EQ(n.mib(*n.h1, Mib::IpFragCreates), 2u);
  // Without DF, r fragments on the way.
  auto s = n.h1->udp().socket();
  s->set_pmtudisc(PmtuDisc::kDont);
  n.sim.run_for(601s);  // the learned MTU has expired
  EXPECT_EQ(n.h1->ipv4().path_mtu(kH2), 1500u);
  ASSERT_TRUE(s->sendto(pattern(1400, 1), SockAddrIn{kH2, 9}));
  n.sim.run_for(100ms);
  EXPECT_EQ(n.mib(*n.r, Mib::IpFragCreates), 2u);
  std::vector<std::byte> buf(2000);
  auto got = n.rx->recvfrom(buf);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, 1400u);
  EXPECT_EQ(Bytes(buf.begin(), buf.begin() + 1400), pattern(1400, 1));
}

// --- netfilter ---

NfHooks::HookFn drop_all(int* calls) {
  return [calls](SkBuff&, const NfHookState&) {
    ++*calls;
    return NfVerdict::kDrop;
  };
}

TEST(Netfilter, DropAtPreRouting) {
  Net3 n;
  int calls = 0;
  int handle = n.h2->ipv4().netfilter().register_hook(NfHook::kPreRouting, 0, drop_all(&calls));
  EXPECT_FALSE(n.udp_through());
  EXPECT_EQ(calls, 0);  // r does not forward: nothing reached h2
  n.r->ipv4().sysctl().ip_forward = true;
  EXPECT_FALSE(n.udp_through());
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(n.drops(*n.h2, DropReason::NETFILTER_DROP), 1u);
  EXPECT_EQ(n.mib(*n.h2, Mib::UdpInDatagrams), 0u);
  n.h2->ipv4().netfilter().unregister(handle);
  EXPECT_TRUE(n.udp_through());
}

TEST(Netfilter, DropAtLocalIn) {
  Net3 n;
  n.r->ipv4().sysctl().ip_forward = true;
  int calls = 0;
  int handle = n.h2->ipv4().netfilter().register_hook(NfHook::kLocalIn, 0, drop_all(&calls));
  EXPECT_FALSE(n.udp_through());
  EXPECT_FALSE(n.ping_through(1));
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(n.drops(*n.h2, DropReason::NETFILTER_DROP), 2u);
  EXPECT_EQ(n.mib(*n.h2, Mib::IcmpInEchos), 0u);
  n.h2->ipv4().netfilter().unregister(handle);
  EXPECT_TRUE(n.udp_through());
  EXPECT_TRUE(n.ping_through(2));
}

TEST(Netfilter, DropAtForward) {
  Net3 n;
  n.r->ipv4().sysctl().ip_forward = true;
  int calls = 0;
  int handle = n.r->ipv4().netfilter().register_hook(NfHook::kForward, 0, drop_all(&calls));
  EXPECT_FALSE(n.udp_through());
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(n.drops(*n.r, DropReason::NETFILTER_DROP), 1u);
  EXPECT_EQ(n.mib(*n.r, Mib::IpForwDatagrams), 0u);
  // Traffic for r itself does not pass FORWARD.
  auto s = n.r->udp().socket();
  ASSERT_TRUE(s->bind(SockAddrIn{Ipv4Addr::any(), 9}));
  ASSERT_TRUE(n.tx->sendto(pattern(10, 1), SockAddrIn{kR1, 9}));
  n.sim.run_for(10ms);
  EXPECT_TRUE(s->readable());
  EXPECT_EQ(calls, 1);
  n.r->ipv4().netfilter().unregister(handle);
  EXPECT_TRUE(n.udp_through());
}

TEST(Netfilter, DropAtLocalOut) {
  Net3 n;
  n.r->ipv4().sysctl().ip_forward = true;
  int calls = 0;
  int handle = n.h1->ipv4().netfilter().register_hook(NfHook::kLocalOut, 0, drop_all(&calls));
  auto r = n.tx->sendto(pattern(10, 1), SockAddrIn{kH2, 9});
  EXPECT_EQ(r.error(), Errc::kPerm);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(n.drops(*n.h1, DropReason::NETFILTER_DROP), 1u);
  EXPECT_EQ(n.mib(*n.h1, Mib::IpOutDiscards), 1u);
  uint64_t tx_before = n.h1_dev->stats.tx_packets;
  n.sim.run_for(100ms);
  EXPECT_EQ(n.h1_dev->stats.tx_packets, tx_before);
  EXPECT_FALSE(n.rx->readable());
  n.h1->ipv4().netfilter().unregister(handle);
  EXPECT_TRUE(n.udp_through());
}

TEST(Netfilter, DropAtPostRouting) {
  Net3 n;
  n.r->ipv4().sysctl().ip_forward = true;
  int calls = 0;
  uint64_t out0 = n.r_out->stats.tx_packets;
  // On the router: forwarded traffic is dropped on its way out.
  int handle = n.r->ipv4().netfilter().register_hook(NfHook::kPostRouting, 0, drop_all(&calls));
  EXPECT_FALSE(n.udp_through());
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(n.drops(*n.r, DropReason::NETFILTER_DROP), 1u);
  EXPECT_EQ(n.r_out->stats.tx_packets, out0);
  n.r->ipv4().netfilter().unregister(handle);
  EXPECT_TRUE(n.udp_through());
  // On the sender: its own traffic.
  handle = n.h1->ipv4().netfilter().register_hook(NfHook::kPostRouting, 0, drop_all(&calls));
  EXPECT_FALSE(n.udp_through());
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(n.drops(*n.h1, DropReason::NETFILTER_DROP), 1u);
  n.h1->ipv4().netfilter().unregister(handle);
  EXPECT_TRUE(n.udp_through());
}

TEST(Netfilter, HooksSeeDevicesRunInPriorityOrderAndCanChoose) {
  Net3 n;
  n.r->ipv4().sysctl().ip_forward = true;
  std::vector<std::string> order;
  std::vector<NfHookState> states;
  auto& nf = n.r->ipv4().netfilter();
  auto record = [&](std::string name) {
    return [&order, &states, name](SkBuff& skb, const NfHookState& st) {
      order.push_back(name);
      states.push_back(st);
      EXPECT_EQ(load8(skb.data()) >> 4, 4);  // data at the IP header
      return NfVerdict::kAccept;
    };
  };
  nf.register_hook(NfHook::kForward, 10, record("fwd10"));
  nf.register_hook(NfHook::kForward, -5, record("fwd-5"));
  nf.register_hook(NfHook::kPreRouting, 0, record("pre"));
  nf.register_hook(NfHook::kPostRouting, 0, record("post"));
  // Only ICMP is refused, the rest passes.
  nf.register_hook(NfHook::kForward, 0, [](SkBuff& skb, const NfHookState&) {
    return load8(skb.data() + 9) == kIpProtoIcmp ? NfVerdict::kDrop : NfVerdict::kAccept;
  });
  EXPECT_TRUE(n.udp_through());
  ASSERT_EQ(order, (std::vector<std::string>{"pre", "fwd-5", "fwd10", "post"}));
  EXPECT_EQ(states[0].hook, NfHook::kPreRouting);
  EXPECT_EQ(states[0].in_ifindex, n.r_in->ifindex());
  EXPECT_EQ(states[0].out_ifindex, 0);
  EXPECT_EQ(states[1].hook, NfHook::kForward);
  EXPECT_EQ(states[1].in_ifindex, n.r_in->ifindex());
  EXPECT_EQ(states[1].out_ifindex, n.r_out->ifindex());
  EXPECT_EQ(states[3].hook, NfHook::kPostRouting);
  EXPECT_EQ(states[3].out_ifindex, n.r_out->ifindex());
  order.clear();
  EXPECT_FALSE(n.ping_through(1));
  // The ICMP filter sits between the two recorders: the later one never saw the request.
  EXPECT_EQ(order, (std::vector<std::string>{"pre", "fwd-5"}));
  EXPECT_EQ(nf_hook_name(NfHook::kLocalOut), std::string("LOCAL_OUT"));
}

}  // namespace
}  // namespace ustack
