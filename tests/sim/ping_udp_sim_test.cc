// Two stacks over an impaired memory wire, in virtual time: pings, UDP exchanges, fragmented datagrams
// and a bandwidth-limited link, each checked for correctness of every delivery and for plausible counts.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "ipv4/icmp.h"
#include "support/net_test_util.h"

namespace ustack {
namespace {

using test::Bytes;
using test::pattern;

const Ipv4Addr kA(10, 0, 0, 1);
const Ipv4Addr kB(10, 0, 0, 2);

Impairments lossy() {
  Impairments i;
  i.loss = 0.07;
  i.duplicate = 0.05;
  i.reorder = 0.1;
  i.reorder_delay = 4ms;
  i.delay = 2ms;
  i.jitter = 1ms;
  return i;
}

struct Pair {
  Pair(uint64_t seed, Impairments imp) : sim(seed) {
    a = &sim.add_stack("a");
    b = &sim.add_stack("b");
    wire = &sim.connect(*a, Ipv4Cidr{kA, 24}, *b, Ipv4Cidr{kB, 24}, imp);
  }
  Sim sim;
  Stack* a;
  Stack* b;
  MemWire* wire;
};

// --- ping ---

struct PingRun {
  std::vector<std::pair<uint16_t, int64_t>> trace;  // (seq, arrival ns) of every reply, in arrival order
  std::set<uint16_t> unique;
  size_t bad = 0;
  std::vector<Duration> rtts;
  uint64_t echos_at_b = 0;
  uint64_t reps_at_a = 0;
};

PingRun run_pings(uint64_t seed, int count) {
  Pair p(seed, lossy());
  PingRun run;
  const uint16_t id = 0x5150;
  std::map<uint16_t, TimePoint> sent_at;
  p.a->icmp().set_echo_listener(
      id, Icmp::EchoListener{[&](const EchoReply& r) {
                               bool ok = r.from == kB && r.id == id && r.ttl == 64 && sent_at.count(r.seq) &&
                                         Bytes(r.payload.begin(), r.payload.end()) == pattern(56, r.seq);
                               if (!ok) {
                                 ++run.bad;
                                 return;
                               }
                               run.trace.emplace_back(r.seq, p.sim.now().time_since_epoch().count());
                               if (run.unique.insert(r.seq).second)
                                 run.rtts.push_back(p.sim.now() - sent_at[r.seq]);
                             },
                             nullptr});
  for (uint16_t seq = 0; seq < count; ++seq) {
    sent_at[seq] = p.sim.now();
    EXPECT_TRUE(p.a->icmp().send_echo(kB, id, seq, pattern(56, seq)));
    p.sim.run_for(20ms);
  }
  p.sim.run_for(2s);
  run.echos_at_b = p.b->net().mib[Mib::IcmpInEchos];
  run.reps_at_a = p.a->net().mib[Mib::IcmpInEchoReps];
  return run;
}

TEST(PingSim, ManyPingsOverALossyReorderingWire) {
  const int n = 400;
  PingRun r = run_pings(42, n);
  EXPECT_EQ(r.bad, 0u) << "a reply that does not match its request";
  // Each exchange crosses the wire twice at 7% loss: about 86% come back.
  EXPECT_GE(r.unique.size(), size_t(n * 0.78));
  EXPECT_LE(r.unique.size(), size_t(n * 0.94));
  // Duplication shows as extra replies for the same request.
  EXPECT_GT(r.trace.size(), r.unique.size());
  EXPECT_EQ(r.reps_at_a, r.trace.size());
  EXPECT_GE(r.echos_at_b, r.unique.size());
  // The path takes at least 2 x 2 ms; most round trips see only jitter on top.
  std::vector<Duration> rtts = r.rtts;
  std::sort(rtts.begin(), rtts.end());
  EXPECT_GE(rtts.front(), 4ms);
  EXPECT_LT(rtts[rtts.size() / 2], 6ms);
}

TEST(PingSim, RepliesArriveOutOfOrderWhenTheWireReorders) {
  Pair p(9, [] {
    Impairments i;
    i.reorder = 0.3;
    i.reorder_delay = 30ms;
    i.delay = 1ms;
    return i;
  }());
  std::vector<uint16_t> order;
  p.a->icmp().set_echo_listener(
      1, Icmp::EchoListener{[&](const EchoReply& r) { order.push_back(r.seq); }, nullptr});
  for (uint16_t seq = 0; seq < 100; ++seq) {
    ASSERT_TRUE(p.a->icmp().send_echo(kB, 1, seq, pattern(8, seq)));
    p.sim.run_for(10ms);
  }
  p.sim.run_for(1s);
  ASSERT_EQ(order.size(), 100u);  // reordering loses nothing
  EXPECT_EQ(std::set<uint16_t>(order.begin(), order.end()).size(), 100u);
  EXPECT_FALSE(std::is_sorted(order.begin(), order.end()));
}

TEST(PingSim, DeterministicForAFixedSeed) {
  PingRun r1 = run_pings(7, 150);
  PingRun r2 = run_pings(7, 150);
  PingRun r3 = run_pings(8, 150);
  EXPECT_EQ(r1.trace, r2.trace);
  EXPECT_NE(r1.trace, r3.trace);
}

// --- UDP ---

// A UDP echo server on b port 7 and a client on a; datagrams carry their sequence number first.
struct UdpEcho {
  explicit UdpEcho(Pair& p) : p(p) {
    server = p.b->udp().socket();
    EXPECT_TRUE(server->bind(SockAddrIn{Ipv4Addr::any(), 7}));
    server->set_data_ready([this] {
      std::vector<std::byte> buf(70000);
      SockAddrIn from;
      while (auto n = server->recvfrom(buf, &from)) {
        ++served;
        (void)server->sendto(std::span(buf).first(*n), from);
      }
    });
    client = p.a->udp().socket();
    EXPECT_TRUE(client->connect(SockAddrIn{kB, 7}));
    client->set_data_ready([this] {
      std::vector<std::byte> buf(70000);
      while (auto n = client->recvfrom(buf)) {
        Bytes got(buf.begin(), buf.begin() + static_cast<long>(*n));
        uint16_t seq = got.size() >= 2 ? wire::load_be16(got.data()) : 0xffff;
        if (seq >= sent.size() || got != sent[seq]) {
          ++bad;
          continue;
        }
        ++replies;
        unique.insert(seq);
      }
    });
  }
  void send(size_t len) {
    Bytes d = pattern(len, static_cast<uint32_t>(sent.size()));
    wire::store_be16(d.data(), static_cast<uint16_t>(sent.size()));
    sent.push_back(d);
    EXPECT_TRUE(client->send(d));
  }
  Pair& p;
  std::unique_ptr<UdpSock> server, client;
  std::vector<Bytes> sent;
  std::set<size_t> unique;
  size_t replies = 0, served = 0, bad = 0;
};

TEST(UdpSim, EchoExchangesOverALossyWire) {
  Pair p(11, lossy());
  UdpEcho e(p);
  const int n = 400;
  for (int i = 0; i < n; ++i) {
    e.send(2 + (size_t(i) * 37) % 1400);
    p.sim.run_for(15ms);
  }
  p.sim.run_for(2s);
  EXPECT_EQ(e.bad, 0u);
  EXPECT_GE(e.unique.size(), size_t(n * 0.78));
  EXPECT_LE(e.unique.size(), size_t(n * 0.94));
  EXPECT_GE(e.replies, e.unique.size());
  EXPECT_EQ(p.b->net().mib[Mib::UdpInDatagrams], e.served);
  EXPECT_EQ(p.a->net().mib[Mib::UdpInDatagrams], e.replies);
  EXPECT_EQ(p.a->net().mib[Mib::UdpInCsumErrors] + p.b->net().mib[Mib::UdpInCsumErrors], 0u);
}

TEST(UdpSim, CorruptedDatagramsAreCaughtNotDelivered) {
  Impairments imp = lossy();
  imp.corrupt = 0.1;
  Pair p(12, imp);
  UdpEcho e(p);
  for (int i = 0; i < 300; ++i) {
    e.send(200);
    p.sim.run_for(15ms);
  }
  p.sim.run_for(2s);
  EXPECT_EQ(e.bad, 0u) << "a corrupted datagram reached the application";
  EXPECT_GT(p.wire->stats().corrupted, 20u);
  uint64_t caught = 0;
  for (Stack* s : {p.a, p.b}) {
    caught += s->net().drops[DropReason::UDP_CSUM] + s->net().drops[DropReason::IP_CSUM] +
              s->net().drops[DropReason::OTHERHOST] + s->net().drops[DropReason::IP_INHDR] +
              s->net().drops[DropReason::UNHANDLED_PROTO] + s->net().drops[DropReason::MAC_HEADER] +
              s->net().drops[DropReason::PKT_TOO_SMALL] + s->net().drops[DropReason::UDP_INVALID] +
              s->net().drops[DropReason::IP_INVALID_SOURCE] + s->net().drops[DropReason::IP_INADDRERRORS] +
              s->net().drops[DropReason::NO_SOCKET] + s->net().drops[DropReason::ARP_INVALID] +
              s->net().drops[DropReason::ARP_NOT_FOR_US];
  }
  EXPECT_GT(caught, 10u);
}

TEST(UdpSim, LargeDatagramsSurviveReordering) {
  Impairments imp;
  imp.reorder = 0.3;
  imp.reorder_delay = 3ms;
  imp.delay = 1ms;
  imp.jitter = 2ms;
  Pair p(13, imp);
  UdpEcho e(p);
  for (int i = 0; i < 40; ++i) {
    e.send(8000);
    p.sim.run_for(20ms);
  }
  p.sim.run_for(1s);
  EXPECT_EQ(e.bad, 0u);
  EXPECT_EQ(e.unique.size(), 40u);
  EXPECT_EQ(e.replies, 40u);
  EXPECT_EQ(p.b->net().mib[Mib::IpReasmOKs], 40u);
  EXPECT_EQ(p.a->net().mib[Mib::IpReasmOKs], 40u);
  EXPECT_EQ(p.a->net().mib[Mib::IpFragCreates], 240u);
  EXPECT_GT(p.wire->stats().reordered, 50u);
  EXPECT_EQ(p.b->ipv4().frags().queues(), 0u);
}

TEST(UdpSim, LargeDatagramsUnderLossEitherArriveWholeOrExpire) {
  Impairments imp;
  imp.loss = 0.05;
  imp.reorder = 0.2;
  imp.delay = 1ms;
  imp.jitter = 1ms;
  Pair p(14, imp);
  auto rx = p.b->udp().socket();
  ASSERT_TRUE(rx->bind(SockAddrIn{Ipv4Addr::any(), 9}));
  rx->set_rcvbuf(1 << 20);  // room for everything: read at the end
  auto tx = p.a->udp().socket();
  // Resolve first so that no datagram waits on ARP.
  ASSERT_TRUE(tx->sendto(Bytes(1), SockAddrIn{kB, 9}));
  p.sim.run_for(5s);
  std::byte small[8];
  while (rx->recvfrom(small)) {
  }
  const int n = 100;
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(tx->sendto(pattern(8000, i), SockAddrIn{kB, 9}));
    p.sim.run_for(10ms);
  }
  p.sim.run_for(31s);
  size_t whole = 0;
  std::vector<std::byte> buf(9000);
  while (auto r = rx->recvfrom(buf)) {
    Bytes got(buf.begin(), buf.begin() + static_cast<long>(*r));
    bool matches = false;
    for (int i = 0; i < n && !matches; ++i) matches = got == pattern(8000, i);
    EXPECT_TRUE(matches);
    ++whole;
  }
  // All six fragments must arrive: 0.95^6 = 74%.
  EXPECT_GE(whole, size_t(n * 0.6));
  EXPECT_LE(whole, size_t(n * 0.88));
  const MibCounters& mib = p.b->net().mib;
  EXPECT_EQ(mib[Mib::IpReasmOKs], whole);
  EXPECT_EQ(mib[Mib::IpReasmOKs] + mib[Mib::IpReasmTimeout], uint64_t(n));
  EXPECT_EQ(p.b->ipv4().frags().queues(), 0u);
  EXPECT_EQ(p.b->ipv4().frags().mem(), 0u);
}

// --- bandwidth ---

TEST(BandwidthSim, BurstDrainsAtTheLinkRate) {
  Impairments imp;
  imp.rate_bps = 10'000'000;
  imp.delay = 1ms;
  Pair p(15, imp);
  auto rx = p.b->udp().socket();
  ASSERT_TRUE(rx->bind(SockAddrIn{Ipv4Addr::any(), 9}));
  std::vector<TimePoint> arrivals;
  rx->set_data_ready([&] {
    std::byte buf[2000];
    while (rx->recvfrom(buf)) arrivals.push_back(p.sim.now());
  });
  auto tx = p.a->udp().socket();
  ASSERT_TRUE(tx->sendto(Bytes(1), SockAddrIn{kB, 9}));  // resolve
  p.sim.run_for(1s);
  arrivals.clear();
  const int n = 500;
  for (int i = 0; i < n; ++i) ASSERT_TRUE(tx->sendto(pattern(1000, i), SockAddrIn{kB, 9}));
  p.sim.run_for(2s);
  ASSERT_EQ(arrivals.size(), size_t(n));
  // Each frame is 1042 bytes plus 24 of preamble, FCS and gap: 852.8 us at 10 Mbit/s.
  double secs = to_seconds(arrivals.back() - arrivals.front());
  double wire_bps = (n - 1) * 1066.0 * 8 / secs;
  EXPECT_NEAR(wire_bps, 10e6, 10e6 * 0.01);
  double goodput = (n - 1) * 1000.0 * 8 / secs;
  EXPECT_NEAR(goodput, 9.38e6, 0.1e6);
  for (int i = 1; i < n; ++i) {
    EXPECT_NEAR(to_ms(arrivals[i] - arrivals[i - 1]), 0.8528, 0.001) << i;
  }
}

TEST(BandwidthSim, OfferedLoadAboveTheRateIsCappedAndTailDropped) {
  Impairments imp;
  imp.rate_bps = 10'000'000;
  imp.queue_limit_bytes = 64 * 1024;
  Pair p(16, imp);
  auto rx = p.b->udp().socket();
  ASSERT_TRUE(rx->bind(SockAddrIn{Ipv4Addr::any(), 9}));
  size_t bytes_in_window = 0;
  TimePoint w0 = test::at(2s), w1 = test::at(3s);
  rx->set_data_ready([&] {
    std::byte buf[2000];
    while (auto r = rx->recvfrom(buf)) {
      if (p.sim.now() >= w0 && p.sim.now() < w1) bytes_in_window += *r;
    }
  });
  auto tx = p.a->udp().socket();
  ASSERT_TRUE(tx->sendto(Bytes(1), SockAddrIn{kB, 9}));
  p.sim.run_until(test::at(1s));
  // 1000-byte datagrams every 400 us: 20 Mbit/s offered for three seconds.
  for (int i = 0; i < 7500; ++i) {
    ASSERT_TRUE(tx->sendto(Bytes(1000), SockAddrIn{kB, 9}));
    p.sim.run_for(400us);
  }
  p.sim.run_for(1s);
  double goodput = bytes_in_window * 8.0;  // over one second
  EXPECT_NEAR(goodput, 9.38e6, 0.15e6);
  // About half of what was offered could not be carried: dropped at the wire's queue, nothing else lost.
  const MemWireStats& st = p.wire->stats();
  EXPECT_GT(st.queue_drops, 3500u);
  EXPECT_LT(st.queue_drops, 4200u);
  EXPECT_EQ(st.sent, st.delivered + st.queue_drops);
}

}  // namespace
}  // namespace ustack
