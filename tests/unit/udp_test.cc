#include <gtest/gtest.h>

#include <set>

#include "support/net_test_util.h"

namespace ustack {
namespace {

using test::Bytes;
using test::Host;
using test::pattern;
using namespace wire;

constexpr Ipv4Addr kLocal = Host::kLocal;
constexpr Ipv4Addr kPeer = Host::kPeer;

class UdpTest : public ::testing::Test {
 protected:
  std::unique_ptr<UdpSock> sock() { return h.st.udp().socket(); }
  std::vector<Bytes> drain(UdpSock& s, std::vector<SockAddrIn>* from = nullptr) {
    std::vector<Bytes> out;
    std::vector<std::byte> buf(70000);
    for (;;) {
      SockAddrIn f;
      auto r = s.recvfrom(buf, &f);
      if (!r) break;
      out.emplace_back(buf.begin(), buf.begin() + static_cast<long>(*r));
      if (from) from->push_back(f);
    }
    return out;
  }
  Host h;
};

// --- binding ---

TEST_F(UdpTest, BindConflicts) {
  auto a = sock();
  ASSERT_TRUE(a->bind(SockAddrIn{kLocal, 5000}));
  EXPECT_EQ(a->local(), (SockAddrIn{kLocal, 5000}));
  EXPECT_EQ(a->bind(SockAddrIn{kLocal, 5001}).error(), Errc::kInval);  // already bound
  auto b = sock();
  EXPECT_EQ(b->bind(SockAddrIn{kLocal, 5000}).error(), Errc::kAddrInUse);
  EXPECT_EQ(b->bind(SockAddrIn{Ipv4Addr::any(), 5000}).error(), Errc::kAddrInUse);  // the wildcard covers it
  ASSERT_TRUE(b->bind(SockAddrIn{Ipv4Addr(127, 0, 0, 1), 5000}));  // another address of ours: no conflict
  auto c = sock();
  ASSERT_TRUE(c->bind(SockAddrIn{Ipv4Addr::any(), 6000}));
  auto d = sock();
  EXPECT_EQ(d->bind(SockAddrIn{kLocal, 6000}).error(), Errc::kAddrInUse);
  EXPECT_EQ(d->bind(SockAddrIn{Ipv4Addr(10, 0, 0, 9), 6001}).error(), Errc::kAddrNotAvail);
  // Closing frees the port.
  a.reset();
  ASSERT_TRUE(d->bind(SockAddrIn{kLocal, 5000}));
}

TEST_F(UdpTest, EphemeralPortsComeFromTheLocalRange) {
  std::vector<std::unique_ptr<UdpSock>> socks;
  std::set<uint16_t> ports;
  for (int i = 0; i < 200; ++i) {
    socks.push_back(sock());
    ASSERT_TRUE(socks.back()->bind(SockAddrIn{Ipv4Addr::any(), 0}));
    uint16_t p = socks.back()->local().port;
    EXPECT_GE(p, 32768);
    EXPECT_LE(p, 60999);
    ports.insert(p);
  }
  EXPECT_EQ(ports.size(), 200u);
  // The start is random: the first ports are not simply consecutive.
  std::vector<uint16_t> v;
  for (size_t i = 0; i < 3; ++i) v.push_back(socks[i]->local().port);
  EXPECT_FALSE(v[1] == v[0] + 1 && v[2] == v[1] + 1);
  // Sending or connecting binds implicitly.
  auto s = sock();
  ASSERT_TRUE(s->sendto(Bytes(4), SockAddrIn{kPeer, 9}));
  EXPECT_GE(s->local().port, 32768);
  auto c = sock();
  ASSERT_TRUE(c->connect(SockAddrIn{kPeer, 9}));
  EXPECT_GE(c->local().port, 32768);
  EXPECT_EQ(c->peer(), (SockAddrIn{kPeer, 9}));
}

TEST_F(UdpTest, ExhaustedRangeIsAddrInUse) {
  h.st.udp().set_local_port_range(40000, 40002);
  std::set<uint16_t> ports;
  std::vector<std::unique_ptr<UdpSock>> socks;
  for (int i = 0; i < 3; ++i) {
    socks.push_back(sock());
    ASSERT_TRUE(socks.back()->bind(SockAddrIn{Ipv4Addr::any(), 0}));
    ports.insert(socks.back()->local().port);
  }
  EXPECT_EQ(ports, (std::set<uint16_t>{40000, 40001, 40002}));
  auto more = sock();
  EXPECT_EQ(more->bind(SockAddrIn{Ipv4Addr::any(), 0}).error(), Errc::kAddrInUse);
  EXPECT_EQ(more->sendto(Bytes(1), SockAddrIn{kPeer, 9}).error(), Errc::kAddrInUse);
  socks.pop_back();
  ASSERT_TRUE(more->bind(SockAddrIn{Ipv4Addr::any(), 0}));
}

// --- receiving ---

TEST_F(UdpTest, ReceivesWithSourceAndTruncates) {
  auto s = sock();
  ASSERT_TRUE(s->bind(SockAddrIn{Ipv4Addr::any(), 7}));
  int ready = 0;
  s->set_data_ready([&] { ++ready; });
  h.inject_udp(1234, 7, pattern(100, 1));
  h.inject_udp(1235, 7, {});
  EXPECT_EQ(ready, 2);
  EXPECT_EQ(s->queued_datagrams(), 2u);
  EXPECT_EQ(h.mib(Mib::UdpInDatagrams), 2u);
  std::byte small[10];
  SockAddrIn from;
  auto r = s->recvfrom(small, &from);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 10u);  // truncated to the buffer; the rest is gone
  Bytes first = pattern(100, 1);
  EXPECT_EQ(Bytes(small, small + 10), Bytes(first.begin(), first.begin() + 10));
  EXPECT_EQ(from, (SockAddrIn{kPeer, 1234}));
  r = s->recvfrom(small, &from);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 0u);  // an empty datagram is still a datagram
  EXPECT_EQ(from.port, 1235);
  EXPECT_EQ(s->recvfrom(small).error(), Errc::kAgain);
  EXPECT_FALSE(s->readable());
}

TEST_F(UdpTest, ConnectFiltersSources) {
  auto s = sock();
  ASSERT_TRUE(s->bind(SockAddrIn{kLocal, 7}));
  ASSERT_TRUE(s->connect(SockAddrIn{kPeer, 1234}));
  h.inject_udp(1234, 7, pattern(8, 1));
  h.inject_udp(1235, 7, pattern(8, 2));                         // other port
  h.inject_udp(1234, 7, pattern(8, 3), Ipv4Addr(10, 0, 0, 3));  // other host
  auto got = drain(*s);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], pattern(8, 1));
  EXPECT_EQ(h.mib(Mib::UdpNoPorts), 2u);
  // Disconnecting (AF_UNSPEC) accepts everyone again.
  ASSERT_TRUE(s->connect(SockAddrIn{}));
  EXPECT_FALSE(s->peer());
  h.inject_udp(1235, 7, pattern(8, 4));
  EXPECT_EQ(drain(*s).size(), 1u);
  // And a socket bound to one address does not see datagrams for another of ours.
  auto lo = sock();
  ASSERT_TRUE(lo->bind(SockAddrIn{Ipv4Addr(127, 0, 0, 1), 8}));
  h.inject_udp(1, 8, pattern(8, 5));
  EXPECT_FALSE(lo->readable());
}

TEST_F(UdpTest, ChecksumErrorsAreCountedAndDropped) {
  auto s = sock();
  ASSERT_TRUE(s->bind(SockAddrIn{Ipv4Addr::any(), 7}));
  Bytes udp = test::udp_segment(kPeer, kLocal, 1234, 7, pattern(40, 1));
  udp[20] ^= std::byte{0x40};
  h.inject_ip(test::ipv4_packet({kPeer, kLocal, kIpProtoUdp}, udp));
  EXPECT_FALSE(s->readable());
  EXPECT_EQ(h.mib(Mib::UdpInCsumErrors), 1u);
  EXPECT_EQ(h.mib(Mib::UdpInErrors), 1u);
  EXPECT_EQ(h.drops(DropReason::UDP_CSUM), 1u);
  EXPECT_TRUE(h.sent().empty());  // no port unreachable for a corrupt datagram either
  // A zero checksum means "none" (RFC 768) and is accepted.
  Bytes nocsum = test::udp_segment(kPeer, kLocal, 1234, 7, pattern(40, 2), /*with_csum=*/false);
  h.inject_ip(test::ipv4_packet({kPeer, kLocal, kIpProtoUdp}, nocsum));
  auto got = drain(*s);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], pattern(40, 2));
}

TEST_F(UdpTest, LengthFieldIsChecked) {
  auto s = sock();
  ASSERT_TRUE(s->bind(SockAddrIn{Ipv4Addr::any(), 7}));
  // Longer than the IP payload: invalid.
  Bytes udp = test::udp_segment(kPeer, kLocal, 1234, 7, pattern(40, 1));
  store_be16(udp.data() + 4, 60);
  h.inject_ip(test::ipv4_packet({kPeer, kLocal, kIpProtoUdp}, udp));
  EXPECT_EQ(h.drops(DropReason::UDP_INVALID), 1u);
  EXPECT_EQ(h.mib(Mib::UdpInErrors), 1u);
  // Shorter than the IP payload: the datagram is what the UDP length says.
  Bytes padded = test::udp_segment(kPeer, kLocal, 1234, 7, pattern(40, 2));
  padded.resize(padded.size() + 12, std::byte{0xee});
  h.inject_ip(test::ipv4_packet({kPeer, kLocal, kIpProtoUdp}, padded));
  auto got = drain(*s);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], pattern(40, 2));
}

TEST_F(UdpTest, ReceiveBufferOverflowIsCounted) {
  auto s = sock();
  ASSERT_TRUE(s->bind(SockAddrIn{Ipv4Addr::any(), 7}));
  s->set_rcvbuf(1000);
  for (uint8_t i = 0; i < 5; ++i) h.inject_udp(1234, 7, pattern(300, i));
  EXPECT_EQ(s->queued_datagrams(), 3u);
  EXPECT_EQ(h.mib(Mib::UdpRcvbufErrors), 2u);
  EXPECT_EQ(h.mib(Mib::UdpInErrors), 2u);
  EXPECT_EQ(h.drops(DropReason::SOCKET_RCVBUFF), 2u);
  auto got = drain(*s);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[2], pattern(300, 2));  // the first three were kept
  // Reading makes room again.
  h.inject_udp(1234, 7, pattern(300, 9));
  EXPECT_EQ(drain(*s).size(), 1u);
}

// --- sending ---

TEST_F(UdpTest, SendBuildsAValidDatagram) {
  auto s = sock();
  ASSERT_TRUE(s->bind(SockAddrIn{Ipv4Addr::any(), 4444}));
  Bytes data = pattern(333, 1);
  auto r = s->sendto(data, SockAddrIn{kPeer, 53});
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 333u);
  EXPECT_EQ(h.mib(Mib::UdpOutDatagrams), 1u);
  auto f = h.sent();
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].eth.dst, Host::kPeerMac);
  ASSERT_TRUE(f[0].ip);
  EXPECT_EQ(f[0].ip->saddr, kLocal);
  EXPECT_EQ(f[0].ip->daddr, kPeer);
  EXPECT_EQ(f[0].ip->ttl, 64);
  EXPECT_TRUE(f[0].ip->dont_fragment());  // IP_PMTUDISC_WANT and it fits
  auto uh = UdpHdr::parse(f[0].l4);
  ASSERT_TRUE(uh);
  EXPECT_EQ(uh->source, 4444);
  EXPECT_EQ(uh->dest, 53);
  EXPECT_EQ(uh->len, 341);
  EXPECT_NE(uh->check, 0);
  EXPECT_TRUE(test::udp_csum_ok(*f[0].ip, f[0].l4));
  EXPECT_EQ(Bytes(f[0].l4.begin() + 8, f[0].l4.end()), data);
  s->set_ttl(5);
  ASSERT_TRUE(s->sendto(data, SockAddrIn{kPeer, 53}));
  EXPECT_EQ(h.sent()[0].ip->ttl, 5);
}

TEST_F(UdpTest, SendErrors) {
  auto s = sock();
  EXPECT_EQ(s->send(Bytes(1)).error(), Errc::kDestAddrReq);
  EXPECT_EQ(s->sendto(Bytes(1), SockAddrIn{kPeer, 0}).error(), Errc::kInval);
  EXPECT_EQ(s->sendto(Bytes(1), SockAddrIn{Ipv4Addr(192, 0, 2, 1), 9}).error(), Errc::kNetUnreach);
  EXPECT_EQ(s->connect(SockAddrIn{kPeer, 0}).error(), Errc::kInval);
  EXPECT_EQ(s->connect(SockAddrIn{Ipv4Addr(192, 0, 2, 1), 9}).error(), Errc::kNetUnreach);
  EXPECT_TRUE(h.sent().empty());
}

TEST_F(UdpTest, BroadcastNeedsSoBroadcast) {
  auto s = sock();
  const SockAddrIn bcast{Ipv4Addr(10, 0, 0, 255), 9};
  EXPECT_EQ(s->sendto(Bytes(4), bcast).error(), Errc::kAccess);
  EXPECT_EQ(s->connect(bcast).error(), Errc::kAccess);
  EXPECT_TRUE(h.sent().empty());
  s->set_broadcast(true);
  ASSERT_TRUE(s->sendto(Bytes(4), bcast));
  ASSERT_TRUE(s->sendto(Bytes(4), SockAddrIn{Ipv4Addr::broadcast(), 9}));
  auto f = h.sent();
  ASSERT_EQ(f.size(), 2u);
  EXPECT_TRUE(f[0].eth.dst.is_broadcast());
  EXPECT_EQ(f[0].ip->daddr, Ipv4Addr(10, 0, 0, 255));
  EXPECT_TRUE(f[1].eth.dst.is_broadcast());
  EXPECT_EQ(f[1].ip->daddr, Ipv4Addr::broadcast());
  EXPECT_EQ(f[1].ip->saddr, kLocal);
  // A broadcast arrives at a wildcard socket.
  auto rx = sock();
  ASSERT_TRUE(rx->bind(SockAddrIn{Ipv4Addr::any(), 67}));
  h.inject_udp(68, 67, pattern(12, 1), kPeer, Ipv4Addr::broadcast(), MacAddr::broadcast());
  EXPECT_EQ(drain(*rx).size(), 1u);
}

TEST_F(UdpTest, LoopbackDelivery) {
  auto rx = sock();
  ASSERT_TRUE(rx->bind(SockAddrIn{Ipv4Addr::any(), 7000}));
  auto tx = sock();
  ASSERT_TRUE(tx->bind(SockAddrIn{Ipv4Addr::any(), 7001}));
  ASSERT_TRUE(tx->sendto(pattern(5000, 1), SockAddrIn{Ipv4Addr(127, 0, 0, 1), 7000}));
  ASSERT_TRUE(tx->sendto(pattern(50, 2), SockAddrIn{kLocal, 7000}));
  EXPECT_FALSE(rx->readable());  // through the backlog: delivered when the stack runs
  h.run_for(0s);
  std::vector<SockAddrIn> from;
  auto got = drain(*rx, &from);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], pattern(5000, 1));
  EXPECT_EQ(from[0], (SockAddrIn{Ipv4Addr(127, 0, 0, 1), 7001}));
  EXPECT_EQ(got[1], pattern(50, 2));
  EXPECT_EQ(from[1], (SockAddrIn{kLocal, 7001}));
  EXPECT_TRUE(h.sent().empty());  // nothing left through eth0
}

}  // namespace
}  // namespace ustack
