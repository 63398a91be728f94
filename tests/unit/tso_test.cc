// Segmentation and checksum offload: TCP over frame rings whose ends carry TSO packets and leave
// checksums to the ring; software segmentation (skb_gso_segment) where a device cannot; the segment
// counts TCP keeps for TSO skbs through loss and recovery.
#include <gtest/gtest.h>

#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

#include "dev/gso.h"
#include "drivers/ring_device.h"
#include "socket/socket.h"
#include "stack/stack.h"
#include "tcp/tcp.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"

namespace ustack {
namespace {

using namespace wire;

const Ipv4Addr kA(198, 18, 5, 1);
const Ipv4Addr kB(198, 18, 5, 2);
constexpr uint16_t kPort = 5001;

std::vector<std::byte> pattern(size_t n, uint8_t seed) {
  std::vector<std::byte> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = std::byte(uint8_t(seed + i * 7 + (i >> 11)));
  return v;
}

// Runs every stack in `all` in 20 us steps of virtual time while `from` sends `data` over one connection
// to a listener on `to` at `to_addr` and closes; returns what `to` read up to the FIN. `each_step` runs
// after every step.
std::vector<std::byte> transfer(VirtualClock& clock, std::initializer_list<Stack*> all, Stack& from,
                                Stack& to, Ipv4Addr to_addr, const std::vector<std::byte>& data,
                                const std::function<void()>& each_step = {}, size_t max_steps = 2'000'000) {
  SocketApi& sa = from.sockets();
  SocketApi& sb = to.sockets();
  int lfd = *sb.socket(kAfInet, kSockStream | kSockNonblock, 0);
  EXPECT_TRUE(sb.bind(lfd, SockAddrIn{to_addr, kPort}));
  EXPECT_TRUE(sb.listen(lfd, 4));
  int cfd = *sa.socket(kAfInet, kSockStream | kSockNonblock, 0);
  (void)sa.connect(cfd, SockAddrIn{to_addr, kPort});
  int afd = -1;
  size_t sent = 0;
  bool closed = false;
  std::vector<std::byte> got, buf(65536);
  for (size_t i = 0; i < max_steps; ++i) {
    clock.advance(std::chrono::microseconds(20));
    for (bool busy = true; busy;) {
      busy = false;
      for (Stack* s : all) busy |= s->poll();
    }
    for (Stack* s : all) (void)s->poll();  // timers due by now
    if (each_step) each_step();
    if (afd < 0) {
      if (auto c = sb.accept(lfd, nullptr, kSockNonblock)) afd = *c;
    }
    while (sent < data.size()) {
      auto r = sa.send(cfd, std::span(data).subspan(sent, std::min<size_t>(65536, data.size() - sent)));
      if (!r) break;
      sent += *r;
    }
    if (sent == data.size() && !closed) {
      (void)sa.close(cfd);
      closed = true;
    }
    while (afd >= 0) {
      auto r = sb.recv(afd, buf);
      if (!r) break;
      if (*r == 0) {
        (void)sb.close(afd);
        (void)sb.close(lfd);
        return got;
      }
      got.insert(got.end(), buf.begin(), buf.begin() + std::ptrdiff_t(*r));
    }
  }
  std::string counters;
  for (Stack* s : all) counters += s->counters_report();
  ADD_FAILURE() << "transfer did not finish: " << got.size() << " of " << data.size() << " bytes\n"
                << counters;
  return got;
}

// Two stacks in one thread on a pair of frame rings, in virtual time.
struct RingPeers {
  explicit RingPeers(bool offload, RingImpairment imp = {}, bool impair = false)
      : rings(64, 65535 + 14), a(clock, StackConfig{"a", 1}), b(clock, StackConfig{"b", 2}) {
    da = &static_cast<RingDevice&>(a.add_device(rings.make_end(0, "r0", MacAddr{{2, 0, 0, 0, 5, 1}}, 1500)));
    db = &static_cast<RingDevice&>(b.add_device(rings.make_end(1, "r1", MacAddr{{2, 0, 0, 0, 5, 2}}, 1500)));
    da->set_offloads(offload);
    db->set_offloads(offload);
    if (impair) db->set_rx_impairment(clock, imp);
    EXPECT_TRUE(a.add_address(*da, Ipv4Cidr{kA, 24}));
    EXPECT_TRUE(b.add_address(*db, Ipv4Cidr{kB, 24}));
  }
  // The segment counts TCP keeps must equal what its write queue holds: sent skbs counted by pcount,
  // and of them those marked lost and retransmitted.
  static void check_counts(Stack& s) {
    s.tcp().for_each_sock([](const Sock& sk) {
      auto& tp = const_cast<TcpSock&>(static_cast<const TcpSock&>(sk));
      uint32_t out = 0, lost = 0, retrans = 0;
      for (SkBuff* skb = tp.active().sk_write_queue.front(); skb && skb != tp.active().send_head;
           skb = SkbQueue::next(skb)) {
        uint32_t n = tcp_skb_pcount(*skb);
        out += n;
        if (tcp_skb_cb(*skb).sacked & kTcpcbLost) lost += n;
        if (tcp_skb_cb(*skb).sacked & kTcpcbRetrans) retrans += n;
      }
      if (tp.active().packets_out == 0) return;  // the counts reset wholesale when everything is acked
      ASSERT_EQ(tp.active().packets_out, out);
      ASSERT_EQ(tp.active().lost_out, lost);
      ASSERT_EQ(tp.active().retrans_out, retrans);
    });
  }

  // Sends `data` from a to b over one connection, checking a's counts at every step.
  std::vector<std::byte> transfer(const std::vector<std::byte>& data) {
    return ustack::transfer(clock, {&a, &b}, a, b, kB, data, [this] { check_counts(a); });
  }

  VirtualClock clock;
  FrameRingPair rings;
  Stack a, b;
  RingDevice* da = nullptr;
  RingDevice* db = nullptr;
};

TEST(Tso, BulkOverOffloadingRingsIsExactAndUsesLargeFrames) {
  RingPeers p(true);
  auto data = pattern(8 << 20, 3);
  EXPECT_EQ(p.transfer(data), data);
  // 8 MiB in MSS-sized frames would take about 5,800; TSO packets of many segments take far fewer.
  EXPECT_LT(p.da->stats.tx_packets, 2000u);
  EXPECT_GT(p.da->stats.tx_bytes / p.da->stats.tx_packets, 4000u);
  EXPECT_EQ(p.b.tcp().stats().in_csum_errors, 0u);
}

TEST(Tso, WithoutOffloadsEveryFrameFitsTheMtu) {
  RingPeers p(false);
  auto data = pattern(1 << 20, 4);
  EXPECT_EQ(p.transfer(data), data);
  EXPECT_GT(p.da->stats.tx_packets, (1u << 20) / 1448);
  EXPECT_LE(p.da->stats.tx_bytes / p.da->stats.tx_packets, 1514u);
}

TEST(Tso, LossOnTheWireCutsTsoFramesAndRecovers) {
  // The receiving end drops 2% of the wire's MTU-sized segments: TSO skbs are split, marked lost and
  // resent in pieces, and the segment counts must come back to zero.
  RingPeers p(true, RingImpairment{0.02, std::chrono::microseconds(200), 11}, true);
  auto data = pattern(4 << 20, 5);
  EXPECT_EQ(p.transfer(data), data);
  EXPECT_GT(p.db->stats.rx_dropped, 0u);
  EXPECT_GT(p.a.tcp().stats().retrans_segs, 0u);
}

TEST(Tso, ARouterCutsTsoFramesForALinkWithoutOffloads) {
  // a -- ring with offloads -- r -- ring without -- b. r receives TSO frames with checksums left to the
  // ring; forwarding them to a device that can do neither, it segments them and completes checksums.
  VirtualClock clock;
  FrameRingPair left(64, 65535 + 14), right(64, 1514);
  Stack a(clock, StackConfig{"a", 1}), r(clock, StackConfig{"r", 2}), b(clock, StackConfig{"b", 3});
  auto& a0 =
      static_cast<RingDevice&>(a.add_device(left.make_end(0, "a0", MacAddr{{2, 0, 0, 0, 6, 1}}, 1500)));
  auto& r0 =
      static_cast<RingDevice&>(r.add_device(left.make_end(1, "r0", MacAddr{{2, 0, 0, 0, 6, 2}}, 1500)));
  auto& r1 =
      static_cast<RingDevice&>(r.add_device(right.make_end(0, "r1", MacAddr{{2, 0, 0, 0, 6, 3}}, 1500)));
  auto& b0 =
      static_cast<RingDevice&>(b.add_device(right.make_end(1, "b0", MacAddr{{2, 0, 0, 0, 6, 4}}, 1500)));
  a0.set_offloads(true);
  r0.set_offloads(true);
  const Ipv4Addr ka(198, 18, 6, 1), kr0(198, 18, 6, 254), kr1(198, 18, 7, 254), kb(198, 18, 7, 1);
  ASSERT_TRUE(a.add_address(a0, Ipv4Cidr{ka, 24}));
  ASSERT_TRUE(r.add_address(r0, Ipv4Cidr{kr0, 24}));
  ASSERT_TRUE(r.add_address(r1, Ipv4Cidr{kr1, 24}));
  ASSERT_TRUE(b.add_address(b0, Ipv4Cidr{kb, 24}));
  ASSERT_TRUE(a.add_default_route(kr0, a0));
  ASSERT_TRUE(b.add_default_route(kr1, b0));
  r.ipv4().sysctl().ip_forward = true;
  auto data = pattern(2 << 20, 6);
  auto got = transfer(clock, {&a, &r, &b}, a, b, kb, data);
  EXPECT_EQ(got, data) << r.counters_report();
  EXPECT_GT(r0.stats.rx_bytes / std::max<uint64_t>(r0.stats.rx_packets, 1), 4000u)
      << "TSO frames arrive at r";
  EXPECT_LE(r1.stats.tx_bytes / std::max<uint64_t>(r1.stats.tx_packets, 1), 1514u);
  EXPECT_EQ(b.tcp().stats().in_csum_errors, 0u);
  EXPECT_EQ(b0.stats.rx_errors, 0u);
}

// An IPv4/TCP TSO frame as a ring would carry it: Ethernet, IP, TCP with timestamps, `payload` bytes.
SkbPtr tso_frame(size_t payload, uint16_t gso_size, uint8_t flags) {
  constexpr size_t kEth = 14, kIp = 20, kTcp = 32;
  SkbPtr skb = SkBuff::alloc(64, kEth + kIp + kTcp + payload);
  std::byte* p = skb->put(kEth + kIp + kTcp + payload).data();
  std::memset(p, 0, kEth);
  store_be16(p + 12, 0x0800);
  Ipv4Hdr ih;
  ih.tot_len = static_cast<uint16_t>(kIp + kTcp + payload);
  ih.id = 100;
  ih.frag_off = kIpDf;
  ih.protocol = kIpProtoTcp;
  ih.saddr = kA;
  ih.daddr = kB;
  ih.emit(p + kEth);
  TcpHdr th;
  th.source = 1000;
  th.dest = 2000;
  th.seq = 0xfffff000;  // wraps inside the packet
  th.ack_seq = 7;
  th.doff = kTcp / 4;
  th.flags = flags;
  th.window = 500;
  th.emit(p + kEth + kIp);
  std::memset(p + kEth + kIp + kTcpHeaderLen, 1, kTcp - kTcpHeaderLen);  // NOP options
  auto body = pattern(payload, 9);
  std::memcpy(p + kEth + kIp + kTcp, body.data(), payload);
  skb->gso_size = gso_size;
  return skb;
}

TEST(Gso, SegmentsCarryTheirOwnSequenceIdLengthFlagsAndChecksums) {
  constexpr size_t kPayload = 10000;
  constexpr uint16_t kMss = 1448;
  SkbPtr skb = tso_frame(kPayload, kMss, kTcpAck | kTcpPsh | kTcpFin | kTcpCwr);
  SkbQueue segs = skb_gso_segment(*skb, 14);
  ASSERT_EQ(segs.size(), (kPayload + kMss - 1) / kMss);
  auto body = pattern(kPayload, 9);
  size_t off = 0;
  uint16_t id = 100;
  for (SkBuff* s = segs.front(); s; s = SkbQueue::next(s)) {
    bool first = off == 0;
    size_t n = std::min<size_t>(kMss, kPayload - off);
    bool last = off + n == kPayload;
    auto ip = s->bytes().subspan(14);
    auto ih = Ipv4Hdr::parse(ip);  // verifies the header checksum
    ASSERT_TRUE(ih);
    EXPECT_EQ(ih->tot_len, 20 + 32 + n);
    EXPECT_EQ(ih->id, id++);
    auto tcp = ip.subspan(20);
    auto th = TcpHdr::parse(tcp);
    ASSERT_TRUE(th);
    EXPECT_EQ(th->seq, uint32_t(0xfffff000 + off));
    EXPECT_EQ(bool(th->flags & kTcpFin), last);
    EXPECT_EQ(bool(th->flags & kTcpPsh), last);
    EXPECT_EQ(bool(th->flags & kTcpCwr), first);
    EXPECT_TRUE(th->flags & kTcpAck);
    EXPECT_EQ(csum_fold(csum_pseudo(kA, kB, kIpProtoTcp, uint32_t(tcp.size()), csum_partial(tcp, 0))), 0)
        << "segment at " << off;
    EXPECT_EQ(0, std::memcmp(tcp.data() + 32, body.data() + off, n));
    off += n;
  }
  EXPECT_EQ(off, kPayload);
}

TEST(Gso, ChecksumHelpCompletesAPartialChecksum) {
  SkbPtr skb = tso_frame(300, 0, kTcpAck);
  (void)skb->pull(14);
  skb->reset_network_header();
  skb->set_transport_header(20);
  std::byte* th = skb->transport_header();
  uint32_t len = uint32_t(skb->len() - 20);
  store_be16(th + 16, static_cast<uint16_t>(~csum_fold(csum_pseudo(kA, kB, kIpProtoTcp, len, 0))));
  skb->ip_summed = CsumState::kPartial;
  skb->csum_offset = 16;
  skb_checksum_help(*skb);
  EXPECT_EQ(skb->ip_summed, CsumState::kNone);
  EXPECT_EQ(csum_fold(csum_pseudo(kA, kB, kIpProtoTcp, len, csum_partial(th, len, 0))), 0);
}

TEST(Gso, MalformedFramesGiveNoSegments) {
  SkbPtr skb = tso_frame(3000, 1000, kTcpAck);
  skb->trim(14 + 20 + 10);  // the TCP header cut short
  EXPECT_TRUE(skb_gso_segment(*skb, 14).empty());
  SkbPtr udp = tso_frame(3000, 1000, kTcpAck);
  store8(udp->data() + 14 + 9, kIpProtoUdp);
  EXPECT_TRUE(skb_gso_segment(*udp, 14).empty());
}

}  // namespace
}  // namespace ustack
