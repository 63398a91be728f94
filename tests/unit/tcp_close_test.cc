// Every way a connection ends, segment by segment in virtual time: active, passive and simultaneous
// close, half-close, aborts (RFC 2525 §2.17, SO_LINGER), the FIN_WAIT2 and TIME_WAIT minisocks, and
// RFC 5961's defences against blind resets and SYNs, with the out-of-window ACKs around them.
#include <gtest/gtest.h>

#include "support/tcp_harness.h"

namespace ustack::tcptest {
namespace {

using namespace wire;

constexpr uint32_t kPeerIss = 5000;
constexpr uint32_t kP = kPeerIss + 1;

// The state of the one sock the stack holds (an orphan has no descriptor to ask).
std::optional<TcpState> only_state(TcpHarness& h) {
  std::optional<TcpState> st;
  size_t n = 0;
  h.tcp().for_each_sock([&](const TcpSock& sk) {
    st = sk.sk_state;
    ++n;
  });
  EXPECT_LE(n, 1u);
  return st;
}

TcpState state(TcpHarness& h, int fd) {
  TcpInfo i{};
  EXPECT_TRUE(h.api().getsockopt(fd, kSolTcp, kTcpInfo, std::as_writable_bytes(std::span(&i, 1))));
  return i.state;
}

std::string recv_str(TcpHarness& h, int fd, Errc* err = nullptr) {
  std::array<std::byte, 256> buf{};
  auto n = h.api().recv(fd, buf);
  if (!n) {
    if (err) *err = n.error();
    std::string e = "<";
    e.append(errc_name(n.error()));
    e.push_back('>');
    return e;
  }
  return std::string(reinterpret_cast<const char*>(buf.data()), *n);
}

// Our FIN acknowledged, then the peer's FIN: returns when the connection is in TIME_WAIT.
void active_close_to_time_wait(TcpHarness& h, int fd) {
  ASSERT_TRUE(h.api().close(fd));
  Seg fin = h.expect_tx(kTcpFin | kTcpAck);
  EXPECT_EQ(fin.seq, h.iss + 1);
  h.inject(Out{kTcpAck, kP, h.iss + 2});
  h.inject(Out{kTcpFin | kTcpAck, kP, h.iss + 2});
  Seg ack = h.expect_tx(kTcpAck);
  EXPECT_EQ(ack.seq, h.iss + 2);
  EXPECT_EQ(ack.ack, kP + 1);
  EXPECT_EQ(h.tcp().timewait_count(), 1u);
}

TEST(TcpClose, ActiveCloseGoesThroughFinWait1FinWait2AndSixtySecondsOfTimeWait) {
  TcpHarness h;
  int fd = h.connect_established();
  ASSERT_TRUE(h.api().close(fd));
  Seg fin = h.expect_tx(kTcpFin | kTcpAck);
  EXPECT_EQ(fin.seq, h.iss + 1);
  EXPECT_EQ(fin.ack, kP);
  EXPECT_EQ(only_state(h), TcpState::kFinWait1);
  EXPECT_EQ(h.tcp().sock_count(), 1u);
  // The FIN is acknowledged: the orphan waits for the peer's FIN in a FIN_WAIT2 minisock (Linux's
  // tcp_time_wait(sk, TCP_FIN_WAIT2, tmo) when tcp_fin_timeout <= TCP_TIMEWAIT_LEN).
  h.inject(Out{kTcpAck, kP, h.iss + 2});
  h.expect_no_tx();
  h.settle();
  EXPECT_EQ(h.tcp().sock_count(), 0u);
  EXPECT_EQ(h.tcp().timewait_count(), 1u);
  h.advance(5s);
  h.inject(Out{kTcpFin | kTcpAck, kP, h.iss + 2});
  Seg ack = h.expect_tx(kTcpAck);
  EXPECT_EQ(ack.seq, h.iss + 2);
  EXPECT_EQ(ack.ack, kP + 1);
  // TIME_WAIT lasts exactly 60 s (TCP_TIMEWAIT_LEN) from the FIN.
  h.advance(59999ms);
  EXPECT_EQ(h.tcp().timewait_count(), 1u);
  h.advance(1ms);
  EXPECT_EQ(h.tcp().timewait_count(), 0u);
  EXPECT_EQ(h.tcp().sock_count(), 0u);
  h.expect_no_tx();
}

TEST(TcpClose, FinAcknowledgedTogetherWithThePeersFinGoesStraightToTimeWait) {
  TcpHarness h;
  int fd = h.connect_established();
  ASSERT_TRUE(h.api().close(fd));
  h.expect_tx(kTcpFin | kTcpAck);
  h.inject(Out{kTcpFin | kTcpAck, kP, h.iss + 2});
  EXPECT_EQ(h.expect_tx(kTcpAck).ack, kP + 1);
  EXPECT_EQ(h.tcp().timewait_count(), 1u);
  h.settle();
  EXPECT_EQ(h.tcp().sock_count(), 0u);
  h.advance(60s);
  EXPECT_EQ(h.tcp().timewait_count(), 0u);
}

// TIME_WAIT and FIN_WAIT2 minisocks share one timer (the death row's) however many there are, and each
// still ends at its own deadline: a shorter FIN_WAIT2 wait overtakes older TIME_WAITs, and an ACK that
// restarts a TIME_WAIT moves it behind the others.
TEST(TcpClose, MinisocksWaitOnOneTimerEachUntilItsOwnDeadline) {
  TcpHarness h;
  h.tcp().sysctl().tcp_fin_timeout = 30s;
  struct Conn {
    uint16_t port;
    uint32_t iss;
  };
  auto use = [&](const Conn& c) {
    h.our_port = c.port;
    h.iss = c.iss;
  };
  size_t timers_before = h.stack.net().timers.size();
  int fa = h.connect_established();
  Conn a{h.our_port, h.iss};
  int fb = h.connect_established();
  Conn b{h.our_port, h.iss};
  int fc = h.connect_established();
  Conn c{h.our_port, h.iss};
  TimePoint t0 = h.clock.now();
  auto to_time_wait = [&](int fd) {
    ASSERT_TRUE(h.api().close(fd));
    h.expect_tx(kTcpFin | kTcpAck);
    h.inject(Out{kTcpFin | kTcpAck, kP, h.iss + 2});
    EXPECT_EQ(h.expect_tx(kTcpAck).ack, kP + 1);
  };
  use(a);
  to_time_wait(fa);  // ends at t0 + 60 s
  h.settle();
  h.advance(10s);
  use(b);  // FIN acknowledged, no FIN from the peer: FIN_WAIT2 until t0 + 40 s
  ASSERT_TRUE(h.api().close(fb));
  h.expect_tx(kTcpFin | kTcpAck);
  h.inject(Out{kTcpAck, kP, h.iss + 2});
  h.settle();
  h.advance(10s);
  use(c);
  to_time_wait(fc);  // ends at t0 + 80 s
  h.settle();
  EXPECT_EQ(h.tcp().timewait_count(), 3u);
  EXPECT_EQ(h.tcp().sock_count(), 0u);
  EXPECT_EQ(h.tcp().timer_entry_count(), 0u);
  // Once the connections' timer, left armed for entries that have gone, has fired: the death row's one.
  h.advance(1s);
  EXPECT_EQ(h.stack.net().timers.size(), timers_before + 1);

  h.advance(t0 + 40s - 1ms - h.clock.now());
  EXPECT_EQ(h.tcp().timewait_count(), 3u);
  h.advance(1ms);
  EXPECT_EQ(h.tcp().timewait_count(), 2u);
  // At t0 + 50 s the peer repeats its FIN to a: acknowledged, and a's 60 s start over (to t0 + 110 s).
  h.advance(10s);
  use(a);
  h.inject(Out{kTcpFin | kTcpAck, kP, a.iss + 2});
  EXPECT_EQ(h.expect_tx(kTcpAck).ack, kP + 1);
  h.advance(t0 + 80s - 1ms - h.clock.now());
  EXPECT_EQ(h.tcp().timewait_count(), 2u);
  h.advance(1ms);
  EXPECT_EQ(h.tcp().timewait_count(), 1u);
  h.advance(t0 + 110s - 1ms - h.clock.now());
  EXPECT_EQ(h.tcp().timewait_count(), 1u);
  h.advance(1ms);
  EXPECT_EQ(h.tcp().timewait_count(), 0u);
  EXPECT_EQ(h.stack.net().timers.size(), timers_before);
  h.expect_no_tx();
}

TEST(TcpClose, PassiveCloseGoesThroughCloseWaitAndLastAck) {
  TcpHarness h;
  int fd = h.connect_established();
  h.inject(Out{kTcpFin | kTcpAck, kP, h.iss + 1});
  Seg a = h.expect_tx(kTcpAck);
  EXPECT_EQ(a.ack, kP + 1);
  EXPECT_EQ(state(h, fd), TcpState::kCloseWait);
  EXPECT_EQ(recv_str(h, fd), "");  // end of stream
  // We may still send.
  ASSERT_TRUE(h.api().send(fd, sv_bytes("last words")));
  EXPECT_EQ(h.expect_tx(kTcpAck | kTcpPsh).ack, kP + 1);
  h.inject(Out{kTcpAck, kP + 1, h.iss + 11});
  ASSERT_TRUE(h.api().close(fd));
  Seg fin = h.expect_tx(kTcpFin | kTcpAck);
  EXPECT_EQ(fin.seq, h.iss + 11);
  EXPECT_EQ(fin.ack, kP + 1);
  EXPECT_EQ(only_state(h), TcpState::kLastAck);
  h.inject(Out{kTcpAck, kP + 1, h.iss + 12});
  h.settle();
  EXPECT_EQ(h.tcp().sock_count(), 0u);
  EXPECT_EQ(h.tcp().timewait_count(), 0u);  // the passive closer keeps no TIME_WAIT
  h.advance(10s);
  h.expect_no_tx();
}

TEST(TcpClose, LastAckResendsTheFinUntilAcknowledged) {
  TcpHarness h;
  int fd = h.connect_established();
  h.inject(Out{kTcpFin | kTcpAck, kP, h.iss + 1});
  h.expect_tx(kTcpAck);
  ASSERT_TRUE(h.api().close(fd));
  Seg fin = h.expect_tx(kTcpFin | kTcpAck);
  h.advance(201ms);
  Seg again = h.expect_tx(kTcpFin | kTcpAck);
  EXPECT_EQ(again.seq, fin.seq);
  h.inject(Out{kTcpAck, kP + 1, fin.seq + 1});
  h.settle();
  EXPECT_EQ(h.tcp().sock_count(), 0u);
}

TEST(TcpClose, SimultaneousCloseGoesThroughClosingToTimeWait) {
  TcpHarness h;
  int fd = h.connect_established();
  ASSERT_TRUE(h.api().close(fd));
  h.expect_tx(kTcpFin | kTcpAck);
  // The peer's FIN crosses ours: it does not acknowledge our FIN.
  h.inject(Out{kTcpFin | kTcpAck, kP, h.iss + 1});
  Seg a = h.expect_tx(kTcpAck);
  EXPECT_EQ(a.seq, h.iss + 2);
  EXPECT_EQ(a.ack, kP + 1);
  EXPECT_EQ(only_state(h), TcpState::kClosing);
  h.inject(Out{kTcpAck, kP + 1, h.iss + 2});
  EXPECT_EQ(h.tcp().timewait_count(), 1u);
  h.settle();
  EXPECT_EQ(h.tcp().sock_count(), 0u);
  h.advance(60s);
  EXPECT_EQ(h.tcp().timewait_count(), 0u);
}

TEST(TcpClose, FinWithDataDeliversTheDataThenEndOfStream) {
  TcpHarness h;
  int fd = h.connect_established();
  h.inject(Out{kTcpFin | kTcpAck | kTcpPsh, kP, h.iss + 1}.with_payload("bye"));
  // The ACK waits for an answer (pingpong mode); nobody answers, so the delayed-ACK timer sends it.
  h.expect_no_tx();
  h.advance(40ms);
  Seg a = h.expect_tx(kTcpAck);
  EXPECT_EQ(a.ack, kP + 4);  // three bytes and the FIN
  EXPECT_EQ(recv_str(h, fd), "bye");
  EXPECT_EQ(recv_str(h, fd), "");
  EXPECT_EQ(recv_str(h, fd), "");
  PollFd p{fd, kPollIn | kPollRdHup, 0};
  EXPECT_EQ(*h.api().poll(std::span(&p, 1), Duration(0)), 1);
  EXPECT_TRUE(p.revents & kPollRdHup);
}

TEST(TcpClose, TheAckOfAFinRidesOnTheApplicationsClose) {
  // As Linux (tcp_fin enters pingpong mode): the application reads the end of the stream and closes
  // within the delayed-ACK time, so one FIN+ACK answers the peer's FIN instead of an ACK and a FIN.
  TcpHarness h;
  int fd = h.connect_established();
  // The first data starts the delayed-ACK engine (ato 40 ms) in quick-ack mode: ACKed at once.
  h.inject(Out{kTcpAck | kTcpPsh, kP, h.iss + 1}.with_payload("hi"));
  EXPECT_EQ(h.expect_tx(kTcpAck).ack, kP + 2);
  h.inject(Out{kTcpFin | kTcpAck, kP + 2, h.iss + 1});
  h.expect_no_tx();
  EXPECT_EQ(state(h, fd), TcpState::kCloseWait);
  EXPECT_EQ(recv_str(h, fd), "hi");
  EXPECT_EQ(recv_str(h, fd), "");
  h.advance(10ms);
  h.expect_no_tx();
  ASSERT_TRUE(h.api().close(fd));
  Seg fin = h.expect_tx(kTcpFin | kTcpAck);
  EXPECT_EQ(fin.ack, kP + 3);
  h.expect_no_tx();
  // The delayed-ACK timer (40 ms) has nothing left to send: the FIN carried the ACK.
  h.advance(100ms);
  h.expect_no_tx();
}

TEST(TcpClose, WithoutFinPingpongAFinIsAckedAtOnce) {
  // FreeBSD's rule (TF_ACKNOW), which the packetdrill rfc profile runs with.
  TcpHarness h;
  h.stack.tcp().sysctl().tcp_fin_pingpong = false;
  int fd = h.connect_established();
  h.inject(Out{kTcpFin | kTcpAck, kP, h.iss + 1});
  EXPECT_EQ(h.expect_tx(kTcpAck).ack, kP + 1);
  ASSERT_TRUE(h.api().close(fd));
  EXPECT_EQ(h.expect_tx(kTcpFin | kTcpAck).ack, kP + 1);
}

TEST(TcpClose, FinAfterAHoleWaitsForTheHole) {
  TcpHarness h;
  int fd = h.connect_established();
  h.inject(Out{kTcpFin | kTcpAck, kP + 5, h.iss + 1}.with_payload("world"));
  EXPECT_EQ(h.expect_tx(kTcpAck).ack, kP);
  EXPECT_EQ(state(h, fd), TcpState::kEstablished);
  h.inject(Out{kTcpAck, kP, h.iss + 1}.with_payload("hello"));
  EXPECT_EQ(h.expect_tx(kTcpAck).ack, kP + 11);
  EXPECT_EQ(state(h, fd), TcpState::kCloseWait);
  EXPECT_EQ(recv_str(h, fd), "helloworld");
  EXPECT_EQ(recv_str(h, fd), "");
}

TEST(TcpClose, ABareFinGoesOutWhenTheCongestionWindowIsFull) {
  // Linux's tcp_cwnd_test: the final FIN is not held back by cwnd once all data is out.
  TcpHarness h;
  int fd = h.connect_established();
  std::string d(10 * 1460, 'z');
  ASSERT_TRUE(h.api().send(fd, sv_bytes(d)));
  for (int i = 0; i < 10; ++i) (void)h.next_tx();
  h.expect_no_tx();
  ASSERT_TRUE(h.api().shutdown(fd, 1));  // SHUT_WR
  Seg fin = h.expect_tx(kTcpFin | kTcpAck);
  EXPECT_EQ(fin.seq, h.iss + 1 + 10 * 1460);
  EXPECT_TRUE(fin.payload.empty());
}

TEST(TcpClose, ShutdownWriteHalfClosesAndDataStillArrives) {
  TcpHarness h;
  int fd = h.connect_established();
  ASSERT_TRUE(h.api().shutdown(fd, 1));  // SHUT_WR
  Seg fin = h.expect_tx(kTcpFin | kTcpAck);
  EXPECT_EQ(fin.seq, h.iss + 1);
  EXPECT_EQ(state(h, fd), TcpState::kFinWait1);
  EXPECT_EQ(h.api().send(fd, sv_bytes("no")).error(), Errc::kPipe);
  h.inject(Out{kTcpAck, kP, h.iss + 2});
  EXPECT_EQ(state(h, fd), TcpState::kFinWait2);
  // The peer goes on sending; we go on receiving.
  h.inject(Out{kTcpAck | kTcpPsh, kP, h.iss + 2}.with_payload("more"));
  EXPECT_EQ(h.expect_tx(kTcpAck).ack, kP + 4);
  EXPECT_EQ(recv_str(h, fd), "more");
  Errc e = Errc::kOk;
  EXPECT_EQ(recv_str(h, fd, &e), "<EAGAIN>");
  h.advance(120s);  // a FIN_WAIT2 with its socket open waits as long as it takes
  EXPECT_EQ(state(h, fd), TcpState::kFinWait2);
  h.inject(Out{kTcpAck | kTcpPsh, kP + 4, h.iss + 2}.with_payload("and more"));
  EXPECT_EQ(h.expect_tx(kTcpAck).ack, kP + 12);
  h.inject(Out{kTcpFin | kTcpAck, kP + 12, h.iss + 2});
  Seg a = h.expect_tx(kTcpAck);
  EXPECT_EQ(a.ack, kP + 13);
  EXPECT_EQ(h.tcp().timewait_count(), 1u);
  EXPECT_EQ(recv_str(h, fd), "and more");
  EXPECT_EQ(recv_str(h, fd), "");
  EXPECT_EQ(h.tcp().sock_count(), 1u);  // until close()
  ASSERT_TRUE(h.api().close(fd));
  h.settle();
  EXPECT_EQ(h.tcp().sock_count(), 0u);
  h.expect_no_tx();
}

TEST(TcpClose, CloseWithUnreadDataSendsRstInsteadOfFin) {
  TcpHarness h;
  int fd = h.connect_established();
  h.inject(Out{kTcpAck | kTcpPsh, kP, h.iss + 1}.with_payload("unread"));
  h.expect_tx(kTcpAck);
  ASSERT_TRUE(h.api().close(fd));
  Seg r = h.expect_tx(kTcpRst | kTcpAck);  // RFC 2525 §2.17
  EXPECT_EQ(r.seq, h.iss + 1);
  EXPECT_EQ(r.ack, kP + 6);
  h.expect_no_tx();
  h.settle();
  EXPECT_EQ(h.tcp().sock_count(), 0u);
  EXPECT_EQ(h.tcp().timewait_count(), 0u);
  EXPECT_EQ(h.tcp().stats().abort_on_close, 1u);
}

TEST(TcpClose, LingerZeroSendsRst) {
  TcpHarness h;
  int fd = h.connect_established();
  Linger l{1, 0};
  ASSERT_TRUE(h.api().setsockopt(fd, kSolSocket, kSoLinger, std::as_bytes(std::span(&l, 1))));
  ASSERT_TRUE(h.api().close(fd));
  Seg r = h.expect_tx(kTcpRst | kTcpAck);
  EXPECT_EQ(r.seq, h.iss + 1);
  EXPECT_EQ(r.ack, kP);
  h.expect_no_tx();
  h.settle();
  EXPECT_EQ(h.tcp().sock_count(), 0u);
  EXPECT_EQ(h.tcp().timewait_count(), 0u);
}

TEST(TcpClose, OrphanInFinWait2GoesAfterTcpFinTimeout) {
  TcpHarness h;
  int fd = h.connect_established();
  ASSERT_TRUE(h.api().close(fd));
  h.expect_tx(kTcpFin | kTcpAck);
  h.inject(Out{kTcpAck, kP, h.iss + 2});
  h.advance(59999ms);
  EXPECT_EQ(h.tcp().timewait_count(), 1u);
  h.advance(1ms);
  EXPECT_EQ(h.tcp().timewait_count(), 0u);
  h.expect_no_tx();  // silently
  // A late FIN finds nobody: reset.
  h.inject(Out{kTcpFin | kTcpAck, kP, h.iss + 2});
  EXPECT_EQ(h.expect_tx(kTcpRst).seq, h.iss + 2);
}

TEST(TcpClose, TcpLinger2SetsTheOrphansFinWait2Time) {
  TcpHarness h;
  int fd = h.connect_established();
  EXPECT_EQ(*h.api().getsockopt_int(fd, kSolTcp, kTcpLinger2), 60);  // tcp_fin_timeout
  ASSERT_TRUE(h.api().setsockopt_int(fd, kSolTcp, kTcpLinger2, 1));
  EXPECT_EQ(*h.api().getsockopt_int(fd, kSolTcp, kTcpLinger2), 1);
  ASSERT_TRUE(h.api().close(fd));
  h.expect_tx(kTcpFin | kTcpAck);
  h.inject(Out{kTcpAck, kP, h.iss + 2});
  h.advance(999ms);
  EXPECT_EQ(h.tcp().timewait_count(), 1u);
  h.advance(1ms);
  EXPECT_EQ(h.tcp().timewait_count(), 0u);
  h.inject(Out{kTcpAck, kP, h.iss + 2});
  EXPECT_EQ(h.expect_tx(kTcpRst).seq, h.iss + 2);
}

TEST(TcpClose, OrphanInFinWait2ResetsNewData) {
  TcpHarness h;
  int fd = h.connect_established();
  ASSERT_TRUE(h.api().close(fd));
  h.expect_tx(kTcpFin | kTcpAck);
  h.inject(Out{kTcpAck, kP, h.iss + 2});
  // Nobody will read it: reset and forget (tcp_timewait_state_process: TCP_TW_RST).
  h.inject(Out{kTcpAck | kTcpPsh, kP, h.iss + 2}.with_payload("late"));
  EXPECT_EQ(h.expect_tx(kTcpRst).seq, h.iss + 2);
  EXPECT_EQ(h.tcp().timewait_count(), 0u);
}

TEST(TcpClose, OrphanWhoseFinAckBringsAnOutOfOrderFinStillTimesOut) {
  // The peer acknowledges our FIN with a FIN beyond a hole: the orphan stays a full FIN_WAIT2 sock so
  // as not to lose it, under the tcp_fin_timeout timer (Linux tcp_keepalive_timer): reset after 60 s.
  TcpHarness h;
  int fd = h.connect_established();
  ASSERT_TRUE(h.api().close(fd));
  h.expect_tx(kTcpFin | kTcpAck);
  h.inject(Out{kTcpFin | kTcpAck, kP + 10, h.iss + 2});
  EXPECT_EQ(h.expect_tx(kTcpAck).ack, kP);  // a duplicate ACK for the hole
  EXPECT_EQ(only_state(h), TcpState::kFinWait2);
  h.advance(59999ms);
  h.expect_no_tx();
  h.advance(1ms);
  Seg r = h.expect_tx(kTcpRst | kTcpAck);
  EXPECT_EQ(r.seq, h.iss + 2);
  h.settle();
  EXPECT_EQ(h.tcp().sock_count(), 0u);
  EXPECT_EQ(h.tcp().timewait_count(), 0u);
}

TEST(TcpClose, TimeWaitReacksARetransmittedFinAndRestartsItsTimer) {
  TcpHarness h;
  int fd = h.connect_established();
  active_close_to_time_wait(h, fd);
  h.advance(30s);
  h.inject(Out{kTcpFin | kTcpAck, kP, h.iss + 2});  // our last ACK was lost
  Seg a = h.expect_tx(kTcpAck);
  EXPECT_EQ(a.seq, h.iss + 2);
  EXPECT_EQ(a.ack, kP + 1);
  h.advance(59999ms);
  EXPECT_EQ(h.tcp().timewait_count(), 1u);
  h.advance(1ms);
  EXPECT_EQ(h.tcp().timewait_count(), 0u);
}

TEST(TcpClose, InWindowRstEndsTimeWaitAndAnOutOfWindowOneDoesNot) {
  TcpHarness h;
  int fd = h.connect_established();
  active_close_to_time_wait(h, fd);
  h.inject(Out{kTcpRst, kP + 1000, 0});  // not at rcv_nxt: ignored
  EXPECT_EQ(h.tcp().timewait_count(), 1u);
  h.inject(Out{kTcpRst, kP + 1, 0});  // tcp_rfc1337 = 0: TIME_WAIT assassination
  EXPECT_EQ(h.tcp().timewait_count(), 0u);
  h.expect_no_tx();
}

TEST(TcpClose, TimeWaitAnswersOldSegmentsWithItsAck) {
  TcpHarness h;
  int fd = h.connect_established();
  active_close_to_time_wait(h, fd);
  h.inject(Out{kTcpAck | kTcpPsh, kP - 10, h.iss + 2}.with_payload("old"));
  Seg a = h.expect_tx(kTcpAck);
  EXPECT_EQ(a.seq, h.iss + 2);
  EXPECT_EQ(a.ack, kP + 1);
  // A bare in-window ACK restarts the timer without an answer.
  h.advance(40s);
  h.inject(Out{kTcpAck, kP + 1, h.iss + 2});
  h.expect_no_tx();
  h.advance(59s);
  EXPECT_EQ(h.tcp().timewait_count(), 1u);
  h.advance(1s);
  EXPECT_EQ(h.tcp().timewait_count(), 0u);
}

// A server that accepted a connection and closed it first: TIME_WAIT on the listener's port.
struct ServerTimeWait {
  explicit ServerTimeWait(TcpHarness& h) {
    l = *h.api().socket(kAfInet, kSockStream | kSockNonblock);
    EXPECT_TRUE(h.api().bind(l, SockAddrIn{Ipv4Addr::any(), 80}));
    EXPECT_TRUE(h.api().listen(l, 8));
    h.our_port = 80;
    h.inject(Out{kTcpSyn, kPeerIss, 0, 65535, 1460});
    Seg sa = h.expect_tx(kTcpSyn | kTcpAck);
    isn = sa.seq;
    h.inject(Out{kTcpAck, kP, isn + 1});
    int c = *h.api().accept(l);
    EXPECT_TRUE(h.api().close(c));
    EXPECT_EQ(h.expect_tx(kTcpFin | kTcpAck).seq, isn + 1);
    h.inject(Out{kTcpFin | kTcpAck, kP, isn + 2});
    EXPECT_EQ(h.expect_tx(kTcpAck).ack, kP + 1);
    EXPECT_EQ(h.tcp().timewait_count(), 1u);
  }
  int l = -1;
  uint32_t isn = 0;
};

TEST(TcpClose, NewerSynInTimeWaitIsTakenByTheListener) {
  TcpHarness h;
  ServerTimeWait s(h);
  h.advance(2s);
  // RFC 1122 §4.2.2.13 / RFC 6191: a SYN above the old rcv_nxt reopens the 4-tuple; Linux starts the new
  // connection's sequence space 65537 above the old snd_nxt (tcp_timewait_state_process: TCP_TW_SYN).
  h.inject(Out{kTcpSyn, kP + 100000, 0, 65535, 1460});
  Seg sa = h.expect_tx(kTcpSyn | kTcpAck);
  EXPECT_EQ(sa.ack, kP + 100001);
  EXPECT_EQ(sa.seq, s.isn + 2 + 65535 + 2);
  EXPECT_EQ(h.tcp().timewait_count(), 0u);
  h.inject(Out{kTcpAck, kP + 100001, sa.seq + 1});
  SockAddrIn peer;
  ASSERT_TRUE(h.api().accept(s.l, &peer));
  EXPECT_EQ(peer.port, h.peer_port);
}

TEST(TcpClose, OldSynInTimeWaitGetsTheTimeWaitAck) {
  TcpHarness h;
  ServerTimeWait s(h);
  h.inject(Out{kTcpSyn, kPeerIss - 1000, 0, 65535, 1460});
  Seg a = h.expect_tx(kTcpAck);
  EXPECT_EQ(a.seq, s.isn + 2);
  EXPECT_EQ(a.ack, kP + 1);
  EXPECT_EQ(h.tcp().timewait_count(), 1u);
}

TEST(TcpClose, NewerSynInTimeWaitWithoutAListenerIsAcked) {
  TcpHarness h;
  int fd = h.connect_established();
  active_close_to_time_wait(h, fd);  // a client's TIME_WAIT: no listener on its port
  h.inject(Out{kTcpSyn, kP + 100000, 0, 65535, 1460});
  Seg a = h.expect_tx(kTcpAck);
  EXPECT_EQ(a.seq, h.iss + 2);
  EXPECT_EQ(a.ack, kP + 1);
  EXPECT_EQ(h.tcp().timewait_count(), 1u);
}

TEST(TcpClose, InWindowRstNotAtRcvNxtGetsAChallengeAckAndAnExactOneResets) {
  TcpHarness h;
  int fd = h.connect_established();
  h.inject(Out{kTcpRst, kP + 100, 0});  // RFC 5961 §3.2
  Seg c = h.expect_tx(kTcpAck);
  EXPECT_EQ(c.seq, h.iss + 1);
  EXPECT_EQ(c.ack, kP);
  EXPECT_EQ(state(h, fd), TcpState::kEstablished);
  EXPECT_EQ(h.tcp().stats().challenge_acks, 1u);
  // The connection still works.
  h.inject(Out{kTcpAck | kTcpPsh, kP, h.iss + 1}.with_payload("ok"));
  EXPECT_EQ(h.expect_tx(kTcpAck).ack, kP + 2);
  EXPECT_EQ(recv_str(h, fd), "ok");
  h.inject(Out{kTcpRst, kP + 2, 0});
  h.expect_no_tx();
  EXPECT_EQ(state(h, fd), TcpState::kClose);
  Errc e = Errc::kOk;
  recv_str(h, fd, &e);
  EXPECT_EQ(e, Errc::kConnReset);
  EXPECT_EQ(h.api().send(fd, sv_bytes("x")).error(), Errc::kPipe);
  EXPECT_EQ(recv_str(h, fd), "");
}

TEST(TcpClose, RstOutOfWindowIsIgnored) {
  TcpHarness h;
  int fd = h.connect_established();
  h.inject(Out{kTcpRst, kP + 1000000, 0});
  h.inject(Out{kTcpRst | kTcpAck, kP - 1, h.iss + 1});
  h.expect_no_tx();
  EXPECT_EQ(state(h, fd), TcpState::kEstablished);
}

TEST(TcpClose, RstAtRcvNxtMinusOneAfterTheFinResets) {
  // tcp_reset_check: in CLOSE_WAIT, LAST_ACK and CLOSING a reset may sit on the peer's FIN.
  TcpHarness h;
  int fd = h.connect_established();
  h.inject(Out{kTcpFin | kTcpAck, kP, h.iss + 1});
  h.expect_tx(kTcpAck);
  h.inject(Out{kTcpRst, kP, 0});
  h.expect_no_tx();
  EXPECT_EQ(state(h, fd), TcpState::kClose);
  Errc e = Errc::kOk;
  recv_str(h, fd, &e);
  EXPECT_EQ(e, Errc::kPipe);  // tcp_reset in CLOSE_WAIT
}

TEST(TcpClose, SynInEstablishedGetsAChallengeAck) {
  TcpHarness h;
  int fd = h.connect_established();
  h.inject(Out{kTcpSyn, kP + 10, 0, 65535, 1460});  // RFC 5961 §4.2, in window
  Seg c = h.expect_tx(kTcpAck);
  EXPECT_EQ(c.seq, h.iss + 1);
  EXPECT_EQ(c.ack, kP);
  EXPECT_EQ(state(h, fd), TcpState::kEstablished);
  h.advance(1s);
  h.inject(Out{kTcpSyn, kPeerIss - 100000, 0, 65535, 1460});  // out of window too
  EXPECT_EQ(h.expect_tx(kTcpAck).ack, kP);
  EXPECT_EQ(state(h, fd), TcpState::kEstablished);
  EXPECT_EQ(h.tcp().stats().challenge_acks, 2u);
}

TEST(TcpClose, ChallengeAcksAreRateLimitedPerSocket) {
  // RFC 5961 §7; Linux's per-socket limit of one per tcp_invalid_ratelimit (500 ms).
  TcpHarness h;
  int fd = h.connect_established();
  h.inject(Out{kTcpRst, kP + 100, 0});
  h.expect_tx(kTcpAck);
  h.inject(Out{kTcpRst, kP + 200, 0});
  h.inject(Out{kTcpSyn, kP + 300, 0});
  h.expect_no_tx();
  h.advance(500ms);
  h.inject(Out{kTcpRst, kP + 400, 0});
  h.expect_tx(kTcpAck);
  EXPECT_EQ(state(h, fd), TcpState::kEstablished);
}

TEST(TcpClose, SegmentEntirelyOutOfWindowGetsAnAck) {
  TcpHarness h;
  int fd = h.connect_established();
  h.inject(Out{kTcpAck | kTcpPsh, kP + 200000, h.iss + 1}.with_payload("far"));
  Seg a = h.expect_tx(kTcpAck);
  EXPECT_EQ(a.seq, h.iss + 1);
  EXPECT_EQ(a.ack, kP);
  // An old retransmission too (data segments are never rate-limited).
  h.inject(Out{kTcpAck | kTcpPsh, kP - 100, h.iss + 1}.with_payload("old"));
  EXPECT_EQ(h.expect_tx(kTcpAck).ack, kP);
  Errc e = Errc::kOk;
  recv_str(h, fd, &e);
  EXPECT_EQ(e, Errc::kAgain);
  // Pure ACKs out of the window are answered at most once per 500 ms.
  h.advance(1s);
  h.inject(Out{kTcpAck, kP + 200000, h.iss + 1});
  h.expect_tx(kTcpAck);
  h.inject(Out{kTcpAck, kP + 200000, h.iss + 1});
  h.expect_no_tx();
}

TEST(TcpClose, AckForUnsentDataIsAnsweredAndDropped) {
  TcpHarness h;
  int fd = h.connect_established();
  h.inject(Out{kTcpAck | kTcpPsh, kP, h.iss + 1000}.with_payload("zz"));
  Seg a = h.expect_tx(kTcpAck);
  EXPECT_EQ(a.seq, h.iss + 1);
  EXPECT_EQ(a.ack, kP);  // the data was not taken
  Errc e = Errc::kOk;
  recv_str(h, fd, &e);
  EXPECT_EQ(e, Errc::kAgain);
  EXPECT_EQ(state(h, fd), TcpState::kEstablished);
}

}  // namespace
}  // namespace ustack::tcptest
