#include <gtest/gtest.h>

#include <array>

#include "support/net_test_util.h"
#include "wire/arp.h"
#include "wire/bytes.h"
#include "wire/ethernet.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"
#include "wire/udp.h"

namespace ustack {
namespace {

using namespace wire;
using test::Bytes;
using test::bytes_of;

const MacAddr kMacA{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
const MacAddr kMacB{{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};

// --- bytes.h ---

TEST(WireBytes, BigEndianLoadsAndStores) {
  Bytes b = bytes_of({0x12, 0x34, 0x56, 0x78, 0x9a});
  EXPECT_EQ(load8(b.data()), 0x12);
  EXPECT_EQ(load_be16(b.data()), 0x1234);
  EXPECT_EQ(load_be16(b.data() + 1), 0x3456);  // unaligned
  EXPECT_EQ(load_be32(b.data() + 1), 0x3456789au);
  Bytes o(6);
  store_be32(o.data() + 1, 0xdeadbeef);
  store_be16(o.data() + 4, 0xcafe);
  store8(o.data(), 0x7f);
  EXPECT_EQ(o, bytes_of({0x7f, 0xde, 0xad, 0xbe, 0xca, 0xfe}));
}

// --- Ethernet ---

TEST(WireEthernet, ParseAndEmitRoundTrip) {
  const Bytes fixture = bytes_of({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x06});
  auto h = EthHdr::parse(fixture);
  ASSERT_TRUE(h);
  EXPECT_TRUE(h->dst.is_broadcast());
  EXPECT_EQ(h->src, kMacA);
  EXPECT_EQ(h->ethertype, kEthPArp);
  Bytes out(kEthHeaderLen);
  h->emit(out.data());
  EXPECT_EQ(out, fixture);
}

TEST(WireEthernet, RejectsShortFrameAndKeepsRawTypes) {
  Bytes b = bytes_of({0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x81, 0x00});
  EXPECT_FALSE(EthHdr::parse(std::span(b).first(13)));
  auto h = EthHdr::parse(b);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->dst, kMacB);
  EXPECT_EQ(h->ethertype, 0x8100);  // a VLAN tag is reported as is
}

// --- ARP ---

const Bytes kArpRequest = bytes_of({0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,  // Ethernet/IPv4, request
                                    0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 10,   0,    0, 1,    // sender
                                    0,    0,    0,    0,    0,    0,    10,   0,    0, 2});  // target

TEST(WireArp, ParseAndEmitRoundTrip) {
  auto a = ArpPacket::parse(kArpRequest);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->op, kArpOpRequest);
  EXPECT_EQ(a->sha, kMacA);
  EXPECT_EQ(a->spa, Ipv4Addr(10, 0, 0, 1));
  EXPECT_TRUE(a->tha.is_zero());
  EXPECT_EQ(a->tpa, Ipv4Addr(10, 0, 0, 2));
  Bytes out(kArpLen);
  a->emit(out.data());
  EXPECT_EQ(out, kArpRequest);

  ArpPacket reply{kArpOpReply, kMacB, Ipv4Addr(10, 0, 0, 2), kMacA, Ipv4Addr(10, 0, 0, 1)};
  reply.emit(out.data());
  EXPECT_EQ(out[7], std::byte{2});
  auto back = ArpPacket::parse(out);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->op, kArpOpReply);
  EXPECT_EQ(back->sha, kMacB);
  EXPECT_EQ(back->tha, kMacA);
  EXPECT_EQ(back->spa, Ipv4Addr(10, 0, 0, 2));
  EXPECT_EQ(back->tpa, Ipv4Addr(10, 0, 0, 1));
}

TEST(WireArp, RejectsOtherHardwareProtocolsAndOps) {
  EXPECT_FALSE(ArpPacket::parse(std::span(kArpRequest).first(27)));
  auto with = [](size_t at, uint8_t v) {
    Bytes b = kArpRequest;
    b[at] = std::byte{v};
    return b;
  };
  EXPECT_FALSE(ArpPacket::parse(with(1, 6)));     // htype 6 (IEEE 802)
  EXPECT_FALSE(ArpPacket::parse(with(2, 0x86)));  // ptype 0x8600
  EXPECT_FALSE(ArpPacket::parse(with(4, 8)));     // hlen 8
  EXPECT_FALSE(ArpPacket::parse(with(5, 16)));    // plen 16
  EXPECT_FALSE(ArpPacket::parse(with(7, 3)));     // RARP request
  EXPECT_FALSE(ArpPacket::parse(with(7, 0)));
  // Trailing padding (a minimum-size Ethernet frame) is fine.
  Bytes padded = kArpRequest;
  padded.resize(46);
  EXPECT_TRUE(ArpPacket::parse(padded));
}

// --- IPv4 ---

// 10.0.0.1 -> 10.0.0.2, ICMP, id 0x1c46, DF, ttl 64, total length 60.
const Bytes kIpHeader = bytes_of(
    {0x45, 0x00, 0x00, 0x3c, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x01, 0x0a, 0x79, 10, 0, 0, 1, 10, 0, 0, 2});

Bytes ip_datagram() {
  Bytes b = kIpHeader;
  b.resize(60, std::byte{0xab});
  return b;
}

TEST(WireIpv4, ParseFixture) {
  Bytes d = ip_datagram();
  Ipv4ParseError err{};
  auto h = Ipv4Hdr::parse(d, &err);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->ihl, 5);
  EXPECT_EQ(h->header_len(), 20u);
  EXPECT_EQ(h->tos, 0);
  EXPECT_EQ(h->tot_len, 60);
  EXPECT_EQ(h->id, 0x1c46);
  EXPECT_TRUE(h->dont_fragment());
  EXPECT_FALSE(h->more_fragments());
  EXPECT_FALSE(h->is_fragment());
  EXPECT_EQ(h->frag_offset_bytes(), 0u);
  EXPECT_EQ(h->ttl, 64);
  EXPECT_EQ(h->protocol, kIpProtoIcmp);
  EXPECT_EQ(h->check, 0x0a79);
  EXPECT_EQ(h->saddr, Ipv4Addr(10, 0, 0, 1));
  EXPECT_EQ(h->daddr, Ipv4Addr(10, 0, 0, 2));
}

TEST(WireIpv4, EmitReproducesFixtureWithChecksum) {
  Ipv4Hdr h;
  h.tot_len = 60;
  h.id = 0x1c46;
  h.frag_off = kIpDf;
  h.ttl = 64;
  h.protocol = kIpProtoIcmp;
  h.saddr = Ipv4Addr(10, 0, 0, 1);
  h.daddr = Ipv4Addr(10, 0, 0, 2);
  h.check = 0x1234;  // ignored: emit computes it
  Bytes out(20);
  h.emit(out.data());
  EXPECT_EQ(out, kIpHeader);
  // The classic example header from RFC 1071 discussions: 192.168.0.1 -> 192.168.0.199, checksum b861.
  Ipv4Hdr k;
  k.tot_len = 0x73;
  k.frag_off = kIpDf;
  k.protocol = kIpProtoUdp;
  k.saddr = Ipv4Addr(192, 168, 0, 1);
  k.daddr = Ipv4Addr(192, 168, 0, 199);
  k.emit(out.data());
  EXPECT_EQ(load_be16(out.data() + 10), 0xb861);
}

// emit() computes the checksum from the fields, not from the bytes it wrote: it must agree with the sum of
// those bytes for any field values.
TEST(WireIpv4, EmittedChecksumMatchesTheBytesForAnyFields) {
  uint32_t x = 99;
  auto next = [&x] {
    x = x * 1103515245 + 12345;
    return x >> 8;
  };
  Bytes out(20);
  for (int i = 0; i < 2000; ++i) {
    Ipv4Hdr h;
    h.tos = static_cast<uint8_t>(next());
    h.tot_len = static_cast<uint16_t>(next());
    h.id = static_cast<uint16_t>(next());
    h.frag_off = static_cast<uint16_t>(next());
    h.ttl = static_cast<uint8_t>(next());
    h.protocol = static_cast<uint8_t>(next());
    h.saddr = Ipv4Addr(next() * 2654435761u);
    h.daddr = Ipv4Addr(i == 0 ? 0xffffffffu : next() * 40503u);
    h.emit(out.data());
    ASSERT_EQ(ip_fast_csum(out.data(), 5), 0) << i;
    store_be16(out.data() + 10, 0);
    ASSERT_EQ(csum_fold(csum_partial(out.data(), 20, 0)), h.header_csum()) << i;
  }
}

// TCP output sums its header from the field values (fields_sum) rather than from the bytes emit() wrote:
// the two must agree for any field values.
TEST(WireTcp, FieldsSumMatchesTheEmittedBytes) {
  uint32_t x = 4242;
  auto next = [&x] {
    x = x * 1103515245 + 12345;
    return x;
  };
  Bytes out(20);
  for (int i = 0; i < 2000; ++i) {
    TcpHdr h;
    h.source = static_cast<uint16_t>(next() >> 8);
    h.dest = static_cast<uint16_t>(next() >> 8);
    h.seq = i == 0 ? 0xffffffffu : next();
    h.ack_seq = i == 0 ? 0xffffffffu : next();
    h.doff = static_cast<uint8_t>(5 + next() % 11);
    h.flags = static_cast<uint8_t>(next() >> 8);
    h.window = static_cast<uint16_t>(next() >> 8);
    h.urg_ptr = static_cast<uint16_t>(next() >> 8);
    h.emit(out.data());
    ASSERT_EQ(csum_fold(h.fields_sum()), csum_fold(csum_partial(out.data(), 20, 0))) << i;
  }
}

TEST(WireIpv4, FragmentFields) {
  Ipv4Hdr h;
  h.frag_off = kIpMf | 185;
  EXPECT_TRUE(h.more_fragments());
  EXPECT_TRUE(h.is_fragment());
  EXPECT_FALSE(h.dont_fragment());
  EXPECT_EQ(h.frag_offset_bytes(), 1480u);
  h.frag_off = 370;  // the last fragment: an offset, no MF
  EXPECT_TRUE(h.is_fragment());
  EXPECT_FALSE(h.more_fragments());
  h.frag_off = kIpDf;
  EXPECT_FALSE(h.is_fragment());
}

Ipv4ParseError parse_error(const Bytes& b) {
  Ipv4ParseError err{};
  EXPECT_FALSE(Ipv4Hdr::parse(b, &err)) << "should have been rejected";
  return err;
}

TEST(WireIpv4, RejectsTruncated) {
  Bytes d = ip_datagram();
  d.resize(19);
  EXPECT_EQ(parse_error(d), Ipv4ParseError::kTruncated);
  EXPECT_EQ(parse_error(Bytes{}), Ipv4ParseError::kTruncated);
}

TEST(WireIpv4, RejectsBadVersion) {
  Bytes d = ip_datagram();
  d[0] = std::byte{0x65};
  EXPECT_EQ(parse_error(d), Ipv4ParseError::kVersion);
}

TEST(WireIpv4, RejectsBadIhl) {
  Bytes d = ip_datagram();
  d[0] = std::byte{0x44};  // 16-byte header: below the minimum
  EXPECT_EQ(parse_error(d), Ipv4ParseError::kHeaderLength);
  Bytes shortbuf = kIpHeader;  // 20 bytes, but ihl claims 24
  shortbuf[0] = std::byte{0x46};
  EXPECT_EQ(parse_error(shortbuf), Ipv4ParseError::kHeaderLength);
}

TEST(WireIpv4, RejectsTotalLengthBelowHeader) {
  Bytes d = ip_datagram();
  store_be16(d.data() + 2, 19);
  ip_send_check(d.data());
  EXPECT_EQ(parse_error(d), Ipv4ParseError::kTotalLength);
  // With options: tot_len must cover ihl*4, not just 20.
  Bytes o = ip_datagram();
  o[0] = std::byte{0x46};
  store_be16(o.data() + 2, 22);
  ip_send_check(o.data());
  EXPECT_EQ(parse_error(o), Ipv4ParseError::kTotalLength);
}

TEST(WireIpv4, RejectsTotalLengthBeyondBuffer) {
  Bytes d = ip_datagram();
  d.resize(59);
  EXPECT_EQ(parse_error(d), Ipv4ParseError::kTotalLength);
}

TEST(WireIpv4, RejectsBadChecksumUnlessAskedNotToVerify) {
  Bytes d = ip_datagram();
  d[8] = std::byte{0x3f};  // ttl changed, checksum not updated
  EXPECT_EQ(parse_error(d), Ipv4ParseError::kChecksum);
  auto h = Ipv4Hdr::parse(d, nullptr, /*verify_csum=*/false);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->ttl, 0x3f);
  // ip_send_check repairs it.
  ip_send_check(d.data());
  EXPECT_TRUE(Ipv4Hdr::parse(d));
  EXPECT_EQ(load_be16(d.data() + 10), 0x0b79);  // the ttl/protocol word fell by 0x100
}

TEST(WireIpv4, AcceptsOptionsAndPaddingBeyondTotalLength) {
  Bytes d(64, std::byte{0});
  Ipv4Hdr h;
  h.tot_len = 40;
  h.protocol = kIpProtoUdp;
  h.saddr = Ipv4Addr(1, 2, 3, 4);
  h.daddr = Ipv4Addr(5, 6, 7, 8);
  h.emit(d.data());
  d[0] = std::byte{0x46};  // one word of options: NOPs
  for (int i = 20; i < 24; ++i) d[i] = std::byte{1};
  ip_send_check(d.data());
  auto p = Ipv4Hdr::parse(d);  // 64 bytes: Ethernet padding after the 40-byte datagram
  ASSERT_TRUE(p);
  EXPECT_EQ(p->ihl, 6);
  EXPECT_EQ(p->header_len(), 24u);
  EXPECT_EQ(p->tot_len, 40);
}

// --- ICMP ---

// Echo request, id 0x1234, seq 1, data "abcd".
const Bytes kEcho = bytes_of({0x08, 0x00, 0x21, 0x04, 0x12, 0x34, 0x00, 0x01, 'a', 'b', 'c', 'd'});

TEST(WireIcmp, ParseEchoFixture) {
  auto h = IcmpHdr::parse(kEcho);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->type, kIcmpEcho);
  EXPECT_EQ(h->code, 0);
  EXPECT_EQ(h->checksum, 0x2104);
  EXPECT_EQ(h->echo_id(), 0x1234);
  EXPECT_EQ(h->echo_seq(), 1);
  EXPECT_EQ(ip_compute_csum(kEcho), 0);  // the checksum covers the data too
}

TEST(WireIcmp, EmitThenChecksumReproducesFixture) {
  Bytes out(12);
  IcmpHdr{kIcmpEcho, 0, 0xffff, (0x1234u << 16) | 1}.emit(out.data());
  EXPECT_EQ(load_be16(out.data() + 2), 0);  // emit leaves the checksum to the caller
  std::memcpy(out.data() + 8, "abcd", 4);
  store_be16(out.data() + 2, ip_compute_csum(out));
  EXPECT_EQ(out, kEcho);
  EXPECT_EQ(test::icmp_message(kIcmpEcho, 0, (0x1234u << 16) | 1, test::bytes_of("abcd")), kEcho);
}

TEST(WireIcmp, FragNeededCarriesNextHopMtu) {
  Bytes b = bytes_of({0x03, 0x04, 0, 0, 0x00, 0x00, 0x05, 0x78});
  auto h = IcmpHdr::parse(b);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->type, kIcmpDestUnreach);
  EXPECT_EQ(h->code, kIcmpFragNeeded);
  EXPECT_EQ(h->frag_mtu(), 1400);
  EXPECT_FALSE(IcmpHdr::parse(std::span(b).first(7)));
}

TEST(WireIcmp, ErrorTypes) {
  for (uint8_t t :
       {kIcmpDestUnreach, kIcmpSourceQuench, kIcmpRedirect, kIcmpTimeExceeded, kIcmpParameterProb})
    EXPECT_TRUE(icmp_is_error(t)) << int(t);
  for (uint8_t t : {kIcmpEchoReply, kIcmpEcho, uint8_t{13}, uint8_t{14}})
    EXPECT_FALSE(icmp_is_error(t)) << int(t);
}

// --- UDP ---

// 192.168.0.1:12345 -> 192.168.0.199:53, "ping".
const Bytes kUdp = bytes_of({0x30, 0x39, 0x00, 0x35, 0x00, 0x0c, 0x6e, 0x7e, 'p', 'i', 'n', 'g'});
const Ipv4Addr kUdpSrc(192, 168, 0, 1);
const Ipv4Addr kUdpDst(192, 168, 0, 199);

TEST(WireUdp, ParseFixtureAndVerifyChecksum) {
  auto h = UdpHdr::parse(kUdp);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->source, 12345);
  EXPECT_EQ(h->dest, 53);
  EXPECT_EQ(h->len, 12);
  EXPECT_EQ(h->check, 0x6e7e);
  EXPECT_EQ(csum_fold(csum_pseudo(kUdpSrc, kUdpDst, kIpProtoUdp, 12, csum_partial(kUdp.data(), 12, 0))), 0);
  // The same bytes between other addresses do not verify: the pseudo-header is covered.
  EXPECT_NE(csum_fold(csum_pseudo(kUdpSrc, Ipv4Addr(192, 168, 0, 198), kIpProtoUdp, 12,
                                  csum_partial(kUdp.data(), 12, 0))),
            0);
}

TEST(WireUdp, EmitRoundTrip) {
  Bytes out(8);
  UdpHdr{12345, 53, 12, 0x6e7e}.emit(out.data());
  EXPECT_EQ(out, Bytes(kUdp.begin(), kUdp.begin() + 8));
  EXPECT_EQ(test::udp_segment(kUdpSrc, kUdpDst, 12345, 53, test::bytes_of("ping")), kUdp);
}

TEST(WireUdp, RejectsBadLengths) {
  EXPECT_FALSE(UdpHdr::parse(std::span(kUdp).first(7)));
  Bytes b = kUdp;
  store_be16(b.data() + 4, 7);  // shorter than its own header
  EXPECT_FALSE(UdpHdr::parse(b));
  store_be16(b.data() + 4, 13);  // longer than the buffer
  EXPECT_FALSE(UdpHdr::parse(b));
  store_be16(b.data() + 4, 8);  // an empty datagram is fine
  auto h = UdpHdr::parse(b);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->len, 8);
}

// --- a whole frame ---

TEST(WireFrame, EthernetIpv4UdpNestCleanly) {
  Bytes udp = test::udp_segment(kUdpSrc, kUdpDst, 12345, 53, test::bytes_of("ping"));
  Bytes ip = test::ipv4_packet({kUdpSrc, kUdpDst, kIpProtoUdp, 64, 7, kIpDf}, udp);
  Bytes frame = test::eth_frame(kMacB, kMacA, kEthPIp, ip);
  frame.resize(kEthMinFrame);  // padded as a short Ethernet frame is
  auto eth = EthHdr::parse(frame);
  ASSERT_TRUE(eth);
  EXPECT_EQ(eth->ethertype, kEthPIp);
  auto rest = std::span<const std::byte>(frame).subspan(kEthHeaderLen);
  auto iph = Ipv4Hdr::parse(rest);
  ASSERT_TRUE(iph);
  EXPECT_EQ(iph->tot_len, 32);
  EXPECT_EQ(iph->id, 7);
  auto uh = UdpHdr::parse(rest.subspan(iph->header_len(), iph->tot_len - iph->header_len()));
  ASSERT_TRUE(uh);
  EXPECT_EQ(uh->dest, 53);
  EXPECT_TRUE(test::udp_csum_ok(*iph, rest.subspan(20, 12)));
}

}  // namespace
}  // namespace ustack
