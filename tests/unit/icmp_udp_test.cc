#include <gtest/gtest.h>

#include <set>

#include "ipv4/icmp.h"
#include "support/net_test_util.h"

namespace ustack {
namespace {

using test::Bytes;
using test::Host;
using test::pattern;
using namespace wire;

constexpr Ipv4Addr kLocal = Host::kLocal;
constexpr Ipv4Addr kPeer = Host::kPeer;

Bytes echo_request(uint16_t id, uint16_t seq, std::span<const std::byte> payload, Ipv4Addr src = kPeer,
                   Ipv4Addr dst = kLocal) {
  return test::ipv4_packet({src, dst, kIpProtoIcmp},
                           test::icmp_message(kIcmpEcho, 0, (uint32_t{id} << 16) | seq, payload));
}

// An ICMP error from the peer quoting `quoted` (an IP datagram we supposedly sent).
Bytes icmp_error_about(uint8_t type, uint8_t code, uint32_t rest, std::span<const std::byte> quoted) {
  return test::ipv4_packet({kPeer, kLocal, kIpProtoIcmp}, test::icmp_message(type, code, rest, quoted));
}

// The first 28 bytes of a datagram we sent: what routers quote back.
Bytes our_udp(uint16_t sport, uint16_t dport, size_t len = 100) {
  Bytes d = test::ipv4_packet({kLocal, kPeer, kIpProtoUdp},
                              test::udp_segment(kLocal, kPeer, sport, dport, pattern(len, 1)));
  d.resize(28);
  return d;
}

// --- echo ---

TEST(IcmpEcho, RequestGetsReplyWithSameIdSeqAndData) {
  Host h;
  Bytes payload = pattern(56, 1);
  h.inject_ip(echo_request(0x4242, 7, payload));
  auto f = h.sent();
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].eth.dst, Host::kPeerMac);
  EXPECT_EQ(f[0].eth.src, Host::kLocalMac);
  ASSERT_TRUE(f[0].ip);
  EXPECT_EQ(f[0].ip->saddr, kLocal);
  EXPECT_EQ(f[0].ip->daddr, kPeer);
  EXPECT_EQ(f[0].ip->protocol, kIpProtoIcmp);
  EXPECT_EQ(f[0].ip->ttl, 64);
  auto icmp = IcmpHdr::parse(f[0].l4);
  ASSERT_TRUE(icmp);
  EXPECT_EQ(icmp->type, kIcmpEchoReply);
  EXPECT_EQ(icmp->code, 0);
  EXPECT_EQ(icmp->echo_id(), 0x4242);
  EXPECT_EQ(icmp->echo_seq(), 7);
  EXPECT_EQ(ip_compute_csum(f[0].l4), 0);
  EXPECT_EQ(Bytes(f[0].l4.begin() + 8, f[0].l4.end()), payload);
  EXPECT_EQ(h.mib(Mib::IcmpInEchos), 1u);
  EXPECT_EQ(h.mib(Mib::IcmpOutEchoReps), 1u);
}

TEST(IcmpEcho, BadChecksumIsDropped) {
  Host h;
  Bytes req = echo_request(1, 1, pattern(8, 2));
  req[20 + 9] ^= std::byte{0x01};  // a data byte: the ICMP checksum no longer matches
  h.inject_ip(req);
  EXPECT_TRUE(h.sent().empty());
  EXPECT_EQ(h.mib(Mib::IcmpInCsumErrors), 1u);
  EXPECT_EQ(h.mib(Mib::IcmpInErrors), 1u);
  EXPECT_EQ(h.drops(DropReason::ICMP_CSUM), 1u);
}

TEST(IcmpEcho, BroadcastRequestsAreIgnoredByDefault) {
  Host h;
  h.inject_ip(echo_request(1, 1, pattern(8, 3), kPeer, Ipv4Addr(10, 0, 0, 255)), MacAddr::broadcast());
  h.inject_ip(echo_request(1, 2, pattern(8, 3), kPeer, Ipv4Addr::broadcast()), MacAddr::broadcast());
  EXPECT_TRUE(h.sent().empty());
  EXPECT_EQ(h.mib(Mib::IcmpInEchos), 2u);
  // With icmp_echo_ignore_broadcasts off, the reply comes from our unicast address.
  h.st.ipv4().sysctl().icmp_echo_ignore_broadcasts = false;
  h.inject_ip(echo_request(1, 3, pattern(8, 3), kPeer, Ipv4Addr(10, 0, 0, 255)), MacAddr::broadcast());
  auto f = h.sent();
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].ip->saddr, kLocal);
  EXPECT_EQ(f[0].ip->daddr, kPeer);
}

TEST(IcmpEcho, LargeFragmentedRequestGetsFragmentedReply) {
  Host h;
  Bytes payload = pattern(3000, 4);
  Bytes icmp = test::icmp_message(kIcmpEcho, 0, (9u << 16) | 1, payload);
  for (size_t off = 0; off < icmp.size(); off += 1480) {
    size_t len = std::min<size_t>(1480, icmp.size() - off);
    bool mf = off + len < icmp.size();
    h.inject_ip(
        test::ipv4_packet({kPeer, kLocal, kIpProtoIcmp, 64, 500, uint16_t((mf ? kIpMf : 0) | off / 8)},
                          std::span(icmp).subspan(off, len)));
  }
  auto f = h.sent();
  ASSERT_EQ(f.size(), 3u);
  Bytes reply;
  for (auto& fr : f) {
    EXPECT_FALSE(fr.ip->dont_fragment());
    reply.insert(reply.end(), fr.l4.begin(), fr.l4.end());
  }
  ASSERT_EQ(reply.size(), icmp.size());
  EXPECT_EQ(static_cast<uint8_t>(reply[0]), kIcmpEchoReply);
  EXPECT_EQ(ip_compute_csum(reply), 0);
  EXPECT_EQ(Bytes(reply.begin() + 8, reply.end()), payload);
}

TEST(IcmpEcho, PingBetweenStacks) {
  Sim sim(21);
  Stack& a = sim.add_stack("a");
  Stack& b = sim.add_stack("b");
  sim.connect(a, Ipv4Cidr{kLocal, 24}, b, Ipv4Cidr{kPeer, 24});
  std::vector<EchoReply> replies;
  std::vector<Bytes> data;
  a.icmp().set_echo_listener(77, Icmp::EchoListener{[&](const EchoReply& r) {
                                                      replies.push_back(r);
                                                      data.emplace_back(r.payload.begin(), r.payload.end());
                                                    },
                                                    nullptr});
  for (uint16_t seq = 1; seq <= 3; ++seq) ASSERT_TRUE(a.icmp().send_echo(kPeer, 77, seq, pattern(64, seq)));
  ASSERT_TRUE(a.icmp().send_echo(kPeer, 78, 1, pattern(8, 9)));  // nobody listens for id 78
  sim.run_for(100ms);
  ASSERT_EQ(replies.size(), 3u);
  for (uint16_t i = 0; i < 3; ++i) {
    EXPECT_EQ(replies[i].from, kPeer);
    EXPECT_EQ(replies[i].id, 77);
    EXPECT_EQ(replies[i].seq, i + 1);
    EXPECT_EQ(replies[i].ttl, 64);
    EXPECT_EQ(data[i], pattern(64, i + 1));
  }
  EXPECT_EQ(a.net().mib[Mib::IcmpInEchoReps], 4u);
  // No route, and broadcast without SO_BROADCAST, are refused up front.
  EXPECT_EQ(a.icmp().send_echo(Ipv4Addr(192, 0, 2, 1), 77, 9, {}).error(), Errc::kNetUnreach);
  EXPECT_EQ(a.icmp().send_echo(Ipv4Addr(10, 0, 0, 255), 77, 9, {}).error(), Errc::kAccess);
  a.icmp().remove_echo_listener(77);
  ASSERT_TRUE(a.icmp().send_echo(kPeer, 77, 4, {}));
  sim.run_for(100ms);
  EXPECT_EQ(replies.size(), 3u);
}

// --- errors we send ---

TEST(IcmpErrors, ClosedUdpPortGetsPortUnreachable) {
  Host h;
  Bytes dgram = test::ipv4_packet({kPeer, kLocal, kIpProtoUdp, 64, 321},
                                  test::udp_segment(kPeer, kLocal, 40000, 33434, pattern(20, 5)));
  h.inject_ip(dgram);
  EXPECT_EQ(h.mib(Mib::UdpNoPorts), 1u);
  EXPECT_EQ(h.drops(DropReason::NO_SOCKET), 1u);
  auto f = h.sent();
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].ip->daddr, kPeer);
  EXPECT_EQ(f[0].ip->saddr, kLocal);
  EXPECT_EQ(f[0].ip->tos & 0xe0, 0xc0);  // internetwork control precedence
  auto icmp = IcmpHdr::parse(f[0].l4);
  ASSERT_TRUE(icmp);
  EXPECT_EQ(icmp->type, kIcmpDestUnreach);
  EXPECT_EQ(icmp->code, kIcmpPortUnreach);
  EXPECT_EQ(icmp->rest, 0u);
  EXPECT_EQ(ip_compute_csum(f[0].l4), 0);
  EXPECT_EQ(Bytes(f[0].l4.begin() + 8, f[0].l4.end()), dgram);  // a short datagram is quoted whole
  EXPECT_EQ(h.mib(Mib::IcmpOutDestUnreachs), 1u);
  EXPECT_EQ(h.mib(Mib::IcmpOutMsgs), 1u);
}

TEST(IcmpErrors, UnknownProtocolGetsProtocolUnreachable) {
  Host h;
  h.inject_ip(test::ipv4_packet({kPeer, kLocal, 200}, pattern(30, 6)));
  EXPECT_EQ(h.mib(Mib::IpInUnknownProtos), 1u);
  EXPECT_EQ(h.drops(DropReason::IP_NOPROTO), 1u);
  auto f = h.sent();
  ASSERT_EQ(f.size(), 1u);
  auto icmp = IcmpHdr::parse(f[0].l4);
  ASSERT_TRUE(icmp);
  EXPECT_EQ(icmp->type, kIcmpDestUnreach);
  EXPECT_EQ(icmp->code, kIcmpProtUnreach);
  EXPECT_EQ(static_cast<uint8_t>(f[0].l4[8 + 9]), 200);  // the quoted header's protocol
}

TEST(IcmpErrors, NoErrorAboutBroadcasts) {
  Host h;
  h.inject_udp(1, 33434, pattern(8, 7), kPeer, Ipv4Addr(10, 0, 0, 255), MacAddr::broadcast());
  h.inject_udp(1, 33434, pattern(8, 7), kPeer, Ipv4Addr::broadcast(), MacAddr::broadcast());
  // Unicast IP in a link-layer broadcast frame: still no error (RFC 1122 §3.2.2).
  h.inject_udp(1, 33434, pattern(8, 7), kPeer, kLocal, MacAddr::broadcast());
  EXPECT_EQ(h.mib(Mib::UdpNoPorts), 3u);
  EXPECT_TRUE(h.sent().empty());
  // The same to our unicast address is answered.
  h.inject_udp(1, 33434, pattern(8, 7));
  EXPECT_EQ(h.sent().size(), 1u);
}

// icmp_send's own rules, on datagrams handed to it directly.
class IcmpSendRules : public ::testing::Test {
 protected:
  size_t errors_for(const Bytes& dgram, PacketType type = PacketType::kHost) {
    SkbPtr skb = SkBuff::alloc(64, dgram.size());
    (void)skb->put_data(dgram);
    skb->reset_network_header();
    skb->pkt_type = type;
    skb->ifindex = h.eth0->ifindex();
    h.st.icmp().icmp_send(*skb, kIcmpDestUnreach, kIcmpHostUnreach);
    return h.sent().size();
  }
  Host h;
};

TEST_F(IcmpSendRules, FirstFragmentYesLaterFragmentsNo) {
  EXPECT_EQ(errors_for(test::ipv4_packet({kPeer, kLocal, kIpProtoUdp, 64, 1, kIpMf}, pattern(16, 1))), 1u);
  EXPECT_EQ(errors_for(test::ipv4_packet({kPeer, kLocal, kIpProtoUdp, 64, 1, kIpMf | 185}, pattern(16, 1))),
            0u);
  EXPECT_EQ(errors_for(test::ipv4_packet({kPeer, kLocal, kIpProtoUdp, 64, 1, 370}, pattern(16, 1))), 0u);
}

TEST_F(IcmpSendRules, NeverAboutAnIcmpError) {
  for (uint8_t type :
       {kIcmpDestUnreach, kIcmpSourceQuench, kIcmpRedirect, kIcmpTimeExceeded, kIcmpParameterProb}) {
    Bytes err =
        test::ipv4_packet({kPeer, kLocal, kIpProtoIcmp}, test::icmp_message(type, 0, 0, our_udp(1, 2)));
    EXPECT_EQ(errors_for(err), 0u) << int(type);
  }
  // Informational messages may be answered with an error.
  EXPECT_EQ(errors_for(echo_request(1, 1, pattern(8, 1))), 1u);
}

TEST_F(IcmpSendRules, NeverAboutBroadcastMulticastOrBogusSources) {
  Bytes ok = test::ipv4_packet({kPeer, kLocal, kIpProtoUdp}, pattern(16, 1));
  EXPECT_EQ(errors_for(ok, PacketType::kBroadcast), 0u);
  EXPECT_EQ(errors_for(ok, PacketType::kMulticast), 0u);
  EXPECT_EQ(errors_for(ok, PacketType::kOtherHost), 0u);
  EXPECT_EQ(errors_for(test::ipv4_packet({kPeer, Ipv4Addr(224, 0, 0, 1), kIpProtoUdp}, pattern(16, 1))), 0u);
  EXPECT_EQ(errors_for(test::ipv4_packet({kPeer, Ipv4Addr(10, 0, 0, 255), kIpProtoUdp}, pattern(16, 1))), 0u);
  EXPECT_EQ(errors_for(test::ipv4_packet({Ipv4Addr::any(), kLocal, kIpProtoUdp}, pattern(16, 1))), 0u);
  EXPECT_EQ(errors_for(test::ipv4_packet({Ipv4Addr(0, 1, 2, 3), kLocal, kIpProtoUdp}, pattern(16, 1))), 0u);
  EXPECT_EQ(errors_for(test::ipv4_packet({Ipv4Addr(224, 1, 1, 1), kLocal, kIpProtoUdp}, pattern(16, 1))), 0u);
  EXPECT_EQ(errors_for(ok), 1u);
}

TEST_F(IcmpSendRules, QuoteIsCappedAt576Bytes) {
  ASSERT_EQ(errors_for(Bytes{}), 0u);  // no header, nothing to say
  SkbPtr skb = SkBuff::alloc(64, 1500);
  (void)skb->put_data(test::ipv4_packet({kPeer, kLocal, kIpProtoUdp}, pattern(1400, 2)));
  skb->reset_network_header();
  skb->ifindex = h.eth0->ifindex();
  h.st.icmp().icmp_send(*skb, kIcmpDestUnreach, kIcmpPortUnreach);
  auto f = h.sent();
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].ip->tot_len, 576);
}

TEST(IcmpRateLimit, PerDestinationBurstThenOnePerSecond) {
  Host h;
  for (int i = 0; i < 10; ++i) h.inject_udp(1, 33434, pattern(8, 8));
  EXPECT_EQ(h.sent().size(), 6u);
  EXPECT_EQ(h.mib(Mib::IcmpOutRateLimitHost), 4u);
  EXPECT_EQ(h.mib(Mib::UdpNoPorts), 10u);
  h.run_for(1s);
  h.inject_udp(1, 33434, pattern(8, 8));
  h.inject_udp(1, 33434, pattern(8, 8));
  EXPECT_EQ(h.sent().size(), 1u);
  EXPECT_EQ(h.mib(Mib::IcmpOutRateLimitHost), 5u);
  // The bucket refills to the burst, not beyond.
  h.run_for(60s);
  for (int i = 0; i < 10; ++i) h.inject_udp(1, 33434, pattern(8, 8));
  EXPECT_EQ(h.sent().size(), 6u);
  // Another destination has its own bucket.
  const Ipv4Addr other(10, 0, 0, 3);
  h.st.arp().tbl().neigh_add_permanent(other, *h.eth0, MacAddr{{2, 0, 0, 0, 0, 3}});
  h.inject_udp(1, 33434, pattern(8, 8), other);
  EXPECT_EQ(h.sent().size(), 1u);
}

TEST(IcmpRateLimit, GlobalBucket) {
  Host h;
  const Ipv4Addr gw(10, 0, 0, 254);
  ASSERT_TRUE(h.st.add_default_route(gw, *h.eth0));
  h.st.arp().tbl().neigh_add_permanent(gw, *h.eth0, MacAddr{{2, 0, 0, 0, 0, 0xfe}});
  for (uint8_t i = 1; i <= 60; ++i) h.inject_udp(1, 33434, pattern(8, 9), Ipv4Addr(192, 0, 2, i));
  EXPECT_EQ(h.sent().size(), 50u);  // icmp_msgs_burst
  EXPECT_EQ(h.mib(Mib::IcmpOutRateLimitGlobal), 10u);
  EXPECT_EQ(h.mib(Mib::IcmpOutRateLimitHost), 0u);
  // icmp_msgs_per_sec = 1000: one more token each millisecond.
  h.run_for(2ms);
  for (uint8_t i = 1; i <= 3; ++i) h.inject_udp(1, 33434, pattern(8, 9), Ipv4Addr(198, 51, 100, i));
  EXPECT_EQ(h.sent().size(), 2u);
  EXPECT_EQ(h.mib(Mib::IcmpOutRateLimitGlobal), 11u);
}

// --- errors we receive ---

TEST(IcmpErrors, FragNeededLowersPathMtu) {
  Host h;
  auto s = h.st.udp().socket();
  ASSERT_TRUE(s->bind(SockAddrIn{kLocal, 5000}));
  ASSERT_TRUE(s->connect(SockAddrIn{kPeer, 9}));
  EXPECT_EQ(h.st.ipv4().path_mtu(kPeer), 1500u);
  h.inject_ip(icmp_error_about(kIcmpDestUnreach, kIcmpFragNeeded, 1200, our_udp(5000, 9)));
  EXPECT_EQ(h.mib(Mib::IcmpInDestUnreachs), 1u);
  EXPECT_EQ(h.st.ipv4().path_mtu(kPeer), 1200u);
  // The connected socket is told: its datagram was too big.
  std::byte buf[8];
  EXPECT_EQ(s->recvfrom(buf).error(), Errc::kMsgSize);
  EXPECT_EQ(s->recvfrom(buf).error(), Errc::kAgain);
  // What it sends next fits the new MTU.
  ASSERT_TRUE(s->send(Bytes(1400)));
  auto f = h.sent();
  ASSERT_EQ(f.size(), 2u);
  EXPECT_LE(f[0].ip->tot_len, 1200);
  s->set_pmtudisc(PmtuDisc::kDo);
  EXPECT_EQ(s->send(Bytes(1200)).error(), Errc::kMsgSize);
  // Absurdly small values are clamped; a zero (pre-RFC 1191 router) is ignored; larger ones do not raise it.
  h.inject_ip(icmp_error_about(kIcmpDestUnreach, kIcmpFragNeeded, 0, our_udp(5000, 9)));
  EXPECT_EQ(h.st.ipv4().path_mtu(kPeer), 1200u);
  h.inject_ip(icmp_error_about(kIcmpDestUnreach, kIcmpFragNeeded, 1400, our_udp(5000, 9)));
  EXPECT_EQ(h.st.ipv4().path_mtu(kPeer), 1200u);
  h.inject_ip(icmp_error_about(kIcmpDestUnreach, kIcmpFragNeeded, 100, our_udp(5000, 9)));
  EXPECT_EQ(h.st.ipv4().path_mtu(kPeer), 552u);
}

TEST(IcmpErrors, FragNeededAboutADatagramWeDidNotSendIsIgnored) {
  Host h;
  Bytes theirs = test::ipv4_packet({Ipv4Addr(10, 0, 0, 7), kPeer, kIpProtoUdp},
                                   test::udp_segment(Ipv4Addr(10, 0, 0, 7), kPeer, 1, 2, pattern(8, 1)));
  h.inject_ip(icmp_error_about(kIcmpDestUnreach, kIcmpFragNeeded, 600, theirs));
  EXPECT_EQ(h.st.ipv4().path_mtu(kPeer), 1500u);
}

TEST(IcmpErrors, HardErrorsReachConnectedSocketsOnly) {
  Host h;
  auto conn = h.st.udp().socket();
  auto unconn = h.st.udp().socket();
  ASSERT_TRUE(conn->bind(SockAddrIn{kLocal, 5001}));
  ASSERT_TRUE(conn->connect(SockAddrIn{kPeer, 9}));
  ASSERT_TRUE(unconn->bind(SockAddrIn{kLocal, 5002}));
  h.inject_ip(icmp_error_about(kIcmpDestUnreach, kIcmpPortUnreach, 0, our_udp(5001, 9)));
  h.inject_ip(icmp_error_about(kIcmpDestUnreach, kIcmpPortUnreach, 0, our_udp(5002, 9)));
  std::byte buf[8];
  EXPECT_TRUE(conn->readable());
  EXPECT_EQ(conn->recvfrom(buf).error(), Errc::kConnRefused);
  EXPECT_FALSE(unconn->readable());
  // A soft error (host unreachable from a router) is not reported without IP_RECVERR.
  h.inject_ip(icmp_error_about(kIcmpDestUnreach, kIcmpHostUnreach, 0, our_udp(5001, 9)));
  EXPECT_FALSE(conn->readable());
  // An error quoting another peer port does not match the connected socket.
  h.inject_ip(icmp_error_about(kIcmpDestUnreach, kIcmpPortUnreach, 0, our_udp(5001, 10)));
  EXPECT_FALSE(conn->readable());
  // A truncated quote is counted and dropped.
  Bytes cut = our_udp(5001, 9);
  cut.resize(24);
  h.inject_ip(icmp_error_about(kIcmpDestUnreach, kIcmpPortUnreach, 0, cut));
  EXPECT_EQ(h.mib(Mib::IcmpInErrors), 1u);
  EXPECT_FALSE(conn->readable());
}

}  // namespace
}  // namespace ustack
