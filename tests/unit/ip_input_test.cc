#include <gtest/gtest.h>

#include "support/net_test_util.h"

namespace ustack {
namespace {

using test::Bytes;
using test::Host;
using test::pattern;
using namespace wire;

constexpr Ipv4Addr kLocal = Host::kLocal;
constexpr Ipv4Addr kPeer = Host::kPeer;

class IpInputTest : public ::testing::Test {
 protected:
  IpInputTest() {
    rx = h.st.udp().socket();
    EXPECT_TRUE(rx->bind(SockAddrIn{Ipv4Addr::any(), 9}));
  }
  Bytes udp_dgram(Ipv4Addr src = kPeer, Ipv4Addr dst = kLocal, size_t len = 20) {
    return test::ipv4_packet({src, dst, kIpProtoUdp}, test::udp_segment(src, dst, 1000, 9, pattern(len, 1)));
  }
  size_t delivered() {
    size_t n = 0;
    std::byte buf[2000];
    while (rx->recvfrom(buf)) ++n;
    return n;
  }
  Host h;
  std::unique_ptr<UdpSock> rx;
};

TEST_F(IpInputTest, GoodDatagramIsCountedAndDelivered) {
  h.inject_ip(udp_dgram());
  EXPECT_EQ(delivered(), 1u);
  EXPECT_EQ(h.mib(Mib::IpInReceives), 1u);
  EXPECT_EQ(h.mib(Mib::IpInDelivers), 1u);
  EXPECT_EQ(h.eth0->stats.rx_packets, 1u);
}

TEST_F(IpInputTest, HeaderChecksumError) {
  Bytes d = udp_dgram();
  d[10] ^= std::byte{0xff};
  h.inject_ip(d);
  EXPECT_EQ(delivered(), 0u);
  EXPECT_EQ(h.mib(Mib::IpInHdrErrors), 1u);
  EXPECT_EQ(h.mib(Mib::IpExtInCsumErrors), 1u);
  EXPECT_EQ(h.drops(DropReason::IP_CSUM), 1u);
}

TEST_F(IpInputTest, TruncatedDatagrams) {
  Bytes d = udp_dgram();
  h.inject_ip(std::span(d).first(19));  // not even a header
  Bytes shortened = d;
  shortened.resize(d.size() - 4);  // tot_len says more than arrived
  h.inject_ip(shortened);
  EXPECT_EQ(delivered(), 0u);
  EXPECT_EQ(h.mib(Mib::IpExtInTruncatedPkts), 2u);
  EXPECT_EQ(h.drops(DropReason::PKT_TOO_SMALL), 2u);
  EXPECT_EQ(h.mib(Mib::IpInHdrErrors), 0u);
}

TEST_F(IpInputTest, MalformedHeaders) {
  Bytes v6 = udp_dgram();
  v6[0] = std::byte{0x65};
  Bytes short_ihl = udp_dgram();
  short_ihl[0] = std::byte{0x44};
  Bytes short_tot = udp_dgram();
  store_be16(short_tot.data() + 2, 16);
  ip_send_check(short_tot.data());
  for (const Bytes* d : {&v6, &short_ihl, &short_tot}) h.inject_ip(*d);
  EXPECT_EQ(delivered(), 0u);
  EXPECT_EQ(h.mib(Mib::IpInHdrErrors), 3u);
  EXPECT_EQ(h.drops(DropReason::IP_INHDR), 3u);
}

TEST_F(IpInputTest, EthernetPaddingIsTrimmed) {
  // 20 + 8 + 2 bytes: padded to a 60-byte frame. The UDP checksum only verifies over the real datagram.
  Bytes d = test::ipv4_packet({kPeer, kLocal, kIpProtoUdp},
                              test::udp_segment(kPeer, kLocal, 1000, 9, pattern(2, 5)));
  Bytes frame = test::eth_frame(Host::kLocalMac, Host::kPeerMac, kEthPIp, d);
  frame.resize(kEthMinFrame, std::byte{0x55});
  h.eth0->receive(frame);
  std::byte buf[64];
  auto r = rx->recvfrom(buf);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 2u);
  EXPECT_EQ(h.mib(Mib::UdpInCsumErrors), 0u);
}

TEST_F(IpInputTest, OptionsAreSkipped) {
  Bytes udp = test::udp_segment(kPeer, kLocal, 1000, 9, pattern(30, 6));
  Bytes d(24 + udp.size());
  Ipv4Hdr hdr;
  hdr.tot_len = static_cast<uint16_t>(d.size());
  hdr.protocol = kIpProtoUdp;
  hdr.saddr = kPeer;
  hdr.daddr = kLocal;
  hdr.emit(d.data());
  d[0] = std::byte{0x46};
  for (int i = 20; i < 24; ++i) d[i] = std::byte{1};  // NOPs
  std::copy(udp.begin(), udp.end(), d.begin() + 24);
  ip_send_check(d.data());
  h.inject_ip(d);
  std::byte buf[64];
  auto r = rx->recvfrom(buf);
  ASSERT_TRUE(r);
  EXPECT_EQ(Bytes(buf, buf + *r), pattern(30, 6));
}

TEST_F(IpInputTest, MartianSourcesAreDropped) {
  for (Ipv4Addr src : {kLocal, Ipv4Addr(127, 0, 0, 1), Ipv4Addr(224, 0, 0, 5), Ipv4Addr::broadcast(),
                       Ipv4Addr(0, 0, 0, 0), Ipv4Addr(0, 9, 9, 9)}) {
    h.inject_ip(udp_dgram(src));
  }
  EXPECT_EQ(delivered(), 0u);
  EXPECT_EQ(h.mib(Mib::IpInAddrErrors), 6u);
  EXPECT_EQ(h.drops(DropReason::IP_INVALID_SOURCE), 6u);
  // 0.0.0.0 to the limited broadcast is a DHCP client's first packet: accepted.
  h.inject_ip(udp_dgram(Ipv4Addr::any(), Ipv4Addr::broadcast()), MacAddr::broadcast());
  EXPECT_EQ(delivered(), 1u);
}

TEST_F(IpInputTest, NotForUsIsDroppedByAHost) {
  h.inject_ip(udp_dgram(kPeer, Ipv4Addr(10, 0, 0, 77)));
  h.inject_ip(udp_dgram(kPeer, Ipv4Addr(224, 0, 0, 251)), MacAddr{{0x01, 0x00, 0x5e, 0, 0, 0xfb}});
  EXPECT_EQ(delivered(), 0u);
  EXPECT_EQ(h.mib(Mib::IpInAddrErrors), 2u);
  EXPECT_EQ(h.drops(DropReason::IP_INADDRERRORS), 2u);
  EXPECT_TRUE(h.sent().empty());
}

TEST_F(IpInputTest, LinkLayerFiltering) {
  // For another station's MAC: not ours, not even counted by IP.
  h.inject_ip(udp_dgram(), MacAddr{{0x02, 0, 0, 0, 0, 0x99}});
  EXPECT_EQ(h.drops(DropReason::OTHERHOST), 1u);
  EXPECT_EQ(h.mib(Mib::IpInReceives), 0u);
  // Too short for Ethernet.
  h.eth0->receive(Bytes(13));
  EXPECT_EQ(h.drops(DropReason::MAC_HEADER), 1u);
  EXPECT_EQ(h.eth0->stats.rx_errors, 1u);
  // An EtherType nobody handles.
  h.eth0->receive(test::eth_frame(Host::kLocalMac, Host::kPeerMac, kEthPIpv6, Bytes(40)));
  EXPECT_EQ(h.drops(DropReason::UNHANDLED_PROTO), 1u);
  // A device that is down takes nothing in.
  h.eth0->set_up(false);
  h.inject_ip(udp_dgram());
  EXPECT_EQ(h.drops(DropReason::DEV_DOWN), 1u);
  h.eth0->set_up(true);
  h.inject_ip(udp_dgram());
  EXPECT_EQ(delivered(), 1u);
}

TEST_F(IpInputTest, ChecksumOffloadSkipsVerification) {
  // A driver that verified checksums in hardware says so; the stack trusts it (CHECKSUM_UNNECESSARY).
  Bytes d = udp_dgram();
  d[10] ^= std::byte{0x01};  // a wrong header checksum that nobody re-checks
  Bytes frame = test::eth_frame(Host::kLocalMac, Host::kPeerMac, kEthPIp, d);
  SkbPtr skb = SkBuff::alloc(64, frame.size());
  (void)skb->put_data(frame);
  skb->ip_summed = CsumState::kUnnecessary;
  h.st.devs().netif_receive_skb(std::move(skb), *h.eth0);
  EXPECT_EQ(delivered(), 1u);
}

}  // namespace
}  // namespace ustack
