// Timers and the state they leave, in virtual time: retransmission timeouts (RFC 6298: backoff, the
// 200 ms floor, Karn's rule, Linux's time budget for giving up), keepalive (RFC 1122 §4.2.3.6) and the
// TCP_INFO fields that follow them, each checked against what Linux does.
#include <gtest/gtest.h>

#include <cmath>

#include "support/tcp_harness.h"

namespace ustack::tcptest {
namespace {

using namespace wire;

constexpr uint32_t kPeerIss = 5000;
constexpr uint32_t kP = kPeerIss + 1;  // the peer's first data byte

// Data from the peer at `seq`, acknowledging all we sent.
Out data(TcpHarness& h, uint32_t seq, size_t len, char c = 'd') {
  return Out{kTcpAck | kTcpPsh, seq, h.iss + 1}.with_payload(std::string(len, c));
}

// Virtual seconds since `t0`, rounded to the millisecond.
double at(const TcpHarness& h, TimePoint t0) {
  return std::round(to_seconds(h.clock.now() - t0) * 1000) / 1000;
}

// Retransmission times (seconds after the first transmission) until the socket reports an error.
std::vector<double> retransmissions_until_error(TcpHarness& h, int fd, uint32_t seq, double& error_at) {
  TimePoint t0 = h.clock.now();
  std::vector<double> times;
  error_at = -1;
  for (int i = 0; i < 100 && error_at < 0; ++i) {
    auto next = h.stack.next_deadline();
    if (!next) break;
    h.advance(*next - h.clock.now());
    while (auto s = h.next_tx()) {
      EXPECT_EQ(s->seq, seq);
      EXPECT_EQ(s->flags & kTcpRst, 0) << "tcp_write_err sends no reset";
      times.push_back(at(h, t0));
    }
    PollFd p{fd, kPollIn, 0};
    if (*h.api().poll(std::span(&p, 1), Duration(0)) && (p.revents & kPollErr)) error_at = at(h, t0);
  }
  return times;
}

TEST(TcpTimers, RtoDoublesFrom200msAndGivesUpAfterRetries2) {
  TcpHarness h;
  int fd = h.connect_established();  // an RTT sample of ~0 from the handshake: RTO = rto_min
  ASSERT_TRUE(h.api().send(fd, sv_bytes("x")));
  h.expect_tx(kTcpAck | kTcpPsh);
  h.advance(199ms);
  h.expect_no_tx();
  h.advance(2ms);
  Seg r = h.expect_tx(kTcpAck | kTcpPsh);
  EXPECT_EQ(r.seq, h.iss + 1);
  EXPECT_EQ(r.payload.size(), 1u);
  double err_at = 0;
  std::vector<double> t = retransmissions_until_error(h, fd, h.iss + 1, err_at);
  // Each timeout doubles the RTO up to 120 s; Linux gives up once the time since the first transmission
  // reaches what 15 (tcp_retries2) backed-off timeouts from TCP_RTO_MIN take: 924.6 s.
  std::vector<double> want{0.6,   1.4,   3.0,   6.2,   12.6,  25.4,  51.0,
                           102.2, 204.6, 324.6, 444.6, 564.6, 684.6, 804.6};
  ASSERT_EQ(t.size(), want.size());
  // Each deadline is rounded up to a whole millisecond (as jiffies are): up to 1 ms later per timeout.
  for (size_t i = 0; i < t.size(); ++i) EXPECT_NEAR(t[i], want[i] - 0.201, 0.0035 + 0.001 * double(i)) << i;
  EXPECT_NEAR(err_at, 924.6 - 0.201, 0.020);
  std::array<std::byte, 8> buf{};
  EXPECT_EQ(h.api().recv(fd, buf).error(), Errc::kTimedOut);
  EXPECT_EQ(h.api().send(fd, sv_bytes("y")).error(), Errc::kPipe);
  EXPECT_EQ(info(h, fd).state, TcpState::kClose);
}

TEST(TcpTimers, GivingUpIsATimeBudgetNotACountOfRetransmissions) {
  // The SYN was lost once: no RTT sample from the handshake, so the RTO is the 3 s fallback
  // (RFC 6298 §5.7, tcp_init_metrics). The budget of tcp_retries2 still is 924.6 s, so only 12
  // retransmissions fit (retransmits_timed_out, tcp_model_timeout).
  TcpHarness h;
  int fd = *h.api().socket(kAfInet, kSockStream | kSockNonblock);
  (void)h.api().connect(fd, SockAddrIn{kPeer, h.peer_port});
  Seg syn = h.expect_tx(kTcpSyn);
  h.our_port = syn.sport;
  h.iss = syn.seq;
  h.advance(1s);
  h.expect_tx(kTcpSyn);
  h.inject(Out{kTcpSyn | kTcpAck, kPeerIss, syn.seq + 1, 65535, 1460});
  h.expect_tx(kTcpAck);
  EXPECT_EQ(info(h, fd).rto_us, 3000000u);
  EXPECT_EQ(info(h, fd).snd_cwnd, 10u);  // one SYN retransmission keeps the initial window
  ASSERT_TRUE(h.api().send(fd, sv_bytes("x")));
  h.expect_tx(kTcpAck | kTcpPsh);
  double err_at = 0;
  std::vector<double> t = retransmissions_until_error(h, fd, h.iss + 1, err_at);
  EXPECT_EQ(t, (std::vector<double>{3, 9, 21, 45, 93, 189, 309, 429, 549, 669, 789, 909}));
  EXPECT_EQ(err_at, 1029);
}

TEST(TcpTimers, KarnTakesNoRttSampleFromARetransmittedSegment) {
  TcpHarness h;
  int fd = h.connect_established();
  uint32_t rtt0 = info(h, fd).rtt_us;
  EXPECT_LT(rtt0, 1000u);
  ASSERT_TRUE(h.api().send(fd, sv_bytes("a")));
  h.expect_tx(kTcpAck | kTcpPsh);
  h.advance(201ms);
  h.expect_tx(kTcpAck | kTcpPsh);  // the retransmission
  h.advance(200ms);
  h.inject(Out{kTcpAck, kP, h.iss + 2});  // may answer either copy: ambiguous
  TcpInfo i = info(h, fd);
  EXPECT_EQ(i.rtt_us, rtt0);
  EXPECT_EQ(i.rto_us, 400002u);  // the backed-off RTO stays until a valid sample
  EXPECT_EQ(i.retransmits, 0);
  // New data is timed with that RTO: 400 ms, not 200.
  ASSERT_TRUE(h.api().send(fd, sv_bytes("b")));
  h.expect_tx(kTcpAck | kTcpPsh);
  h.advance(399ms);
  h.expect_no_tx();
  h.advance(2ms);
  EXPECT_EQ(h.expect_tx(kTcpAck | kTcpPsh).seq, h.iss + 2);
  // A segment sent once gives a sample again: 50 ms.
  h.advance(1s);  // the retransmission is acknowledged below; let its timer go
  h.next_tx();
  h.inject(Out{kTcpAck, kP, h.iss + 3});
  ASSERT_TRUE(h.api().send(fd, sv_bytes("c")));
  h.expect_tx(kTcpAck | kTcpPsh);
  h.advance(50ms);
  h.inject(Out{kTcpAck, kP, h.iss + 4});
  EXPECT_NEAR(info(h, fd).rtt_us, 50000 / 8, 2);  // SRTT = 7/8 SRTT + 1/8 R
}

void set_keepalive(TcpHarness& h, int fd) {
  ASSERT_TRUE(h.api().setsockopt_int(fd, kSolSocket, kSoKeepAlive, 1));
  ASSERT_TRUE(h.api().setsockopt_int(fd, kSolTcp, kTcpKeepIdle, 10));
  ASSERT_TRUE(h.api().setsockopt_int(fd, kSolTcp, kTcpKeepIntvl, 5));
  ASSERT_TRUE(h.api().setsockopt_int(fd, kSolTcp, kTcpKeepCnt, 2));
}

TEST(TcpTimers, KeepaliveProbesAt10And15SecondsAndTimesOutAt20) {
  TcpHarness h;
  int fd = h.connect_established();
  set_keepalive(h, fd);
  TimePoint t0 = h.clock.now();
  std::vector<double> probes;
  for (int i = 0; i < 2500 && info(h, fd).state == TcpState::kEstablished; ++i) {
    h.advance(10ms);
    while (auto s = h.next_tx()) {
      if (s->flags & kTcpRst) {
        EXPECT_EQ(s->flags, kTcpRst | kTcpAck);
        EXPECT_EQ(s->seq, h.iss + 1);
        EXPECT_EQ(at(h, t0), 20);
        continue;
      }
      EXPECT_EQ(s->flags, kTcpAck);
      EXPECT_EQ(s->seq, h.iss);  // snd_una - 1, no data
      EXPECT_TRUE(s->payload.empty());
      probes.push_back(at(h, t0));
    }
  }
  EXPECT_EQ(probes, (std::vector<double>{10, 15}));
  EXPECT_EQ(at(h, t0), 20);
  std::array<std::byte, 8> buf{};
  EXPECT_EQ(h.api().recv(fd, buf).error(), Errc::kTimedOut);
  EXPECT_EQ(h.tcp().stats().keepalive_timeouts, 1u);
}

TEST(TcpTimers, AnsweredKeepaliveProbeRestartsTheIdleTime) {
  TcpHarness h;
  int fd = h.connect_established();
  set_keepalive(h, fd);
  h.advance(10s);
  EXPECT_EQ(h.expect_tx(kTcpAck).seq, h.iss);
  h.advance(1s);
  h.inject(Out{kTcpAck, kP, h.iss + 1});  // the peer is alive
  h.advance(9999ms);
  h.expect_no_tx();
  h.advance(1ms);
  EXPECT_EQ(h.expect_tx(kTcpAck).seq, h.iss);  // 10 s after the answer
  // Traffic also counts as life: data from the peer.
  h.inject(data(h, kP, 3));
  h.expect_tx(kTcpAck);
  h.advance(9s);
  h.expect_no_tx();
  EXPECT_EQ(info(h, fd).state, TcpState::kEstablished);
}

// The retransmit, delayed-ACK and keepalive timeouts of a connection share one entry in the stack's timer
// queue; each still runs at its own time, and an RTO pushed back by an ACK runs at its new deadline.
TEST(TcpTimers, TheTimeoutsOfAConnectionShareOneTimerEntry) {
  TcpHarness h;
  int fd = h.connect_established();
  ASSERT_TRUE(h.api().setsockopt_int(fd, kSolTcp, kTcpNoDelay, 1));
  const TimerQueue& timers = h.tcp().net().timers;
  h.advance(1s);  // the protocol's timer, left armed by the handshake's RTO, fires and finds nothing
  const size_t idle = timers.size();
  EXPECT_EQ(h.tcp().timer_entry_count(), 0u);
  set_keepalive(h, fd);                // idle 10 s
  EXPECT_EQ(timers.size(), idle + 1);  // the protocol's one timer for its connections' entries
  EXPECT_EQ(h.tcp().timer_entry_count(), 1u);
  for (uint32_t i = 0; i < 16; ++i) {  // out of quick-ack mode
    h.inject(Out{kTcpAck | kTcpPsh, kP + i, h.iss + 1}.with_payload("q"));
    h.expect_tx(kTcpAck);
  }
  const uint32_t p = kP + 16;
  ASSERT_TRUE(h.api().send(fd, sv_bytes("a")));
  ASSERT_TRUE(h.api().send(fd, sv_bytes("b")));
  h.expect_tx(kTcpAck | kTcpPsh);
  h.expect_tx(kTcpAck | kTcpPsh);
  // Data that acknowledges nothing of ours: a delayed ACK on top of the RTO and keepalive.
  h.inject(Out{kTcpAck | kTcpPsh, p, h.iss + 1}.with_payload("x"));
  h.expect_no_tx();
  EXPECT_EQ(timers.size(), idle + 1);
  EXPECT_EQ(h.tcp().timer_entry_count(), 1u);
  h.advance(39ms);
  h.expect_no_tx();
  h.advance(2ms);
  Seg ack = h.expect_tx(kTcpAck);  // the delayed ACK, at 40 ms
  EXPECT_EQ(ack.ack, p + 1);
  EXPECT_TRUE(ack.payload.empty());
  // The first byte acknowledged at 150 ms: the RTO restarts from there (RFC 6298 §5.3).
  h.advance(109ms);
  h.inject(Out{kTcpAck, p + 1, h.iss + 2});
  const auto rto = std::chrono::microseconds(info(h, fd).rto_us);
  ASSERT_GE(rto, 200ms);
  h.advance(100ms);
  h.expect_no_tx();  // 250 ms: the first deadline (200 ms) has passed without a retransmission
  h.advance(rto - 101ms);
  h.expect_no_tx();
  h.advance(2ms);
  Seg re = h.expect_tx(kTcpAck | kTcpPsh);
  EXPECT_EQ(re.seq, h.iss + 2);
  h.inject(Out{kTcpAck, p + 1, h.iss + 3});
  EXPECT_EQ(timers.size(), idle + 1);  // the keepalive is still armed
  // Idle from the last segment received (0.352 s): the keepalive probe 10 s later.
  TimePoint last = h.clock.now();
  for (int i = 0; i < 1100; ++i) {
    h.advance(10ms);
    if (auto s = h.next_tx()) {
      EXPECT_EQ(s->seq, h.iss + 2);  // snd_una - 1
      EXPECT_NEAR(to_seconds(h.clock.now() - last), 10, 0.011);
      break;
    }
    ASSERT_LT(i, 1099) << "no keepalive probe";
  }
  ASSERT_TRUE(h.api().close(fd));
}

TEST(TcpTimers, TcpInfoFollowsTheConnection) {
  TcpHarness h;
  int fd = h.connect_established();
  TcpInfo i = info(h, fd);
  EXPECT_EQ(i.state, TcpState::kEstablished);
  EXPECT_EQ(i.ca_state, CaState::kOpen);
  EXPECT_EQ(i.snd_cwnd, 10u);
  EXPECT_EQ(i.total_retrans, 0u);
  EXPECT_EQ(i.snd_mss, 1460u);
  EXPECT_LT(i.rtt_us, 1000u);
  EXPECT_EQ(i.rto_us / 1000, 200u);
  std::string d(2000, 'i');
  ASSERT_TRUE(h.api().send(fd, sv_bytes(d)));
  h.expect_tx(kTcpAck);
  h.expect_tx(kTcpAck | kTcpPsh);
  i = info(h, fd);
  EXPECT_EQ(i.unacked, 2u);
  EXPECT_EQ(i.bytes_sent, 2000u);
  EXPECT_EQ(i.data_segs_out, 2u);
  // A timeout: one segment resent, cwnd 1, in Loss.
  h.advance(201ms);
  h.expect_tx(kTcpAck);
  i = info(h, fd);
  EXPECT_EQ(i.ca_state, CaState::kLoss);
  EXPECT_EQ(i.snd_cwnd, 1u);
  EXPECT_EQ(i.snd_ssthresh, 5u);
  EXPECT_EQ(i.total_retrans, 1u);
  EXPECT_EQ(i.retransmits, 1);
  EXPECT_EQ(i.backoff, 1);
  EXPECT_EQ(i.rto_us / 1000, 400u);
  // The peer acknowledges the first segment: slow start from one, the second is resent.
  h.inject(Out{kTcpAck, kP, h.iss + 1461});
  EXPECT_EQ(h.expect_tx(kTcpAck | kTcpPsh).seq, h.iss + 1461);
  i = info(h, fd);
  EXPECT_EQ(i.snd_cwnd, 2u);
  EXPECT_EQ(i.retransmits, 0);
  EXPECT_EQ(i.total_retrans, 2u);
  h.inject(Out{kTcpAck, kP, h.iss + 2001});
  i = info(h, fd);
  EXPECT_EQ(i.ca_state, CaState::kOpen);
  EXPECT_EQ(i.unacked, 0u);
  EXPECT_EQ(i.bytes_acked, 2001u);  // the SYN counts one
  EXPECT_EQ(i.bytes_retrans, 1460u + 540u);
}

TEST(TcpTimers, TwoSynRetransmissionsStartWithACongestionWindowOfOne) {
  TcpHarness h;
  int fd = *h.api().socket(kAfInet, kSockStream | kSockNonblock);
  (void)h.api().connect(fd, SockAddrIn{kPeer, h.peer_port});
  Seg syn = h.expect_tx(kTcpSyn);
  h.our_port = syn.sport;
  h.advance(3s);
  h.expect_tx(kTcpSyn);
  h.expect_tx(kTcpSyn);
  h.inject(Out{kTcpSyn | kTcpAck, kPeerIss, syn.seq + 1, 65535, 1460});
  h.expect_tx(kTcpAck);
  EXPECT_EQ(info(h, fd).snd_cwnd, 1u);  // tcp_init_transfer: total_retrans > 1
}

}  // namespace
}  // namespace ustack::tcptest
