// RACK-TLP (RFC 8985). Tail loss probes (Linux's tcp_schedule_loss_probe and tcp_send_loss_probe): when
// the last segments of a flight get no ACK within about two smoothed RTTs, a SACK connection sends a
// probe (new data if the peer's window takes it, else the last segment again) instead of waiting for
// the RTO. RACK: a segment sent before a delivered one is lost an RTT and a reordering window later.
// The handshake here gives an RTT sample of a few microseconds, so a probe is due 2 ms (TCP_TIMEOUT_MIN)
// after the last transmission or ACK, rounded up to the clock's millisecond, where the RTO is 200 ms.
#include <gtest/gtest.h>

#include "support/tcp_harness.h"
#include "tcp/tcp.h"

namespace ustack::tcptest {
namespace {

using namespace wire;
constexpr uint32_t kP = 5001;  // the peer's first sequence number after its SYN
constexpr uint32_t kMss = 1460;

int send_segments(TcpHarness& h, int segs, bool sack = true) {
  int fd = h.connect_established(5000, false, 65535, sack);
  EXPECT_TRUE(h.api().setsockopt_int(fd, kSolTcp, kTcpNoDelay, 1));
  std::string d(size_t(segs) * kMss, 'z');
  EXPECT_TRUE(h.api().send(fd, sv_bytes(d)));
  return fd;
}

uint32_t seg(const TcpHarness& h, uint32_t n) { return h.iss + 1 + n * kMss; }

// Advance 1 ms at a time (at most `limit`) until a segment goes out; the time it took.
std::optional<std::pair<Duration, Seg>> wait_tx(TcpHarness& h, Duration limit) {
  TimePoint t0 = h.clock.now();
  while (h.clock.now() - t0 < limit) {
    h.advance(std::chrono::milliseconds(1));
    if (auto s = h.next_tx()) return std::pair{h.clock.now() - t0, *s};
  }
  return std::nullopt;
}

TEST(TcpTlp, ALostLastSegmentIsResentByTheProbeLongBeforeTheRto) {
  TcpHarness h;
  int fd = send_segments(h, 4);
  for (uint32_t i = 0; i < 4; ++i) EXPECT_EQ(h.next_tx()->seq, seg(h, i));
  // Segments 0-2 arrive and 3 is lost; the peer acknowledges 0 and 1 and delays its ACK of 2. Nothing
  // would tell the sender of the loss but the RTO. (With one segment out, the probe waits for the
  // peer's delayed ACK as well, 2 RTT + 200 ms: no sooner than the RTO.)
  h.inject(Out{kTcpAck, kP, seg(h, 2)});
  auto probe = wait_tx(h, std::chrono::milliseconds(150));
  ASSERT_TRUE(probe);
  EXPECT_LE(probe->first, std::chrono::milliseconds(3));
  EXPECT_EQ(probe->second.seq, seg(h, 3));
  EXPECT_EQ(probe->second.payload.size(), kMss);
  EXPECT_EQ(h.tcp().stats().loss_probes, 1u);
  EXPECT_EQ(h.tcp().stats().timeouts, 0u);
  // The probe repaired the tail.
  h.inject(Out{kTcpAck, kP, seg(h, 4)});
  TcpInfo i = info(h, fd);
  EXPECT_EQ(i.unacked, 0u);
  EXPECT_EQ(i.ca_state, CaState::kOpen);
  const uint32_t cwnd = i.snd_cwnd;
  // No duplicate ACK said both copies arrived: once the ACKs pass the probe, it counts as a repaired
  // loss and cwnd is halved, once.
  ASSERT_TRUE(h.api().send(fd, sv_bytes("more")));
  h.expect_tx(kTcpAck | kTcpPsh);
  h.inject(Out{kTcpAck, kP, seg(h, 4) + 4});
  i = info(h, fd);
  EXPECT_EQ(h.tcp().stats().loss_probe_recovery, 1u);
  EXPECT_EQ(i.snd_ssthresh, std::max(cwnd / 2, 2u));
  EXPECT_EQ(i.snd_cwnd, i.snd_ssthresh);
  h.advance(std::chrono::seconds(2));
  h.expect_no_tx();
}

TEST(TcpTlp, ADuplicateAckForTheProbeMeansNothingWasLost) {
  TcpHarness h;
  int fd = send_segments(h, 4);
  for (uint32_t i = 0; i < 4; ++i) ASSERT_TRUE(h.next_tx());
  h.inject(Out{kTcpAck, kP, seg(h, 2)});
  auto probe = wait_tx(h, std::chrono::milliseconds(150));
  ASSERT_TRUE(probe);
  EXPECT_EQ(probe->second.seq, seg(h, 3));
  // Segments 2 and 3 were only late: their ACK, then the duplicate ACK (with a D-SACK) for the probe's
  // copy.
  h.inject(Out{kTcpAck, kP, seg(h, 4)});
  Out dup{kTcpAck, kP, seg(h, 4)};
  dup.sacks = {{seg(h, 3), seg(h, 4)}};
  h.inject(dup);
  ASSERT_TRUE(h.api().send(fd, sv_bytes("more")));
  h.expect_tx(kTcpAck | kTcpPsh);
  h.inject(Out{kTcpAck, kP, seg(h, 4) + 4});
  TcpInfo i = info(h, fd);
  EXPECT_EQ(h.tcp().stats().loss_probe_recovery, 0u);
  EXPECT_EQ(i.snd_ssthresh, 0x7fffffffu);  // no reduction
  EXPECT_EQ(i.snd_cwnd, 10u);
}

TEST(TcpTlp, TheProbeSendsNewDataPastTheCongestionWindowThenTheRtoTakesOver) {
  TcpHarness h;
  int fd = send_segments(h, 12);
  for (uint32_t i = 0; i < 10; ++i) EXPECT_EQ(h.next_tx()->seq, seg(h, i));  // cwnd 10
  h.expect_no_tx();
  auto probe = wait_tx(h, std::chrono::milliseconds(150));
  ASSERT_TRUE(probe);
  EXPECT_LE(probe->first, std::chrono::milliseconds(3));
  EXPECT_EQ(probe->second.seq, seg(h, 10));  // new data, though cwnd is full
  EXPECT_EQ(info(h, fd).unacked, 11u);
  // One probe per tail: nothing more until the RTO resends the head, 200 ms after the probe.
  auto rto = wait_tx(h, std::chrono::milliseconds(400));
  ASSERT_TRUE(rto);
  EXPECT_EQ(rto->second.seq, seg(h, 0));
  EXPECT_GE(rto->first, std::chrono::milliseconds(200));
  EXPECT_LE(rto->first, std::chrono::milliseconds(202));
  EXPECT_EQ(h.tcp().stats().loss_probes, 1u);
  EXPECT_EQ(h.tcp().stats().timeouts, 1u);
}

TEST(TcpTlp, WithoutSackOrWithTheSysctlOffOnlyTheRtoRepairsATailLoss) {
  for (bool sack : {false, true}) {
    TcpHarness h;
    if (sack) h.stack.tcp().sysctl().tcp_rack_tlp = false;
    int fd = send_segments(h, 4, sack);
    for (uint32_t i = 0; i < 4; ++i) ASSERT_TRUE(h.next_tx());
    h.inject(Out{kTcpAck, kP, seg(h, 2)});  // two segments still out, as in the first test
    auto rto = wait_tx(h, std::chrono::milliseconds(400));
    ASSERT_TRUE(rto);
    EXPECT_EQ(rto->second.seq, seg(h, 2));  // the RTO resends the head
    EXPECT_GE(rto->first, std::chrono::milliseconds(200)) << "sack " << sack;
    EXPECT_EQ(h.tcp().stats().loss_probes, 0u);
    EXPECT_EQ(h.tcp().stats().timeouts, 1u);
    EXPECT_EQ(info(h, fd).ca_state, CaState::kLoss);
  }
}

// RACK (RFC 8985 §6.2): segment 2 went out with segment 3, which the peer SACKs; with a single SACKed
// segment above it RFC 6675 would wait (three are needed), RACK marks it lost once an RTT and a quarter
// have passed since it was sent: its reordering timer fires, and recovery resends it.
TEST(TcpTlp, RackMarksAHoleLostAnRttAfterItWasSentWithOneSegmentSackedAboveIt) {
  for (bool rack : {true, false}) {
    TcpHarness h;
    h.stack.tcp().sysctl().tcp_rack_tlp = rack;
    int fd = send_segments(h, 4);
    for (uint32_t i = 0; i < 4; ++i) ASSERT_TRUE(h.next_tx());
    // The SACK's RTT: 2 ms, before the loss probe would go (3 ms).
    h.advance(std::chrono::milliseconds(2));
    Out o{kTcpAck, kP, seg(h, 2)};
    o.sacks = {{seg(h, 3), seg(h, 4)}};
    h.inject(o);
    h.expect_no_tx();  // the reordering window (a quarter of the smoothed RTT) has not passed
    EXPECT_EQ(info(h, fd).ca_state, CaState::kDisorder);
    auto re = wait_tx(h, std::chrono::milliseconds(400));
    ASSERT_TRUE(re);
    EXPECT_EQ(re->second.seq, seg(h, 2));
    TcpInfo i = info(h, fd);
    if (rack) {
      EXPECT_LE(re->first, std::chrono::milliseconds(2));  // the RTT here is microseconds
      EXPECT_EQ(i.ca_state, CaState::kRecovery);
      EXPECT_EQ(h.tcp().stats().fast_retrans, 1u);
      EXPECT_EQ(h.tcp().stats().timeouts, 0u);
    } else {
      EXPECT_GE(re->first, std::chrono::milliseconds(200));
      EXPECT_EQ(i.ca_state, CaState::kLoss);
      EXPECT_EQ(h.tcp().stats().timeouts, 1u);
    }
    h.inject(Out{kTcpAck, kP, seg(h, 4)});
    EXPECT_EQ(info(h, fd).unacked, 0u);
    EXPECT_EQ(info(h, fd).ca_state, CaState::kOpen);
  }
}

}  // namespace
}  // namespace ustack::tcptest
