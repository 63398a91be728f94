// SACK-based loss recovery (RFC 2018, RFC 6675): the scoreboard the peer's SACK blocks build, fast
// retransmit from it, several holes repaired in one recovery, lost retransmissions, the RTO keeping
// what the peer holds, reneging, and blocks a hostile peer makes up.
#include <gtest/gtest.h>

#include "support/tcp_harness.h"
#include "tcp/tcp.h"

namespace ustack::tcptest {
namespace {

using namespace wire;
constexpr uint32_t kP = 5001;  // the peer's first sequence number after its SYN
constexpr uint32_t kMss = 1460;

// These tests are of RFC 6675's scoreboard alone. The harness's wire takes no time, so that with RACK
// (tcp_tlp_test.cc) a zero RTT would mark every hole lost at the first SACK above it.
void rfc6675_only(TcpHarness& h) { h.stack.tcp().sysctl().tcp_rack_tlp = false; }

// A connection that negotiated SACK, with `segs` full segments sent; returns the fd.
int send_segments(TcpHarness& h, int segs) {
  int fd = h.connect_established(5000, false, 65535, true);
  EXPECT_TRUE(h.api().setsockopt_int(fd, kSolTcp, kTcpNoDelay, 1));
  std::string d(size_t(segs) * kMss, 'z');
  EXPECT_TRUE(h.api().send(fd, sv_bytes(d)));
  for (int i = 0; i < segs; ++i) EXPECT_EQ(h.next_tx()->seq, h.iss + 1 + kMss * uint32_t(i));
  h.expect_no_tx();
  return fd;
}

// The start of segment `n` (0-based) of the data.
uint32_t seg(const TcpHarness& h, uint32_t n) { return h.iss + 1 + n * kMss; }

Out sack_ack(uint32_t ack, std::vector<std::pair<uint32_t, uint32_t>> blocks) {
  Out o{kTcpAck, kP, ack};
  o.sacks = std::move(blocks);
  return o;
}

TEST(TcpSack, ThreeSegmentsSackedAboveAHoleMakeItLostAndOnlyItIsResent) {
  TcpHarness h;
  rfc6675_only(h);
  int fd = send_segments(h, 10);
  // Segment 0 is lost; 1, 2 and 3 arrive, each reported in a growing block.
  h.inject(sack_ack(seg(h, 0), {{seg(h, 1), seg(h, 2)}}));
  h.inject(sack_ack(seg(h, 0), {{seg(h, 1), seg(h, 3)}}));
  h.expect_no_tx();
  TcpInfo i = info(h, fd);
  EXPECT_EQ(i.ca_state, CaState::kDisorder);
  EXPECT_EQ(i.sacked, 2u);
  EXPECT_EQ(i.lost, 0u);
  h.inject(sack_ack(seg(h, 0), {{seg(h, 1), seg(h, 4)}}));
  Seg r = h.expect_tx(kTcpAck);
  EXPECT_EQ(r.seq, seg(h, 0));
  EXPECT_EQ(r.payload.size(), kMss);
  h.expect_no_tx();
  i = info(h, fd);
  EXPECT_EQ(i.ca_state, CaState::kRecovery);
  EXPECT_EQ(i.sacked, 3u);
  EXPECT_EQ(i.lost, 1u);
  EXPECT_EQ(i.retrans, 1u);
  EXPECT_EQ(i.snd_ssthresh, 5u);
  // The rest arrive: the SACKed segments are never sent again, recovery ends at the full ACK.
  h.inject(sack_ack(seg(h, 0), {{seg(h, 1), seg(h, 10)}}));
  h.inject(Out{kTcpAck, kP, seg(h, 10)});
  i = info(h, fd);
  EXPECT_EQ(i.ca_state, CaState::kOpen);
  EXPECT_EQ(i.unacked, 0u);
  EXPECT_EQ(i.sacked, 0u);
  EXPECT_EQ(i.total_retrans, 1u);
  h.advance(2s);
  h.expect_no_tx();
}

TEST(TcpSack, EveryHoleOfAWindowIsRepairedWithoutWaitingForPartialAcks) {
  // Segments 0, 3 and 6 of 10 are lost. NewReno would learn of one hole per round trip; the
  // scoreboard knows each hole once three SACKed segments lie above it, and resends them as the pipe
  // allows.
  TcpHarness h;
  rfc6675_only(h);
  int fd = send_segments(h, 10);
  h.inject(sack_ack(seg(h, 0), {{seg(h, 1), seg(h, 3)}}));
  h.expect_no_tx();
  h.inject(sack_ack(seg(h, 0), {{seg(h, 4), seg(h, 6)}, {seg(h, 1), seg(h, 3)}}));
  EXPECT_EQ(h.expect_tx(kTcpAck).seq, seg(h, 0));
  h.expect_no_tx();  // segment 3 has only two SACKed above it (RFC 6675 IsLost)
  EXPECT_EQ(info(h, fd).lost, 1u);
  h.inject(sack_ack(seg(h, 0), {{seg(h, 7), seg(h, 10)}, {seg(h, 4), seg(h, 6)}, {seg(h, 1), seg(h, 3)}}));
  std::vector<uint32_t> resent;
  while (auto s = h.next_tx()) resent.push_back(s->seq);
  // pipe = 10 out - 7 SACKed - 3 lost + 1 resent = 1 against cwnd 5: both holes go out at once.
  EXPECT_EQ(resent, (std::vector<uint32_t>{seg(h, 3), seg(h, 6)}));
  TcpInfo i = info(h, fd);
  EXPECT_EQ(i.sacked, 7u);
  EXPECT_EQ(i.lost, 3u);
  EXPECT_EQ(i.retrans, 3u);
  h.inject(Out{kTcpAck, kP, seg(h, 10)});
  i = info(h, fd);
  EXPECT_EQ(i.ca_state, CaState::kOpen);
  EXPECT_EQ(i.total_retrans, 3u);
  EXPECT_EQ(i.unacked, 0u);
}

TEST(TcpSack, ALostRetransmissionIsResentWhenLaterDataIsSacked) {
  TcpHarness h;
  rfc6675_only(h);
  int fd = send_segments(h, 10);
  h.inject(sack_ack(seg(h, 0), {{seg(h, 1), seg(h, 4)}}));
  EXPECT_EQ(h.expect_tx(kTcpAck).seq, seg(h, 0));  // the retransmission, lost too
  h.inject(sack_ack(seg(h, 0), {{seg(h, 1), seg(h, 10)}}));
  // New data goes out behind the retransmission.
  std::string more(2 * kMss, 'n');
  ASSERT_TRUE(h.api().send(fd, sv_bytes(more)));
  std::vector<uint32_t> sent;
  while (auto s = h.next_tx()) sent.push_back(s->seq);
  ASSERT_FALSE(sent.empty());
  EXPECT_EQ(sent.front(), seg(h, 10));
  EXPECT_EQ(info(h, fd).retrans, 1u);
  // The peer SACKs that new data while segment 0 is still missing: the retransmission was lost, and
  // it goes out again at once, not after an RTO.
  h.inject(sack_ack(seg(h, 0), {{seg(h, 10), seg(h, 11)}, {seg(h, 1), seg(h, 10)}}));
  Seg again = h.expect_tx(kTcpAck);
  EXPECT_EQ(again.seq, seg(h, 0));
  EXPECT_EQ(h.stack.tcp().stats().lost_retransmit, 1u);
  EXPECT_EQ(h.stack.tcp().stats().timeouts, 0u);
  EXPECT_EQ(info(h, fd).total_retrans, 2u);
}

TEST(TcpSack, RecoveryEndsAtItsFullAckWhileLaterDataIsStillSacked) {
  // Data sent during recovery can be SACKed above a new hole when the full ACK comes: recovery ends,
  // the scoreboard keeps that segment, and the connection is in Disorder, not Open.
  TcpHarness h;
  rfc6675_only(h);
  int fd = send_segments(h, 10);
  ASSERT_TRUE(h.api().send(fd, sv_bytes(std::string(2 * kMss, 'n'))));
  h.expect_no_tx();  // cwnd is full
  h.inject(sack_ack(seg(h, 0), {{seg(h, 1), seg(h, 4)}}));
  EXPECT_EQ(h.expect_tx(kTcpAck).seq, seg(h, 0));
  h.inject(sack_ack(seg(h, 0), {{seg(h, 1), seg(h, 10)}}));
  std::vector<uint32_t> sent;
  while (auto s = h.next_tx()) sent.push_back(s->seq);
  EXPECT_EQ(sent, (std::vector<uint32_t>{seg(h, 10), seg(h, 11)}));
  // Segment 10 is lost, 11 arrives with the repaired hole.
  h.inject(sack_ack(seg(h, 10), {{seg(h, 11), seg(h, 12)}}));
  TcpInfo i = info(h, fd);
  EXPECT_EQ(i.ca_state, CaState::kDisorder);
  EXPECT_EQ(i.sacked, 1u);
  EXPECT_EQ(i.unacked, 2u);
  h.inject(Out{kTcpAck, kP, seg(h, 12)});
  i = info(h, fd);
  EXPECT_EQ(i.ca_state, CaState::kOpen);
  EXPECT_EQ(i.sacked, 0u);
  EXPECT_EQ(i.lost, 0u);
  EXPECT_EQ(i.unacked, 0u);
}

TEST(TcpSack, TheRetransmissionTimerResendsOnlyWhatThePeerDoesNotHold) {
  TcpHarness h;
  rfc6675_only(h);
  int fd = send_segments(h, 6);
  // Segments 0 and 3 are missing. 0 has four SACKed segments above it and is resent at once; 3 has
  // two, and is not lost yet. Then nothing more comes, and the RTO fires.
  h.inject(sack_ack(seg(h, 0), {{seg(h, 4), seg(h, 6)}, {seg(h, 1), seg(h, 3)}}));
  Seg fast = h.expect_tx(kTcpAck);
  EXPECT_EQ(fast.seq, seg(h, 0));
  h.expect_no_tx();
  h.advance(std::chrono::microseconds(info(h, fd).rto_us) + 1ms);
  std::vector<uint32_t> resent;
  while (auto s = h.next_tx()) resent.push_back(s->seq);
  ASSERT_FALSE(resent.empty());
  EXPECT_EQ(resent.front(), seg(h, 0));
  EXPECT_EQ(info(h, fd).ca_state, CaState::kLoss);
  EXPECT_EQ(info(h, fd).sacked, 4u);
  // The head arrives; slow start resends the remaining hole and skips every SACKed segment.
  h.inject(sack_ack(seg(h, 1), {{seg(h, 4), seg(h, 6)}}));
  while (auto s = h.next_tx()) resent.push_back(s->seq);
  for (uint32_t s : resent) {
    EXPECT_NE(s, seg(h, 1));
    EXPECT_NE(s, seg(h, 2));
    EXPECT_NE(s, seg(h, 4));
    EXPECT_NE(s, seg(h, 5));
  }
  EXPECT_EQ(resent.back(), seg(h, 3));
  h.inject(Out{kTcpAck, kP, seg(h, 6)});
  EXPECT_EQ(info(h, fd).ca_state, CaState::kOpen);
  EXPECT_EQ(info(h, fd).unacked, 0u);
}

TEST(TcpSack, APeerThatRenegesGetsEverythingAgainAfterTheTimeout) {
  // The peer SACKs segments 1-3, then ACKs segment 0 only and drops what it had SACKed (RFC 2018 §8
  // allows it). At the RTO the SACKed segment at snd_una tells: every mark is forgotten.
  TcpHarness h;
  rfc6675_only(h);
  int fd = send_segments(h, 4);
  h.inject(sack_ack(seg(h, 0), {{seg(h, 1), seg(h, 4)}}));
  EXPECT_EQ(h.expect_tx(kTcpAck).seq, seg(h, 0));
  h.inject(Out{kTcpAck, kP, seg(h, 1)});
  EXPECT_EQ(info(h, fd).sacked, 3u);
  h.advance(std::chrono::microseconds(info(h, fd).rto_us) + 1ms);
  Seg r = h.expect_tx(kTcpAck);
  EXPECT_EQ(r.seq, seg(h, 1));
  TcpInfo i = info(h, fd);
  EXPECT_EQ(i.sacked, 0u);
  EXPECT_EQ(i.lost, 3u);
  // The peer takes them one at a time now.
  h.inject(Out{kTcpAck, kP, seg(h, 2)});
  std::vector<uint32_t> resent;
  while (auto s = h.next_tx()) resent.push_back(s->seq);
  EXPECT_EQ(resent, (std::vector<uint32_t>{seg(h, 2), seg(h, 3)}));
}

TEST(TcpSack, ASackBlockSplitsATsoSkbAtSegmentBoundaries) {
  // With TSO the window goes out as one skb of eight segments. A block covering segments 2-4 and part
  // of 5 marks exactly those three: the skb is split where segments begin, the part of 5 stays unmarked.
  TcpHarness h;
  rfc6675_only(h);
  h.dev->enable_tso();
  int fd = h.connect_established(5000, false, 65535, true);
  std::string d(8 * kMss, 'z');
  ASSERT_TRUE(h.api().send(fd, sv_bytes(d)));
  Seg all = h.expect_tx(kTcpAck | kTcpPsh);
  EXPECT_EQ(all.payload.size(), 8 * kMss);
  h.expect_no_tx();
  h.inject(sack_ack(seg(h, 0), {{seg(h, 2), seg(h, 5) + 100}}));
  // Three SACKed above segments 0 and 1: both lost, the first resent at once as one segment.
  Seg r = h.expect_tx(kTcpAck);
  EXPECT_EQ(r.seq, seg(h, 0));
  EXPECT_EQ(r.payload.size(), kMss);
  TcpInfo i = info(h, fd);
  EXPECT_EQ(i.unacked, 8u);
  EXPECT_EQ(i.sacked, 3u);
  EXPECT_EQ(i.lost, 2u);
  EXPECT_EQ(i.ca_state, CaState::kRecovery);
  h.inject(Out{kTcpAck, kP, seg(h, 8)});
  i = info(h, fd);
  EXPECT_EQ(i.unacked, 0u);
  EXPECT_EQ(i.sacked, 0u);
  EXPECT_EQ(i.lost, 0u);
  EXPECT_EQ(i.ca_state, CaState::kOpen);
}

TEST(TcpSack, MalformedBlocksAreDiscardedAndCountedAndADsackMarksNothing) {
  TcpHarness h;
  rfc6675_only(h);
  int fd = send_segments(h, 4);
  uint64_t before = h.stack.tcp().stats().sack_discard;
  h.inject(sack_ack(seg(h, 0), {{seg(h, 2), seg(h, 9)}}));  // beyond snd_nxt
  h.inject(sack_ack(seg(h, 0), {{seg(h, 3), seg(h, 1)}}));  // end before start
  h.inject(sack_ack(seg(h, 0), {{seg(h, 1) + 0x40000000u, seg(h, 1) + 0x40000100u}}));
  EXPECT_EQ(h.stack.tcp().stats().sack_discard - before, 3u);
  TcpInfo i = info(h, fd);
  EXPECT_EQ(i.sacked, 0u);
  EXPECT_EQ(i.lost, 0u);
  EXPECT_EQ(i.ca_state, CaState::kOpen);
  // Below the ACK: a D-SACK (RFC 2883), which reports a duplicate; it is no error and marks nothing.
  // The block after it still counts.
  h.inject(sack_ack(seg(h, 0), {{seg(h, 0) - 3000, seg(h, 0) - 1000}, {seg(h, 2), seg(h, 3)}}));
  EXPECT_EQ(h.stack.tcp().stats().sack_discard - before, 3u);
  EXPECT_EQ(info(h, fd).sacked, 1u);
  EXPECT_EQ(info(h, fd).ca_state, CaState::kDisorder);
  h.expect_no_tx();
  h.inject(Out{kTcpAck, kP, seg(h, 4)});
  i = info(h, fd);
  EXPECT_EQ(i.unacked, 0u);
  EXPECT_EQ(i.sacked, 0u);
  EXPECT_EQ(i.ca_state, CaState::kOpen);
}

TEST(TcpSack, BlocksInAnyOrderMarkTheSameSegments) {
  // Peers send the newest block first (RFC 2018 §4); the walk sorts them and marks each once.
  TcpHarness h;
  rfc6675_only(h);
  int fd = send_segments(h, 10);
  h.inject(sack_ack(seg(h, 0), {{seg(h, 8), seg(h, 10)}, {seg(h, 2), seg(h, 3)}, {seg(h, 5), seg(h, 7)}}));
  TcpInfo i = info(h, fd);
  EXPECT_EQ(i.sacked, 5u);
  // Segments 0 and 1 have five SACKed above, 3 and 4 have four, 7 has two: four are lost.
  EXPECT_EQ(i.lost, 4u);
  EXPECT_EQ(h.expect_tx(kTcpAck).seq, seg(h, 0));
}

// Proportional Rate Reduction (RFC 6937): one loss in a window of 20. The first two SACKs each let a
// new segment out (limited transmit, RFC 3042); the third starts recovery, which halves cwnd to 10
// while the pipe is 19. Without PRR nothing new goes out until nine more segments have left the
// network; with it, one goes out for every two delivered from the start, so the ACK clock keeps running
// through recovery, and recovery ends with cwnd at ssthresh.
// Returns the SACK (counting from the first duplicate) after which each new segment went out.
std::vector<int> new_data_during_recovery(bool prr) {
  TcpHarness h;
  rfc6675_only(h);
  h.stack.tcp().sysctl().tcp_prr = prr;
  int fd = send_segments(h, 10);
  h.inject(Out{kTcpAck, kP, seg(h, 10)});  // slow start: cwnd 10 -> 20
  EXPECT_EQ(info(h, fd).snd_cwnd, 20u);
  std::string d(size_t(30) * kMss, 'y');
  EXPECT_TRUE(h.api().send(fd, sv_bytes(d)));
  for (uint32_t i = 10; i < 30; ++i) EXPECT_EQ(h.next_tx()->seq, seg(h, i));
  h.expect_no_tx();
  // Segment 10 is lost; 11, 12, ... arrive and are SACKed one by one.
  std::vector<int> sent_after;
  for (int n = 1; n <= 16; ++n) {
    h.inject(sack_ack(seg(h, 10), {{seg(h, 11), seg(h, 11 + uint32_t(n))}}));
    while (auto s = h.next_tx()) {
      if (s->seq == seg(h, 10)) {
        EXPECT_EQ(n, 3);  // the fast retransmission, on the third
        continue;
      }
      sent_after.push_back(n);
    }
  }
  TcpInfo i = info(h, fd);
  EXPECT_EQ(i.ca_state, CaState::kRecovery);
  EXPECT_EQ(i.snd_ssthresh, 10u);
  uint32_t end = seg(h, 30) + uint32_t(sent_after.size()) * kMss;
  h.inject(Out{kTcpAck, kP, end});
  i = info(h, fd);
  EXPECT_EQ(i.ca_state, CaState::kOpen);
  EXPECT_EQ(i.snd_cwnd, prr ? 10u : 2u);  // PRR: ssthresh; RFC 6582: no more than the pipe and one
  return sent_after;
}

TEST(TcpSack, ProportionalRateReductionSendsThroughoutRecovery) {
  // PRR: what went out since recovery began (the retransmission included) is kept at
  // ceil(10/20 * delivered): one new segment after every second SACK, the pipe staying above ssthresh.
  EXPECT_EQ(new_data_during_recovery(true), (std::vector<int>{1, 2, 5, 7, 9, 11, 13, 15}));
  // RFC 6675 alone: cwnd is 10 at once, and nothing goes out until the pipe (19, one less per SACK) is
  // under it; then one per SACK.
  EXPECT_EQ(new_data_during_recovery(false), (std::vector<int>{1, 2, 13, 14, 15, 16}));
}

TEST(TcpSack, AHoleFilledLateIsReorderingAndRaisesTheDuplicateThreshold) {
  // tcp_check_sack_reordering: a segment never sent again that is delivered below the highest SACKed
  // one was reordered, not lost; `reordering` (dupthresh) grows to the distance, so the next holes
  // wait for that many SACKed segments above them before they count as lost.
  TcpHarness h;
  rfc6675_only(h);
  int fd = send_segments(h, 10);
  h.inject(sack_ack(seg(h, 0), {{seg(h, 7), seg(h, 8)}}));
  EXPECT_EQ(info(h, fd).reordering, 3u);
  // Segment 3 arrives after 7: five segments of reordering.
  h.inject(sack_ack(seg(h, 0), {{seg(h, 3), seg(h, 4)}, {seg(h, 7), seg(h, 8)}}));
  EXPECT_EQ(info(h, fd).reordering, 5u);
  EXPECT_EQ(h.tcp().stats().sack_reorder, 1u);
  // Four SACKed above segment 0: lost at the default threshold of 3, not at 5.
  h.inject(sack_ack(seg(h, 0), {{seg(h, 3), seg(h, 4)}, {seg(h, 7), seg(h, 10)}}));
  h.expect_no_tx();
  TcpInfo i = info(h, fd);
  EXPECT_EQ(i.ca_state, CaState::kDisorder);
  EXPECT_EQ(i.lost, 0u);
  // The cumulative ACK fills 0-2, never resent and below the SACKed data: reordering by ten.
  h.inject(sack_ack(seg(h, 4), {{seg(h, 7), seg(h, 10)}}));
  i = info(h, fd);
  EXPECT_EQ(i.reordering, 10u);
  EXPECT_EQ(h.tcp().stats().sack_reorder, 2u);
  EXPECT_EQ(i.total_retrans, 0u);
  h.inject(Out{kTcpAck, kP, seg(h, 10)});
  EXPECT_EQ(info(h, fd).ca_state, CaState::kOpen);
  h.advance(2s);
  EXPECT_EQ(info(h, fd).total_retrans, 0u);  // nothing was lost: nothing went out twice
}

// A recovery for a segment that was only late: the peer reports the retransmission as a duplicate
// (D-SACK, RFC 2883) and the recovery is undone at once (tcp_try_undo_dsack): cwnd and ssthresh come
// back to what they were. Without the D-SACK the reduction stands.
TcpInfo late_segment_recovery(bool dsack) {
  TcpHarness h;
  rfc6675_only(h);
  int fd = h.connect_established(5000, false, 65535, true);
  EXPECT_TRUE(h.api().setsockopt_int(fd, kSolTcp, kTcpNoDelay, 1));
  std::string d(size_t(20) * kMss, 'z');
  EXPECT_TRUE(h.api().send(fd, sv_bytes(d)));  // 10 go out (cwnd), 10 wait
  for (int i = 0; i < 10; ++i) EXPECT_EQ(h.next_tx()->seq, seg(h, uint32_t(i)));
  for (uint32_t n = 2; n <= 4; ++n) h.inject(sack_ack(seg(h, 0), {{seg(h, 1), seg(h, n)}}));
  EXPECT_EQ(info(h, fd).ca_state, CaState::kRecovery);
  EXPECT_EQ(info(h, fd).snd_ssthresh, 5u);
  bool resent = false;
  while (auto s = h.next_tx()) resent = resent || s->seq == seg(h, 0);
  EXPECT_TRUE(resent);
  // The original segment 0 arrives, then the copy: the peer acknowledges 0-3, then reports 0 twice.
  h.inject(sack_ack(seg(h, 4), {}));
  if (dsack) {
    h.inject(sack_ack(seg(h, 4), {{seg(h, 0), seg(h, 1)}}));
    // Undone at once, before the recovery point is acknowledged.
    TcpInfo i = info(h, fd);
    EXPECT_NE(i.ca_state, CaState::kRecovery);
    EXPECT_EQ(i.snd_ssthresh, 0x7fffffffu);
  } else {
    EXPECT_EQ(info(h, fd).ca_state, CaState::kRecovery);
  }
  // Everything sent so far arrives (limited transmit and PRR sent new data past segment 9).
  while (h.next_tx()) {
  }
  h.inject(Out{kTcpAck, kP, info(h, fd).snd_nxt});
  EXPECT_EQ(h.tcp().stats().dsack_recv, dsack ? 1u : 0u);
  EXPECT_EQ(h.tcp().stats().dsack_undo, dsack ? 1u : 0u);
  return info(h, fd);
}

TEST(TcpSack, ADsackForEveryRetransmissionUndoesTheRecovery) {
  TcpInfo undone = late_segment_recovery(true);
  EXPECT_EQ(undone.ca_state, CaState::kOpen);
  EXPECT_EQ(undone.snd_ssthresh, 0x7fffffffu);  // slow start again, as before the recovery
  EXPECT_GE(undone.snd_cwnd, 10u);
  TcpInfo kept = late_segment_recovery(false);
  EXPECT_EQ(kept.ca_state, CaState::kOpen);
  EXPECT_EQ(kept.snd_ssthresh, 5u);
  EXPECT_EQ(kept.snd_cwnd, 5u);
}

}  // namespace
}  // namespace ustack::tcptest
