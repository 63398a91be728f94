// TcpActive: a connection holds its queues, scoreboard and recovery state only while it is active, and
// gives them back once idle. What is checked here is that the block comes and goes at the right
// moments, and that a connection which gave it back behaves as one that kept it.
#include <gtest/gtest.h>

#include "support/tcp_harness.h"
#include "tcp/tcp.h"

namespace ustack::tcptest {
namespace {

using namespace wire;
constexpr uint32_t kP = 5001;  // the peer's first sequence number after its SYN

// The harness's one connection.
const TcpSock& conn(TcpHarness& h) {
  const TcpSock* found = nullptr;
  h.tcp().for_each_sock([&](const Sock& sk) {
    if (sk.sk_state != TcpState::kListen) found = &static_cast<const TcpSock&>(sk);
  });
  EXPECT_NE(found, nullptr);
  return *found;
}

size_t recv_all(TcpHarness& h, int fd) {
  std::array<std::byte, 4096> buf{};
  auto n = h.api().recv(fd, buf);
  return n ? *n : 0;
}

TEST(TcpActive, AConnectionHoldsItsQueuesOnlyWhileDataIsQueuedOrInFlight) {
  TcpHarness h;
  int fd = h.connect_established(5000, false, 65535, true);
  const TcpSock& tp = conn(h);
  // The SYN was queued for retransmission; its ACK left nothing.
  EXPECT_FALSE(tp.is_active());
  EXPECT_EQ(recv_all(h, fd), 0u);  // EAGAIN on an idle connection makes nothing either
  EXPECT_FALSE(tp.is_active());

  // Sending: active until the data is acknowledged.
  ASSERT_TRUE(h.api().send(fd, sv_bytes("hello")));
  h.expect_tx(kTcpAck | kTcpPsh);
  EXPECT_TRUE(tp.is_active());
  EXPECT_EQ(tp.active().packets_out, 1u);
  h.inject(Out{kTcpAck, kP, h.iss + 3});  // part of it
  EXPECT_TRUE(tp.is_active());
  h.inject(Out{kTcpAck, kP, h.iss + 6});
  EXPECT_FALSE(tp.is_active());

  // Receiving: active until the application has read what arrived.
  h.inject(Out{kTcpAck | kTcpPsh, kP, h.iss + 6}.with_payload("abc"));
  EXPECT_TRUE(tp.is_active());
  EXPECT_EQ(recv_all(h, fd), 3u);
  EXPECT_FALSE(tp.is_active());

  // Out of order: the segment above the hole keeps the state, and so does the data once the hole
  // fills, until it is read.
  h.inject(Out{kTcpAck | kTcpPsh, kP + 6, h.iss + 6}.with_payload("ghi"));
  EXPECT_TRUE(tp.is_active());
  EXPECT_FALSE(tp.ofo_empty());
  EXPECT_EQ(recv_all(h, fd), 0u);
  EXPECT_TRUE(tp.is_active());
  h.inject(Out{kTcpAck | kTcpPsh, kP + 3, h.iss + 6}.with_payload("def"));
  EXPECT_TRUE(tp.is_active());
  EXPECT_EQ(recv_all(h, fd), 6u);
  EXPECT_FALSE(tp.is_active());
  EXPECT_EQ(tp.tcp_get_info().bytes_received, 9u);
  EXPECT_EQ(tp.tcp_get_info().bytes_acked, 6u);  // the SYN and "hello": kept outside the block
}

TEST(TcpActive, AConnectionThatWentIdleSendsASmallWriteAtOnce) {
  // Nagle with Minshall's rule: a small segment waits while a small one is unacknowledged. The end of
  // the last small segment lives in the active state; once everything is acknowledged and the state
  // is gone, a new small write must not wait for an ACK that will never come.
  TcpHarness h;
  int fd = h.connect_established(5000, false, 65535, true);
  const TcpSock& tp = conn(h);
  ASSERT_TRUE(h.api().send(fd, sv_bytes("a")));
  h.expect_tx(kTcpAck | kTcpPsh);
  ASSERT_TRUE(h.api().send(fd, sv_bytes("b")));
  h.expect_no_tx();  // held: "a" is small and unacknowledged
  h.inject(Out{kTcpAck, kP, h.iss + 2});
  Seg b = h.expect_tx(kTcpAck | kTcpPsh);
  EXPECT_EQ(b.seq, h.iss + 2);
  h.inject(Out{kTcpAck, kP, h.iss + 3});
  EXPECT_FALSE(tp.is_active());
  ASSERT_TRUE(h.api().send(fd, sv_bytes("c")));
  Seg c = h.expect_tx(kTcpAck | kTcpPsh);
  EXPECT_EQ(c.seq, h.iss + 3);
}

TEST(TcpActive, ARetransmissionTimeoutRecoversWithTheStateKeptThroughout) {
  // A loss holds the state through the RTO and the recovery after it; the ACK that ends the
  // recovery leaves the connection idle, and the next transfer starts from a fresh block.
  TcpHarness h;
  int fd = h.connect_established(5000, false, 65535, true);
  const TcpSock& tp = conn(h);
  ASSERT_TRUE(h.api().setsockopt_int(fd, kSolTcp, kTcpNoDelay, 1));
  ASSERT_TRUE(h.api().send(fd, sv_bytes("lost")));
  h.expect_tx(kTcpAck | kTcpPsh);
  h.advance(std::chrono::milliseconds(1500));  // past the tail probe and the RTO
  EXPECT_TRUE(tp.is_active());
  EXPECT_GE(tp.tcp_get_info().total_retrans, 1u);
  while (h.next_tx()) {
  }
  h.inject(Out{kTcpAck, kP, h.iss + 5});
  EXPECT_EQ(tp.ca_state, CaState::kOpen);
  EXPECT_FALSE(tp.is_active());
  ASSERT_TRUE(h.api().send(fd, sv_bytes("next")));
  Seg s = h.expect_tx(kTcpAck | kTcpPsh);
  EXPECT_EQ(s.seq, h.iss + 5);
  EXPECT_EQ(tp.active().packets_out, 1u);
  EXPECT_EQ(tp.active().retrans_out, 0u);
  EXPECT_EQ(tp.active().lost_out, 0u);
}

TEST(TcpActive, ADelayedAckKeepsTheStateUntilItGoesOut) {
  // The retransmit and delayed-ACK deadlines live in the active state: a connection whose ACK is
  // delayed stays active, even with everything read, until the ACK has gone out.
  TcpHarness h;
  int fd = h.connect_established(5000, false, 65535, true);
  const TcpSock& tp = conn(h);
  for (uint32_t i = 0; i < 16; ++i) {  // out of quick-ack mode
    h.inject(Out{kTcpAck | kTcpPsh, kP + i, h.iss + 1}.with_payload("q"));
    h.expect_tx(kTcpAck);
    EXPECT_EQ(recv_all(h, fd), 1u);
  }
  EXPECT_FALSE(tp.is_active());
  h.inject(Out{kTcpAck | kTcpPsh, kP + 16, h.iss + 1}.with_payload("x"));
  h.expect_no_tx();
  EXPECT_TRUE(tp.timer_pending(TcpTimeout::kDelack));
  EXPECT_EQ(recv_all(h, fd), 1u);
  EXPECT_TRUE(tp.is_active());  // nothing queued, but an ACK waits
  h.advance(200ms);
  EXPECT_EQ(h.expect_tx(kTcpAck).ack, kP + 17);
  EXPECT_FALSE(tp.timer_pending(TcpTimeout::kDelack));
  EXPECT_FALSE(tp.is_active());
  // The keepalive deadline is the sock's own: arming it makes nothing.
  ASSERT_TRUE(h.api().setsockopt_int(fd, kSolSocket, kSoKeepAlive, 1));
  EXPECT_TRUE(tp.timer_pending(TcpTimeout::kKeepalive));
  EXPECT_FALSE(tp.is_active());
  EXPECT_EQ(h.tcp().timer_entry_count(), 1u);
}

}  // namespace
}  // namespace ustack::tcptest
