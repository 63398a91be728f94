#include <gtest/gtest.h>

#include <set>

#include "ipv4/arp.h"
#include "neigh/neighbour.h"
#include "support/net_test_util.h"

namespace ustack {
namespace {

using test::at;
using test::Bytes;
using test::DeviceTap;

const Ipv4Addr kA(10, 0, 0, 1);
const Ipv4Addr kB(10, 0, 0, 2);
constexpr uint16_t kPort = 9;

// An ARP packet that a device sent, with when and to which Ethernet address.
struct ArpTx {
  TimePoint ts;
  MacAddr eth_dst;
  wire::ArpPacket arp;
};

std::vector<ArpTx> arp_sent(DeviceTap& tap, Ipv4Addr target) {
  std::vector<ArpTx> out;
  for (auto& r : tap.transmitted()) {
    auto eth = wire::EthHdr::parse(r.bytes);
    if (!eth || eth->ethertype != wire::kEthPArp) continue;
    auto a = wire::ArpPacket::parse(std::span<const std::byte>(r.bytes).subspan(wire::kEthHeaderLen));
    if (a && a->op == wire::kArpOpRequest && a->tpa == target) out.push_back(ArpTx{r.ts, eth->dst, *a});
  }
  return out;
}

// Stacks a (10.0.0.1) and b (10.0.0.2) on an impairment-free wire; a's device is tapped; b listens on UDP 9.
class NeighTest : public ::testing::Test {
 protected:
  NeighTest() : sim(11) {
    a = &sim.add_stack("a");
    b = &sim.add_stack("b");
    wire = &sim.connect(*a, Ipv4Cidr{kA, 24}, *b, Ipv4Cidr{kB, 24});
    da = a->devs().dev_get_by_name("mw1a");
    db = b->devs().dev_get_by_name("mw1b");
    tap = std::make_unique<DeviceTap>(*da, "neigh");
    rx = b->udp().socket();
    EXPECT_TRUE(rx->bind(SockAddrIn{Ipv4Addr::any(), kPort}));
    tx = a->udp().socket();
    sim.run_until(at(1s));  // the gratuitous ARPs of both addresses are long done
  }

  NeighTable& tbl() { return a->arp().tbl(); }
  NudState state(Ipv4Addr key = kB) {
    auto n = tbl().lookup(key, *da);
    return n ? n->nud_state() : NudState::kNone;
  }
  bool has_entry(Stack& s, NetDevice& d, Ipv4Addr key) { return s.arp().tbl().lookup(key, d) != nullptr; }
  void send(uint8_t tag, Ipv4Addr to = kB, size_t len = 100) {
    Bytes p(len, std::byte{tag});
    auto r = tx->sendto(p, SockAddrIn{to, kPort});
    EXPECT_TRUE(r) << errc_name(r.error());
  }
  std::vector<int> received() {
    std::vector<int> tags;
    std::byte buf[2000];
    for (;;) {
      auto r = rx->recvfrom(buf);
      if (!r) break;
      tags.push_back(static_cast<int>(buf[0]));
    }
    return tags;
  }
  void silence() {
    Impairments i;
    i.loss = 1.0;
    wire->set_impairments(i);
  }
  void unsilence() { wire->set_impairments(Impairments{}); }
  uint64_t drops(DropReason r) { return a->net().drops[r]; }
  uint64_t mib(Stack& s, Mib m) { return s.net().mib[m]; }

  // Resolve b now (the wire has no delay: request and reply happen at this instant).
  TimePoint resolve() {
    send(0);
    sim.settle();
    EXPECT_EQ(state(), NudState::kReachable);
    EXPECT_EQ(received(), std::vector<int>{0});
    return sim.now();
  }
  // Resolve, then let the entry go stale; returns when it did.
  // Rounded up to a whole millisecond, so that later instants match pcap's microsecond stamps.
  TimePoint make_stale() {
    TimePoint tr = resolve();
    TimePoint ts = std::chrono::ceil<std::chrono::milliseconds>(tr + tbl().reachable_time());
    sim.run_until(ts);
    EXPECT_EQ(state(), NudState::kStale);
    return ts;
  }

  Sim sim;
  Stack* a;
  Stack* b;
  MemWire* wire;
  NetDevice* da;
  NetDevice* db;
  std::unique_ptr<DeviceTap> tap;
  std::unique_ptr<UdpSock> rx;
  std::unique_ptr<UdpSock> tx;
};

TEST_F(NeighTest, ResolutionQueuesThenFlushesInOrder) {
  EXPECT_EQ(tbl().lookup(kB, *da), nullptr);
  uint64_t req0 = mib(*a, Mib::ArpOutRequests);
  TimePoint t0 = sim.now();
  send(1);
  send(2);
  send(3);
  // NONE -> INCOMPLETE: one broadcast request, packets wait.
  ASSERT_EQ(state(), NudState::kIncomplete);
  EXPECT_EQ(tbl().lookup(kB, *da)->queued(), 3u);
  EXPECT_EQ(mib(*a, Mib::ArpOutRequests), req0 + 1);
  sim.settle();
  // INCOMPLETE -> REACHABLE on the reply; the queue goes out in order.
  EXPECT_EQ(state(), NudState::kReachable);
  EXPECT_EQ(tbl().lookup(kB, *da)->queued(), 0u);
  EXPECT_EQ(tbl().lookup(kB, *da)->ha(), db->dev_addr());
  EXPECT_EQ(received(), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(mib(*a, Mib::ArpInReplies), 1u);
  EXPECT_EQ(mib(*b, Mib::ArpOutReplies), 1u);
  auto reqs = arp_sent(*tap, kB);
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].ts, t0);
  EXPECT_TRUE(reqs[0].eth_dst.is_broadcast());
  EXPECT_EQ(reqs[0].arp.sha, da->dev_addr());
  EXPECT_EQ(reqs[0].arp.spa, kA);
  EXPECT_TRUE(reqs[0].arp.tha.is_zero());
  // The asker became known to b (STALE: learned, not confirmed).
  auto nb = b->arp().tbl().lookup(kA, *db);
  ASSERT_TRUE(nb);
  EXPECT_EQ(nb->nud_state(), NudState::kStale);
  EXPECT_EQ(nb->ha(), da->dev_addr());
  // Later packets take the fast path: no more requests, nothing queued.
  send(4);
  EXPECT_EQ(tbl().lookup(kB, *da)->queued(), 0u);
  sim.settle();
  EXPECT_EQ(received(), std::vector<int>{4});
  EXPECT_EQ(mib(*a, Mib::ArpOutRequests), req0 + 1);
}

TEST_F(NeighTest, UnansweredResolutionFailsAfterThreeBroadcastProbes) {
  silence();
  ASSERT_TRUE(tx->connect(SockAddrIn{kB, kPort}));
  auto other = a->udp().socket();  // not connected: it cannot be told which datagram failed
  uint64_t failed0 = drops(DropReason::NEIGH_FAILED);
  TimePoint t0 = sim.now();
  send(1);
  send(2);
  ASSERT_TRUE(other->sendto(Bytes(10), SockAddrIn{kB, kPort}));
  sim.run_until(t0 + 3s - 1ms);
  EXPECT_EQ(state(), NudState::kIncomplete);
  EXPECT_EQ(tbl().lookup(kB, *da)->queued(), 3u);
  EXPECT_EQ(tx->sock_error(), Errc::kOk);
  sim.run_until(t0 + 3s);
  EXPECT_EQ(state(), NudState::kFailed);
  EXPECT_EQ(tbl().lookup(kB, *da)->queued(), 0u);
  EXPECT_EQ(drops(DropReason::NEIGH_FAILED), failed0 + 3);
  EXPECT_EQ(tbl().stats().res_failed, 1u);
  auto reqs = arp_sent(*tap, kB);
  ASSERT_EQ(reqs.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(reqs[i].ts, t0 + std::chrono::seconds(i)) << i;
    EXPECT_TRUE(reqs[i].eth_dst.is_broadcast()) << i;
  }
  // The connected socket hears EHOSTUNREACH, once; the unconnected one does not.
  std::byte buf[16];
  auto r = tx->recvfrom(buf);
  EXPECT_EQ(r.error(), Errc::kHostUnreach);
  EXPECT_EQ(tx->recvfrom(buf).error(), Errc::kAgain);
  EXPECT_EQ(other->sock_error(), Errc::kOk);
  EXPECT_FALSE(other->readable());
  // No more probes once failed.
  sim.run_for(10s);
  EXPECT_EQ(arp_sent(*tap, kB).size(), 3u);
}

TEST_F(NeighTest, FailedEntryResolvesAgainOnNextUse) {
  silence();
  send(1);
  sim.run_for(3s);
  ASSERT_EQ(state(), NudState::kFailed);
  unsilence();
  send(2);
  EXPECT_EQ(state(), NudState::kIncomplete);
  sim.settle();
  EXPECT_EQ(state(), NudState::kReachable);
  EXPECT_EQ(received(), std::vector<int>{2});
}

TEST_F(NeighTest, ReachableTimeIsRandomisedPerStack) {
  std::set<int64_t> seen;
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    Sim s(seed);
    Stack& st = s.add_stack("x");
    Duration rt = st.arp().tbl().reachable_time();
    EXPECT_GE(rt, 15s) << seed;
    EXPECT_LT(rt, 45s) << seed;
    seen.insert(rt.count());
  }
  EXPECT_GT(seen.size(), 25u);
  // Re-drawn every 300 s, still within [base/2, 3*base/2).
  Duration before = tbl().reachable_time();
  sim.run_until(at(301s));
  EXPECT_NE(tbl().reachable_time(), before);
  EXPECT_GE(tbl().reachable_time(), 15s);
  EXPECT_LT(tbl().reachable_time(), 45s);
}

TEST_F(NeighTest, ReachableBecomesStaleAfterReachableTime) {
  TimePoint tr = resolve();
  Duration rt = tbl().reachable_time();
  sim.run_until(tr + rt - 1ms);
  EXPECT_EQ(state(), NudState::kReachable);
  sim.run_until(tr + rt);
  EXPECT_EQ(state(), NudState::kStale);
  // STALE has no timer: it stays so while unused, and sends no probes.
  size_t reqs = arp_sent(*tap, kB).size();
  sim.run_for(20s);
  EXPECT_EQ(state(), NudState::kStale);
  EXPECT_EQ(arp_sent(*tap, kB).size(), reqs);
}

TEST_F(NeighTest, ReachableInUseAtExpiryGoesToDelay) {
  TimePoint tr = resolve();
  Duration rt = tbl().reachable_time();
  sim.run_until(tr + rt - 2s);
  send(1);  // used, but not confirmed
  sim.run_until(tr + rt);
  EXPECT_EQ(state(), NudState::kDelay);
  EXPECT_EQ(received(), std::vector<int>{1});
}

TEST_F(NeighTest, StaleBecomesDelayOnUseAndStillSends) {
  TimePoint ts = make_stale();
  sim.run_until(ts + 1s);
  size_t reqs = arp_sent(*tap, kB).size();
  send(7);
  EXPECT_EQ(state(), NudState::kDelay);
  EXPECT_EQ(tbl().lookup(kB, *da)->queued(), 0u);  // sent at once on the old address
  sim.settle();
  EXPECT_EQ(received(), std::vector<int>{7});
  EXPECT_EQ(arp_sent(*tap, kB).size(), reqs);  // no probe yet
}

TEST_F(NeighTest, DelayConfirmedReturnsToReachableWithoutProbing) {
  TimePoint ts = make_stale();
  TimePoint td = ts + 1s;
  sim.run_until(td);
  send(1);
  ASSERT_EQ(state(), NudState::kDelay);
  size_t reqs = arp_sent(*tap, kB).size();
  sim.run_until(td + 2s);
  tbl().neigh_confirm(*tbl().lookup(kB, *da));  // e.g. TCP saw the peer acknowledge new data
  sim.run_until(td + 5s - 1ms);
  EXPECT_EQ(state(), NudState::kDelay);
  sim.run_until(td + 5s);
  EXPECT_EQ(state(), NudState::kReachable);
  EXPECT_EQ(arp_sent(*tap, kB).size(), reqs);
  // Reachable for reachable_time from the confirmation, then stale again.
  Duration rt = tbl().reachable_time();
  sim.run_until(td + 2s + rt - 1ms);
  EXPECT_EQ(state(), NudState::kReachable);
  sim.run_until(td + 2s + rt);
  EXPECT_EQ(state(), NudState::kStale);
}

TEST_F(NeighTest, DelayUnconfirmedProbesByUnicastAndPeerAnswers) {
  TimePoint ts = make_stale();
  TimePoint td = ts + 1s;
  sim.run_until(td);
  send(1);
  size_t reqs = arp_sent(*tap, kB).size();
  uint64_t replies = mib(*a, Mib::ArpInReplies);
  sim.run_until(td + 5s - 1ms);
  EXPECT_EQ(state(), NudState::kDelay);
  sim.run_until(td + 5s);
  // DELAY -> PROBE sent a unicast request; b answered at once, so the entry is confirmed again.
  EXPECT_EQ(state(), NudState::kReachable);
  auto sent = arp_sent(*tap, kB);
  ASSERT_EQ(sent.size(), reqs + 1);
  EXPECT_EQ(sent.back().ts, td + 5s);
  EXPECT_EQ(sent.back().eth_dst, db->dev_addr());
  EXPECT_EQ(sent.back().arp.tha, db->dev_addr());
  EXPECT_EQ(mib(*a, Mib::ArpInReplies), replies + 1);
}

TEST_F(NeighTest, ProbeFailsAfterThreeUnicastProbes) {
  TimePoint ts = make_stale();
  TimePoint td = ts + 1s;
  sim.run_until(td);
  send(1);
  sim.settle();
  EXPECT_EQ(received(), std::vector<int>{1});
  // b forgets its address: it still hears the probes but owns nothing they ask about.
  ASSERT_TRUE(b->ipv4().del_address(db->ifindex(), kB));
  uint64_t b_in = mib(*b, Mib::ArpInRequests);
  uint64_t b_out = mib(*b, Mib::ArpOutReplies);
  size_t reqs = arp_sent(*tap, kB).size();
  sim.run_until(td + 5s);
  EXPECT_EQ(state(), NudState::kProbe);
  sim.run_until(td + 8s - 1ms);
  EXPECT_EQ(state(), NudState::kProbe);
  sim.run_until(td + 8s);
  EXPECT_EQ(state(), NudState::kFailed);
  auto sent = arp_sent(*tap, kB);
  ASSERT_EQ(sent.size(), reqs + 3);
  for (size_t i = 0; i < 3; ++i) {
    const ArpTx& p = sent[reqs + i];
    EXPECT_EQ(p.ts, td + 5s + std::chrono::seconds(i)) << i;
    EXPECT_EQ(p.eth_dst, db->dev_addr()) << i;  // unicast to the address we had
  }
  EXPECT_EQ(mib(*b, Mib::ArpInRequests), b_in + 3);
  EXPECT_EQ(mib(*b, Mib::ArpOutReplies), b_out);
}

TEST_F(NeighTest, ArpQueueIsBoundedAndDropsTheOldest) {
  silence();
  // Each queued datagram is 128 bytes at the IP layer (20 + 8 + 100): room for three.
  tbl().parms().queue_len_bytes = 3 * 128;
  uint64_t full0 = drops(DropReason::NEIGH_QUEUEFULL);
  for (uint8_t t = 1; t <= 5; ++t) send(t);
  auto n = tbl().lookup(kB, *da);
  EXPECT_EQ(n->queued(), 3u);
  n.reset();
  EXPECT_EQ(drops(DropReason::NEIGH_QUEUEFULL), full0 + 2);
  EXPECT_EQ(mib(*a, Mib::ArpUnresolvedDiscards), 2u);
  EXPECT_EQ(tbl().stats().unres_discards, 2u);
  // The peer comes back before the second probe: the three newest arrive, in order.
  sim.run_for(500ms);
  unsilence();
  sim.run_for(600ms);
  EXPECT_EQ(state(), NudState::kReachable);
  EXPECT_EQ(received(), (std::vector<int>{3, 4, 5}));
}

TEST_F(NeighTest, RequestsForOtherAddressesAreNotAnswered) {
  const Ipv4Addr nobody(10, 0, 0, 99);
  uint64_t b_in = mib(*b, Mib::ArpInRequests);
  uint64_t b_out = mib(*b, Mib::ArpOutReplies);
  send(1, nobody);
  sim.run_for(4s);
  EXPECT_EQ(state(nobody), NudState::kFailed);
  EXPECT_EQ(mib(*b, Mib::ArpInRequests), b_in + 3);
  EXPECT_EQ(mib(*b, Mib::ArpOutReplies), b_out);
  // Nor does b learn the asker from requests that are not for it.
  EXPECT_FALSE(has_entry(*b, *db, kA));
}

TEST_F(NeighTest, UnsolicitedReplyCreatesNoEntry) {
  wire::ArpPacket rep{wire::kArpOpReply, MacAddr{{2, 9, 9, 9, 9, 9}}, Ipv4Addr(10, 0, 0, 50), da->dev_addr(),
                      kA};
  Bytes f = test::arp_frame(da->dev_addr(), rep);
  SkbPtr skb = SkBuff::alloc(0, f.size());
  (void)skb->put_data(f);
  a->devs().netif_rx(std::move(skb), *da);
  sim.settle();
  EXPECT_EQ(mib(*a, Mib::ArpInReplies), 1u);
  EXPECT_EQ(tbl().lookup(Ipv4Addr(10, 0, 0, 50), *da), nullptr);
}

TEST_F(NeighTest, PermanentEntriesSkipResolutionAndIgnoreUpdates) {
  const MacAddr fixed{{2, 1, 2, 3, 4, 5}};
  tbl().neigh_add_permanent(kB, *da, fixed);
  EXPECT_EQ(state(), NudState::kPermanent);
  uint64_t req0 = mib(*a, Mib::ArpOutRequests);
  send(1);
  EXPECT_EQ(mib(*a, Mib::ArpOutRequests), req0);
  // b's reply to someone else's question would not move it; neither does time.
  tbl().neigh_update(*tbl().lookup(kB, *da), db->dev_addr(), true);
  sim.run_for(200s);
  EXPECT_EQ(state(), NudState::kPermanent);
  EXPECT_EQ(tbl().lookup(kB, *da)->ha(), fixed);
}

// --- gratuitous ARP ---

TEST(NeighGratuitous, AddAddressAnnouncesIt) {
  Sim sim(5);
  Stack& a = sim.add_stack("a");
  Stack& b = sim.add_stack("b");
  MemWire& w = sim.add_wire();
  NetDevice& d0 = a.add_device(w.make_end(0, "g0", MacAddr{{2, 0, 0, 0, 0, 0xa}}));
  NetDevice& d1 = b.add_device(w.make_end(1, "g1", MacAddr{{2, 0, 0, 0, 0, 0xb}}));
  ASSERT_TRUE(b.add_address(d1, Ipv4Cidr{kB, 24}));
  DeviceTap tap(d0, "garp");
  uint64_t b_out = b.net().mib[Mib::ArpOutReplies];
  ASSERT_TRUE(a.add_address(d0, Ipv4Cidr{kA, 24}));
  auto frames = tap.transmitted();
  ASSERT_EQ(frames.size(), 1u);
  auto eth = wire::EthHdr::parse(frames[0].bytes);
  ASSERT_TRUE(eth);
  EXPECT_TRUE(eth->dst.is_broadcast());
  EXPECT_EQ(eth->ethertype, wire::kEthPArp);
  auto arp = wire::ArpPacket::parse(std::span<const std::byte>(frames[0].bytes).subspan(14));
  ASSERT_TRUE(arp);
  EXPECT_EQ(arp->op, wire::kArpOpRequest);
  EXPECT_EQ(arp->spa, kA);
  EXPECT_EQ(arp->tpa, kA);
  EXPECT_EQ(arp->sha, d0.dev_addr());
  EXPECT_TRUE(arp->tha.is_zero());
  sim.settle();
  EXPECT_EQ(b.net().mib[Mib::ArpInRequests], 1u);
  EXPECT_EQ(b.net().mib[Mib::ArpOutReplies], b_out);  // nothing to answer
  EXPECT_EQ(b.arp().tbl().lookup(kA, d1), nullptr);   // and no entry made from it
}

TEST(NeighGratuitous, UpdatesAnExistingEntry) {
  Sim sim(6);
  Stack& a = sim.add_stack("a");
  Stack& b = sim.add_stack("b");
  sim.connect(a, Ipv4Cidr{kA, 24}, b, Ipv4Cidr{kB, 24});
  NetDevice& db = *b.devs().dev_get_by_name("mw1b");
  auto s = b.udp().socket();
  ASSERT_TRUE(s->sendto(Bytes(8), SockAddrIn{kA, 9}));
  sim.settle();
  auto n = b.arp().tbl().lookup(kA, db);
  ASSERT_TRUE(n);
  ASSERT_EQ(n->nud_state(), NudState::kReachable);
  // 10.0.0.1 moved to another card: its announcement reaches b.
  const MacAddr moved{{2, 0, 0, 0, 0x77, 0x77}};
  wire::ArpPacket garp{wire::kArpOpRequest, moved, kA, MacAddr{}, kA};
  Bytes f = test::arp_frame(MacAddr::broadcast(), garp);
  SkbPtr skb = SkBuff::alloc(0, f.size());
  (void)skb->put_data(f);
  b.devs().netif_rx(std::move(skb), db);
  sim.settle();
  EXPECT_EQ(n->ha(), moved);
  EXPECT_EQ(n->nud_state(), NudState::kStale);  // new address, not yet confirmed
}

// --- garbage collection ---

TEST_F(NeighTest, GarbageCollectsStaleUnusedEntries) {
  resolve();  // at 1 s: b learns a from the request (STALE), and never uses that entry
  ASSERT_TRUE(has_entry(*b, *db, kA));
  uint64_t destroys = b->arp().tbl().stats().destroys;
  // GC runs every 30 s; the entry qualifies once unused for more than 60 s: at the run at 90 s.
  sim.run_until(at(90s) - 1ms);
  EXPECT_TRUE(has_entry(*b, *db, kA));
  sim.run_until(at(90s));
  EXPECT_FALSE(has_entry(*b, *db, kA));
  EXPECT_EQ(b->arp().tbl().stats().destroys, destroys + 1);
  // a's entry for b went STALE too and is collected as well; talking again rebuilds it.
  sim.run_until(at(150s));
  EXPECT_EQ(tbl().lookup(kB, *da), nullptr);
  send(5);
  sim.settle();
  EXPECT_EQ(state(), NudState::kReachable);
  EXPECT_EQ(received(), std::vector<int>{5});
}

TEST_F(NeighTest, FailedEntriesAreCollected) {
  const Ipv4Addr nobody(10, 0, 0, 99);
  send(1, nobody);
  sim.run_until(at(29s));
  ASSERT_EQ(state(nobody), NudState::kFailed);
  sim.run_until(at(30s));
  EXPECT_EQ(tbl().lookup(nobody, *da), nullptr);
}

TEST_F(NeighTest, FullTableMakesRoomByDroppingFailedEntries) {
  silence();
  tbl().parms().gc_thresh3 = 4;
  for (uint8_t i = 10; i < 14; ++i) send(i, Ipv4Addr(10, 0, 0, i));
  EXPECT_EQ(tbl().size(), 4u);
  // All four are still being resolved: there is no room for a fifth.
  auto r = tx->sendto(Bytes(4), SockAddrIn{Ipv4Addr(10, 0, 0, 14), kPort});
  EXPECT_EQ(r.error(), Errc::kNoBufs);
  sim.run_for(3s);
  for (uint8_t i = 10; i < 14; ++i) EXPECT_EQ(state(Ipv4Addr(10, 0, 0, i)), NudState::kFailed);
  // Failed entries are garbage: a new destination evicts them.
  send(14, Ipv4Addr(10, 0, 0, 14));
  EXPECT_EQ(state(Ipv4Addr(10, 0, 0, 14)), NudState::kIncomplete);
  EXPECT_LE(tbl().size(), 4u);
  EXPECT_GE(tbl().stats().forced_gc, 2u);
  // And the evicted destinations can be tried again later.
  unsilence();
  send(2);
  sim.settle();
  EXPECT_EQ(received(), std::vector<int>{2});
}

}  // namespace
}  // namespace ustack
