#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "core/rand.h"
#include "ipv4/ip_fragment.h"
#include "support/net_test_util.h"

namespace ustack {
namespace {

using test::Bytes;
using test::Host;
using test::pattern;
using wire::kIpMf;

constexpr Ipv4Addr kLocal = Host::kLocal;
constexpr Ipv4Addr kPeer = Host::kPeer;

// One fragment of a datagram from `src` to us: `piece` at byte `off` of the IP payload.
Bytes fragment(uint16_t id, size_t off, std::span<const std::byte> piece, bool mf, Ipv4Addr src = kPeer,
               uint8_t proto = wire::kIpProtoUdp) {
  EXPECT_EQ(off % 8, 0u);
  uint16_t fo = static_cast<uint16_t>((mf ? kIpMf : 0) | (off / 8));
  return test::ipv4_packet({src, kLocal, proto, 64, id, fo}, piece);
}

// A UDP datagram from the peer cut as ip_fragment would cut it for a 1500-byte MTU.
std::vector<Bytes> udp_fragments(uint16_t id, std::span<const std::byte> payload, uint16_t sport = 4000,
                                 uint16_t dport = 9, size_t chunk = 1480, Ipv4Addr src = kPeer) {
  Bytes l4 = test::udp_segment(src, kLocal, sport, dport, payload);
  std::vector<Bytes> out;
  for (size_t off = 0; off < l4.size(); off += chunk) {
    size_t len = std::min(chunk, l4.size() - off);
    out.push_back(fragment(id, off, std::span(l4).subspan(off, len), off + len < l4.size(), src));
  }
  return out;
}

class FragTest : public ::testing::Test {
 protected:
  FragTest() {
    rx = h.st.udp().socket();
    EXPECT_TRUE(rx->bind(SockAddrIn{Ipv4Addr::any(), 9}));
  }
  IpFragQueues& frags() { return h.st.ipv4().frags(); }
  // Every datagram waiting on the socket.
  std::vector<Bytes> received(std::vector<SockAddrIn>* from = nullptr) {
    std::vector<Bytes> out;
    std::vector<std::byte> buf(70000);
    for (;;) {
      SockAddrIn f;
      auto r = rx->recvfrom(buf, &f);
      if (!r) break;
      out.emplace_back(buf.begin(), buf.begin() + static_cast<long>(*r));
      if (from) from->push_back(f);
    }
    return out;
  }
  void inject(const std::vector<Bytes>& frames, std::initializer_list<size_t> order) {
    for (size_t i : order) h.inject_ip(frames.at(i));
  }

  Host h;
  std::unique_ptr<UdpSock> rx;
};

// --- output ---

TEST_F(FragTest, EightKilobyteDatagramLeavesAsSixFragments) {
  auto s = h.st.udp().socket();
  ASSERT_TRUE(s->bind(SockAddrIn{Ipv4Addr::any(), 5000}));
  Bytes data = pattern(8000, 1);
  uint64_t creates = h.mib(Mib::IpFragCreates), oks = h.mib(Mib::IpFragOKs);
  auto r = s->sendto(data, SockAddrIn{kPeer, 9});
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 8000u);
  auto f = h.sent();
  ASSERT_EQ(f.size(), 6u);
  Bytes udp;
  for (size_t i = 0; i < f.size(); ++i) {
    ASSERT_TRUE(f[i].ip) << i;
    const wire::Ipv4Hdr& ip = *f[i].ip;
    EXPECT_EQ(f[i].eth.dst, Host::kPeerMac);
    EXPECT_EQ(ip.id, f[0].ip->id) << i;
    EXPECT_FALSE(ip.dont_fragment()) << i;  // too big for the path: fragmented, so no DF
    EXPECT_EQ(ip.frag_offset_bytes(), i * 1480) << i;
    EXPECT_EQ(ip.more_fragments(), i < 5) << i;
    EXPECT_EQ(ip.tot_len, i < 5 ? 1500 : 20 + 8008 - 5 * 1480) << i;
    EXPECT_EQ(ip.protocol, wire::kIpProtoUdp);
    EXPECT_EQ(ip.saddr, kLocal);
    EXPECT_EQ(ip.daddr, kPeer);
    EXPECT_EQ(ip.ttl, 64);
    udp.insert(udp.end(), f[i].l4.begin(), f[i].l4.end());
  }
  ASSERT_EQ(udp.size(), 8008u);
  auto uh = wire::UdpHdr::parse(udp);
  ASSERT_TRUE(uh);
  EXPECT_EQ(uh->source, 5000);
  EXPECT_EQ(uh->dest, 9);
  EXPECT_EQ(uh->len, 8008);
  EXPECT_TRUE(test::udp_csum_ok(*f[0].ip, udp));
  EXPECT_TRUE(std::equal(data.begin(), data.end(), udp.begin() + 8));
  EXPECT_EQ(h.mib(Mib::IpFragCreates), creates + 6);
  EXPECT_EQ(h.mib(Mib::IpFragOKs), oks + 1);
}

TEST_F(FragTest, LargestDatagramIsCutAndLargerIsRefused) {
  auto s = h.st.udp().socket();
  auto too_big = s->sendto(Bytes(65508), SockAddrIn{kPeer, 9});
  EXPECT_EQ(too_big.error(), Errc::kMsgSize);
  EXPECT_TRUE(h.sent().empty());
  ASSERT_TRUE(s->sendto(pattern(65507, 3), SockAddrIn{kPeer, 9}));
  auto f = h.sent();
  ASSERT_EQ(f.size(), 45u);  // 65515 bytes of UDP in 1480-byte pieces
  EXPECT_EQ(f.back().ip->frag_offset_bytes() + f.back().ip->tot_len - 20, 65515u);
}

TEST_F(FragTest, DontFragmentModes) {
  auto s = h.st.udp().socket();
  const SockAddrIn to{kPeer, 9};
  // IP_PMTUDISC_DO: DF always, EMSGSIZE beyond the MTU, nothing sent.
  s->set_pmtudisc(PmtuDisc::kDo);
  EXPECT_EQ(s->sendto(Bytes(1473), to).error(), Errc::kMsgSize);
  EXPECT_TRUE(h.sent().empty());
  ASSERT_TRUE(s->sendto(Bytes(1472), to));
  auto f = h.sent();
  ASSERT_EQ(f.size(), 1u);
  EXPECT_TRUE(f[0].ip->dont_fragment());
  EXPECT_EQ(f[0].ip->tot_len, 1500);
  // The learned path MTU counts, not just the device's.
  h.st.ipv4().ip_rt_update_pmtu(kPeer, 1000);
  EXPECT_EQ(s->sendto(Bytes(973), to).error(), Errc::kMsgSize);
  ASSERT_TRUE(s->sendto(Bytes(972), to));
  EXPECT_EQ(h.sent().size(), 1u);
  // IP_PMTUDISC_WANT: DF while it fits; larger datagrams are fragmented to the path MTU without DF.
  s->set_pmtudisc(PmtuDisc::kWant);
  ASSERT_TRUE(s->sendto(Bytes(900), to));
  f = h.sent();
  ASSERT_EQ(f.size(), 1u);
  EXPECT_TRUE(f[0].ip->dont_fragment());
  ASSERT_TRUE(s->sendto(Bytes(1400), to));
  f = h.sent();
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].ip->tot_len, 20 + 976);  // (1000 - 20) rounded down to 8
  EXPECT_FALSE(f[0].ip->dont_fragment());
  EXPECT_FALSE(f[1].ip->dont_fragment());
  // IP_PMTUDISC_DONT: never DF.
  s->set_pmtudisc(PmtuDisc::kDont);
  ASSERT_TRUE(s->sendto(Bytes(100), to));
  f = h.sent();
  ASSERT_EQ(f.size(), 1u);
  EXPECT_FALSE(f[0].ip->dont_fragment());
}

TEST_F(FragTest, OnlyCopiedOptionsRepeatInLaterFragments) {
  // A datagram with Router Alert (copied) and a Record Route (not copied), sent as built.
  Bytes opts = test::bytes_of({0x94, 0x04, 0x00, 0x00, 0x07, 0x03, 0x04, 0x00});
  Bytes payload = pattern(3000, 4);
  Bytes dgram(28 + payload.size());
  wire::Ipv4Hdr hdr;
  hdr.tot_len = static_cast<uint16_t>(dgram.size());
  hdr.id = 99;
  hdr.protocol = 253;  // experimental: no transport to care about it
  hdr.saddr = kLocal;
  hdr.daddr = kPeer;
  hdr.emit(dgram.data());
  dgram[0] = std::byte{0x47};
  std::copy(opts.begin(), opts.end(), dgram.begin() + 20);
  std::copy(payload.begin(), payload.end(), dgram.begin() + 28);
  wire::ip_send_check(dgram.data());
  auto dst = h.st.ipv4().ip_route_output(kPeer);
  ASSERT_TRUE(dst);
  SkbPtr skb = SkBuff::alloc(64, dgram.size());
  (void)skb->put_data(dgram);
  skb->reset_network_header();
  ASSERT_TRUE(h.st.ipv4().ip_local_out(std::move(skb), *dst));
  std::vector<Bytes> raw = h.eth0->sent;
  auto f = h.sent();
  ASSERT_EQ(f.size(), 3u);  // 1472 bytes of payload per fragment
  Bytes rebuilt;
  for (size_t i = 0; i < f.size(); ++i) {
    ASSERT_TRUE(f[i].ip);
    EXPECT_EQ(f[i].ip->ihl, 7) << "every fragment keeps the header length";
    EXPECT_EQ(f[i].ip->frag_offset_bytes(), i * 1472);
    EXPECT_EQ(f[i].ip->id, 99);
    rebuilt.insert(rebuilt.end(), f[i].l4.begin(), f[i].l4.end());
    Bytes sent_opts(raw[i].begin() + 34, raw[i].begin() + 42);
    if (i == 0) {
      EXPECT_EQ(sent_opts, opts);
    } else {
      EXPECT_EQ(sent_opts, test::bytes_of({0x94, 0x04, 0x00, 0x00, 0x01, 0x01, 0x01, 0x00})) << i;
    }
  }
  EXPECT_EQ(rebuilt, payload);
}

// --- reassembly ---

TEST_F(FragTest, ReassemblesInOrder) {
  Bytes data = pattern(8000, 5);
  auto fr = udp_fragments(77, data);
  ASSERT_EQ(fr.size(), 6u);
  uint64_t reqds = h.mib(Mib::IpReasmReqds), oks = h.mib(Mib::IpReasmOKs);
  for (size_t i = 0; i + 1 < fr.size(); ++i) h.inject_ip(fr[i]);
  EXPECT_FALSE(rx->readable());
  EXPECT_EQ(frags().queues(), 1u);
  EXPECT_GT(frags().mem(), 7400u);
  h.inject_ip(fr.back());
  std::vector<SockAddrIn> from;
  auto got = received(&from);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], data);
  EXPECT_EQ(from[0], (SockAddrIn{kPeer, 4000}));
  EXPECT_EQ(h.mib(Mib::IpReasmReqds), reqds + 6);
  EXPECT_EQ(h.mib(Mib::IpReasmOKs), oks + 1);
  EXPECT_EQ(frags().queues(), 0u);
  EXPECT_EQ(frags().mem(), 0u);
}

TEST_F(FragTest, ReassemblesInAnyOrder) {
  Rng rng(2024);
  for (uint16_t round = 0; round < 12; ++round) {
    Bytes data = pattern(5000 + round * 111, round);
    auto fr = udp_fragments(static_cast<uint16_t>(1000 + round), data);
    std::vector<size_t> order(fr.size());
    std::iota(order.begin(), order.end(), 0);
    if (round == 0) std::reverse(order.begin(), order.end());
    if (round == 1) std::rotate(order.begin(), order.end() - 1, order.end());  // the last first
    if (round >= 2) {
      for (size_t i = order.size() - 1; i > 0; --i) std::swap(order[i], order[rng.below(uint32_t(i + 1))]);
    }
    for (size_t i : order) h.inject_ip(fr[i]);
    auto got = received();
    ASSERT_EQ(got.size(), 1u) << "round " << round;
    EXPECT_EQ(got[0], data) << "round " << round;
  }
  EXPECT_EQ(frags().queues(), 0u);
  EXPECT_EQ(frags().mem(), 0u);
}

TEST_F(FragTest, InterleavedDatagramsAreKeptApart) {
  // Same ID from two sources, and two IDs from one source: three queues.
  const Ipv4Addr other(10, 0, 0, 3);
  Bytes d1 = pattern(4000, 10), d2 = pattern(4000, 11), d3 = pattern(4000, 12);
  auto f1 = udp_fragments(5, d1);
  auto f2 = udp_fragments(5, d2, 4000, 9, 1480, other);
  auto f3 = udp_fragments(6, d3);
  for (size_t i = 0; i < 2; ++i) {
    h.inject_ip(f1[i]);
    h.inject_ip(f3[2 - i]);
    h.inject_ip(f2[i]);
  }
  EXPECT_EQ(frags().queues(), 3u);
  h.inject_ip(f2[2]);
  h.inject_ip(f3[0]);
  h.inject_ip(f1[2]);
  std::vector<SockAddrIn> from;
  auto got = received(&from);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], d2);
  EXPECT_EQ(from[0].addr, other);
  EXPECT_EQ(got[1], d3);
  EXPECT_EQ(got[2], d1);
}

TEST_F(FragTest, ExactDuplicatesAreDroppedAlone) {
  Bytes data = pattern(8000, 6);
  auto fr = udp_fragments(78, data);
  uint64_t dup = h.drops(DropReason::FRAG_DUP);
  inject(fr, {0, 1, 1, 2, 3, 5, 5, 0});
  EXPECT_EQ(h.drops(DropReason::FRAG_DUP), dup + 3);
  EXPECT_FALSE(rx->readable());
  h.inject_ip(fr[4]);
  auto got = received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], data);
}

TEST_F(FragTest, OverlapDropsTheWholeDatagram) {
  Bytes data = pattern(8000, 7);
  auto fr = udp_fragments(79, data);
  Bytes l4 = test::udp_segment(kPeer, kLocal, 4000, 9, data);
  uint64_t overlaps = h.drops(DropReason::FRAG_OVERLAP), fails = h.mib(Mib::IpReasmFails);
  h.inject_ip(fr[0]);
  h.inject_ip(fr[1]);
  // Eight bytes that straddle the end of the first fragment: not a copy of anything.
  h.inject_ip(fragment(79, 1472, std::span(l4).subspan(1472, 16), true));
  EXPECT_EQ(h.drops(DropReason::FRAG_OVERLAP), overlaps + 1);
  EXPECT_EQ(h.mib(Mib::IpReasmFails), fails + 1);
  EXPECT_EQ(frags().queues(), 0u);
  EXPECT_EQ(frags().mem(), 0u);
  // What follows cannot complete the datagram: its beginning is gone.
  inject(fr, {2, 3, 4, 5});
  EXPECT_FALSE(rx->readable());
  EXPECT_EQ(frags().queues(), 1u);
  // ... and expires without an ICMP error, having no first fragment to quote.
  h.run_for(30s);
  EXPECT_EQ(frags().queues(), 0u);
  EXPECT_TRUE(h.sent().empty());
}

TEST_F(FragTest, SameOffsetDifferentLengthIsAnOverlap) {
  Bytes data = pattern(8000, 8);
  auto fr = udp_fragments(80, data);
  Bytes l4 = test::udp_segment(kPeer, kLocal, 4000, 9, data);
  uint64_t overlaps = h.drops(DropReason::FRAG_OVERLAP);
  h.inject_ip(fr[1]);
  h.inject_ip(fragment(80, 1480, std::span(l4).subspan(1480, 8), true));
  EXPECT_EQ(h.drops(DropReason::FRAG_OVERLAP), overlaps + 1);
  EXPECT_EQ(frags().queues(), 0u);
}

TEST_F(FragTest, InconsistentLengthsDropTheDatagram) {
  Bytes data = pattern(8000, 9);
  auto fr = udp_fragments(81, data);
  Bytes l4 = test::udp_segment(kPeer, kLocal, 4000, 9, data);
  uint64_t bad = h.drops(DropReason::FRAG_BAD_LENGTH);
  // A second "last" fragment that ends elsewhere.
  h.inject_ip(fr[5]);
  h.inject_ip(fragment(81, 1480, std::span(l4).subspan(1480, 100), false));
  EXPECT_EQ(h.drops(DropReason::FRAG_BAD_LENGTH), bad + 1);
  EXPECT_EQ(frags().queues(), 0u);
  // A middle fragment beyond the known end.
  h.inject_ip(fr[5]);
  h.inject_ip(fragment(81, 8008, std::span(l4).subspan(0, 16), true));
  EXPECT_EQ(h.drops(DropReason::FRAG_BAD_LENGTH), bad + 2);
  EXPECT_EQ(frags().queues(), 0u);
  // An empty fragment.
  h.inject_ip(fragment(82, 1480, {}, true));
  EXPECT_EQ(h.drops(DropReason::FRAG_BAD_LENGTH), bad + 3);
  EXPECT_FALSE(rx->readable());
}

TEST_F(FragTest, DatagramsBeyond65535BytesAreRejected) {
  // The largest legal datagram (65535 bytes with its header) goes through...
  Bytes data = pattern(65507, 12);
  auto fr = udp_fragments(90, data);
  ASSERT_EQ(fr.size(), 45u);
  for (auto& f : fr) h.inject_ip(f);
  auto got = received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], data);
  // ... one that would end past it is dropped, and takes its queue with it.
  Bytes l4 = test::udp_segment(kPeer, kLocal, 4000, 9, pattern(100, 13));
  uint64_t bad = h.drops(DropReason::FRAG_BAD_LENGTH);
  h.inject_ip(fragment(91, 0, std::span(l4).first(48), true));
  EXPECT_EQ(frags().queues(), 1u);
  h.inject_ip(fragment(91, 65528, test::pattern(16, 1), false));  // ping of death: 65528 + 16 + 20
  EXPECT_EQ(h.drops(DropReason::FRAG_BAD_LENGTH), bad + 1);
  EXPECT_EQ(frags().queues(), 0u);
  h.inject_ip(fragment(92, 65512, test::pattern(8, 2), false));  // 65512 + 8 + 20 = 65540
  EXPECT_EQ(h.drops(DropReason::FRAG_BAD_LENGTH), bad + 2);
  EXPECT_FALSE(rx->readable());
}

// --- expiry and memory ---

TEST_F(FragTest, TimeoutSendsTimeExceededWhenTheFirstFragmentCame) {
  auto fr = udp_fragments(83, pattern(8000, 14));
  h.run_until(test::at(1s));
  uint64_t timeouts = h.mib(Mib::IpReasmTimeout), fails = h.mib(Mib::IpReasmFails);
  uint64_t texc = h.mib(Mib::IcmpOutTimeExcds), drops = h.drops(DropReason::FRAG_REASM_TIMEOUT);
  inject(fr, {0, 1, 3});
  h.run_until(test::at(31s) - 1ms);
  EXPECT_TRUE(h.sent().empty());
  EXPECT_EQ(frags().queues(), 1u);
  h.run_until(test::at(31s));
  EXPECT_EQ(frags().queues(), 0u);
  EXPECT_EQ(frags().mem(), 0u);
  EXPECT_EQ(h.mib(Mib::IpReasmTimeout), timeouts + 1);
  EXPECT_EQ(h.mib(Mib::IpReasmFails), fails + 1);
  EXPECT_EQ(h.mib(Mib::IcmpOutTimeExcds), texc + 1);
  EXPECT_EQ(h.drops(DropReason::FRAG_REASM_TIMEOUT), drops + 1);
  auto f = h.sent();
  ASSERT_EQ(f.size(), 1u);
  ASSERT_TRUE(f[0].ip);
  EXPECT_EQ(f[0].ip->protocol, wire::kIpProtoIcmp);
  EXPECT_EQ(f[0].ip->saddr, kLocal);
  EXPECT_EQ(f[0].ip->daddr, kPeer);
  auto icmp = wire::IcmpHdr::parse(f[0].l4);
  ASSERT_TRUE(icmp);
  EXPECT_EQ(icmp->type, wire::kIcmpTimeExceeded);
  EXPECT_EQ(icmp->code, wire::kIcmpExcFragTime);
  EXPECT_EQ(ip_compute_csum(f[0].l4), 0);
  // It quotes the first fragment's header: the peer can tell which datagram died.
  std::span<const std::byte> q = std::span<const std::byte>(f[0].l4).subspan(8);
  EXPECT_EQ(q.size(), 576u - 28u);  // as much as fits in 576 bytes
  EXPECT_EQ(Bytes(q.begin(), q.begin() + 28), Bytes(fr[0].begin(), fr[0].begin() + 28));
  // Later fragments of that datagram start afresh (and will expire too).
  h.inject_ip(fr[2]);
  EXPECT_EQ(frags().queues(), 1u);
}

TEST_F(FragTest, TimeoutWithoutFirstFragmentIsSilent) {
  auto fr = udp_fragments(84, pattern(8000, 15));
  uint64_t timeouts = h.mib(Mib::IpReasmTimeout);
  inject(fr, {2, 5});
  h.run_for(30s);
  EXPECT_EQ(h.mib(Mib::IpReasmTimeout), timeouts + 1);
  EXPECT_EQ(frags().queues(), 0u);
  EXPECT_TRUE(h.sent().empty());
  EXPECT_EQ(h.mib(Mib::IcmpOutTimeExcds), 0u);
}

TEST_F(FragTest, MemoryLimitIsEnforced) {
  const size_t limit = 8000;
  h.st.ipv4().sysctl().ipfrag_high_thresh = limit;
  uint64_t memdrops = h.drops(DropReason::FRAG_MEM_LIMIT);
  // First fragments of ten datagrams that never complete.
  for (uint16_t id = 100; id < 110; ++id) {
    h.inject_ip(udp_fragments(id, pattern(4000, id))[0]);
    EXPECT_LE(frags().mem(), limit);
  }
  EXPECT_LT(frags().queues(), 10u);
  EXPECT_GT(frags().queues(), 0u);
  EXPECT_GT(h.drops(DropReason::FRAG_MEM_LIMIT), memdrops);
  // A fragmented datagram cannot get through while the memory is taken...
  Bytes data = pattern(4000, 200);
  for (auto& f : udp_fragments(200, data)) h.inject_ip(f);
  EXPECT_LE(frags().mem(), limit);
  EXPECT_FALSE(rx->readable());
  // ... but unfragmented traffic is not affected.
  h.inject_udp(4000, 9, pattern(1000, 201));
  EXPECT_EQ(received().size(), 1u);
  // Once the stale queues expire, reassembly works again.
  h.run_for(30s);
  EXPECT_EQ(frags().mem(), 0u);
  for (auto& f : udp_fragments(201, data)) h.inject_ip(f);
  auto got = received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], data);
}

}  // namespace
}  // namespace ustack
