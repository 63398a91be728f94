// Data transfer, segment by segment, in virtual time: segmentation and PSH, the receive window, in-order
// and out-of-order receive with SACK, fast retransmit and NewReno (RFC 5681, RFC 6582), Nagle, delayed
// ACKs, zero windows both ways and PAWS (RFC 7323), each checked against what Linux does. Timeouts,
// keepalive and TCP_INFO are in tcp_timers_test.cc.
#include <gtest/gtest.h>

#include <cmath>

#include "support/tcp_harness.h"

namespace ustack::tcptest {
namespace {

using namespace wire;

constexpr uint32_t kPeerIss = 5000;
constexpr uint32_t kP = kPeerIss + 1;  // the peer's first data byte

struct PeerOpts {
  bool sack = false;
  bool ts = false;
  std::optional<uint8_t> wscale;
  uint16_t win = 65535;
};

// Completes the active open of `fd` (a fresh non-blocking socket) with a SYN-ACK offering `o`.
// Returns our handshake ACK.
Seg open_with(TcpHarness& h, int fd, const PeerOpts& o) {
  EXPECT_EQ(h.api().connect(fd, SockAddrIn{kPeer, h.peer_port}).error(), Errc::kInProgress);
  Seg syn = h.expect_tx(kTcpSyn);
  h.our_port = syn.sport;
  h.iss = syn.seq;
  Out sa{kTcpSyn | kTcpAck, kPeerIss, syn.seq + 1, o.win, 1460};
  sa.sack_ok = o.sack;
  if (o.ts) sa.ts = std::make_pair(100u, syn.opt.tsval);
  sa.wscale = o.wscale;
  h.inject(sa);
  Seg ack = h.expect_tx(kTcpAck);
  EXPECT_EQ(ack.ack, kP);
  return ack;
}

PeerOpts opts_ts() {
  PeerOpts o;
  o.ts = true;
  return o;
}
PeerOpts opts_sack() {
  PeerOpts o;
  o.sack = true;
  return o;
}
PeerOpts opts_wscale(uint8_t ws) {
  PeerOpts o;
  o.wscale = ws;
  return o;
}

int establish(TcpHarness& h, const PeerOpts& o) {
  int fd = *h.api().socket(kAfInet, kSockStream | kSockNonblock);
  open_with(h, fd, o);
  return fd;
}

// Data from the peer at `seq`, acknowledging all we sent.
Out data(TcpHarness& h, uint32_t seq, size_t len, char c = 'd') {
  return Out{kTcpAck | kTcpPsh, seq, h.iss + 1}.with_payload(std::string(len, c));
}

// Virtual seconds since `t0`, rounded to the millisecond.
double at(const TcpHarness& h, TimePoint t0) {
  return std::round(to_seconds(h.clock.now() - t0) * 1000) / 1000;
}

TEST(TcpData, SendCutsSegmentsOfTheMssWithPshOnTheLast) {
  TcpHarness h;
  int fd = h.connect_established();
  std::string d(4000, 'a');
  ASSERT_EQ(*h.api().send(fd, sv_bytes(d)), 4000u);
  Seg a = h.expect_tx(kTcpAck);
  Seg b = h.expect_tx(kTcpAck);
  Seg c = h.expect_tx(kTcpAck | kTcpPsh);
  h.expect_no_tx();
  EXPECT_EQ(a.seq, h.iss + 1);
  EXPECT_EQ(b.seq, h.iss + 1 + 1460);
  EXPECT_EQ(c.seq, h.iss + 1 + 2920);
  EXPECT_EQ(a.payload.size(), 1460u);
  EXPECT_EQ(b.payload.size(), 1460u);
  EXPECT_EQ(c.payload.size(), 1080u);
  for (const Seg& s : {a, b, c}) {
    EXPECT_EQ(s.ack, kP);
    EXPECT_EQ(s.win, 64240);  // no window scaling: whole segments of 65535
    EXPECT_FALSE(s.opt.ts);
  }
}

// tcp_may_update_window, Linux's rule: a segment later in sequence or acknowledging new data sets the
// peer's window; one at the same sequence and acknowledgment may open it or close it to zero, but not
// narrow it (an old segment reordered behind a newer one must not shrink the window).
TEST(TcpData, ASegmentAtTheSameSequenceMayOpenOrCloseTheWindowButNotNarrowIt) {
  TcpHarness h;
  int fd = h.connect_established();
  const unsigned scale = info(h, fd).snd_wscale;
  h.inject(Out{kTcpAck, kP, h.iss + 1, 40000});  // later than the SYN-ACK: taken
  EXPECT_EQ(info(h, fd).snd_wnd, 40000u << scale);
  h.inject(Out{kTcpAck, kP, h.iss + 1, 20000});
  EXPECT_EQ(info(h, fd).snd_wnd, 40000u << scale);
  h.inject(Out{kTcpAck, kP, h.iss + 1, 50000});
  EXPECT_EQ(info(h, fd).snd_wnd, 50000u << scale);
  h.inject(Out{kTcpAck, kP, h.iss + 1, 0});
  EXPECT_EQ(info(h, fd).snd_wnd, 0u);
  ASSERT_TRUE(h.api().send(fd, sv_bytes("abc")));
  h.expect_no_tx();  // the window is closed
  h.inject(Out{kTcpAck, kP, h.iss + 1, 1000});
  EXPECT_EQ(h.expect_tx(kTcpAck | kTcpPsh).payload.size(), 3u);
  // Data from the peer (later in sequence) sets the window whatever it is.
  h.inject(Out{kTcpAck | kTcpPsh, kP, h.iss + 4, 300}.with_payload("x"));
  EXPECT_EQ(info(h, fd).snd_wnd, 300u << scale);
}

TEST(TcpData, TimestampsTakeTwelveBytesOfEachSegment) {
  TcpHarness h;
  int fd = establish(h, opts_ts());
  std::string d(3000, 'a');
  ASSERT_TRUE(h.api().send(fd, sv_bytes(d)));
  Seg a = h.expect_tx(kTcpAck);
  Seg b = h.expect_tx(kTcpAck);
  Seg c = h.expect_tx(kTcpAck | kTcpPsh);
  EXPECT_EQ(a.payload.size(), 1448u);
  EXPECT_EQ(b.payload.size(), 1448u);
  EXPECT_EQ(c.payload.size(), 104u);
  EXPECT_TRUE(a.opt.ts);
  EXPECT_EQ(a.opt.tsecr, 100u);
}

TEST(TcpData, ReceiveWindowIsScaledAndItsRightEdgeNeverMovesLeft) {
  TcpHarness h;
  int fd = *h.api().socket(kAfInet, kSockStream | kSockNonblock);
  Seg hs = open_with(h, fd, opts_wscale(2));
  // SO_RCVBUF's default here is 1 MiB; our SYN offered wscale 7, so the window field counts 128 bytes.
  EXPECT_EQ(hs.win, (1u << 20) >> 7);
  h.inject(data(h, kP, 1000));
  Seg a = h.expect_tx(kTcpAck);
  EXPECT_EQ(a.ack, kP + 1000);
  // The free space, rounded up to the scale unit (__tcp_select_window's ALIGN).
  EXPECT_EQ(a.win, ((1u << 20) - 1000 + 127) >> 7);
  // The application shrinks its buffer: the window offered is kept (RFC 9293 §3.8.6.2.2, Linux
  // tcp_shrink_window = 0), only consumed by the data that arrives.
  ASSERT_TRUE(h.api().setsockopt_int(fd, kSolSocket, kSoRcvBuf, 4096));
  h.inject(data(h, kP + 1000, 100));
  Seg b = h.expect_tx(kTcpAck);
  EXPECT_EQ(b.ack, kP + 1100);
  EXPECT_FALSE(before(b.ack + (uint32_t{b.win} << 7), a.ack + (uint32_t{a.win} << 7)));
  EXPECT_EQ(b.win, a.win);
  // The peer's window is scaled by the 2 it announced.
  EXPECT_EQ(info(h, fd).snd_wnd, 65535u << 2);
}

TEST(TcpData, OutOfOrderDataGetsAnImmediateAckWithSackBlocks) {
  TcpHarness h;
  int fd = establish(h, opts_sack());
  h.inject(data(h, kP, 100, 'A'));
  Seg a = h.expect_tx(kTcpAck);
  EXPECT_EQ(a.ack, kP + 100);
  EXPECT_EQ(a.opt.num_sacks, 0);
  // A hole at [100, 200): every segment above it is acknowledged at once with the blocks it holds, the
  // block of the segment just received first (RFC 2018 §4).
  h.inject(data(h, kP + 200, 100, 'C'));
  Seg c = h.expect_tx(kTcpAck);
  EXPECT_EQ(c.ack, kP + 100);
  ASSERT_EQ(c.opt.num_sacks, 1);
  EXPECT_EQ(c.opt.sacks[0].start, kP + 200);
  EXPECT_EQ(c.opt.sacks[0].end, kP + 300);
  h.inject(data(h, kP + 400, 100, 'E'));
  Seg e = h.expect_tx(kTcpAck);
  EXPECT_EQ(e.ack, kP + 100);
  ASSERT_EQ(e.opt.num_sacks, 2);
  EXPECT_EQ(e.opt.sacks[0].start, kP + 400);
  EXPECT_EQ(e.opt.sacks[0].end, kP + 500);
  EXPECT_EQ(e.opt.sacks[1].start, kP + 200);
  EXPECT_EQ(e.opt.sacks[1].end, kP + 300);
  h.inject(data(h, kP + 300, 100, 'D'));
  Seg d = h.expect_tx(kTcpAck);
  EXPECT_EQ(d.ack, kP + 100);
  ASSERT_EQ(d.opt.num_sacks, 1);
  EXPECT_EQ(d.opt.sacks[0].start, kP + 200);
  EXPECT_EQ(d.opt.sacks[0].end, kP + 500);
  // The hole fills: everything is acknowledged at once, no SACK left.
  h.inject(data(h, kP + 100, 100, 'B'));
  Seg b = h.expect_tx(kTcpAck);
  EXPECT_EQ(b.ack, kP + 500);
  EXPECT_EQ(b.opt.num_sacks, 0);
  h.expect_no_tx();
  std::array<std::byte, 600> buf{};
  ASSERT_EQ(*h.api().recv(fd, buf), 500u);
  std::string got(reinterpret_cast<const char*>(buf.data()), 500);
  std::string want;
  for (char c : {'A', 'B', 'C', 'D', 'E'}) want.append(100, c);
  EXPECT_EQ(got, want);
}

TEST(TcpData, SackBlocksRepeatTheMostRecentFirstAndDuplicatesGetADsackBlock) {
  TcpHarness h;
  (void)establish(h, opts_sack());
  h.inject(data(h, kP, 100));
  (void)h.expect_tx(kTcpAck);
  auto blocks = [](const Seg& s) {
    std::vector<std::pair<uint32_t, uint32_t>> v;
    for (size_t i = 0; i < s.opt.num_sacks; ++i)
      v.emplace_back(s.opt.sacks[i].start - kP, s.opt.sacks[i].end - kP);
    return v;
  };
  using V = std::vector<std::pair<uint32_t, uint32_t>>;
  h.inject(data(h, kP + 200, 100));
  EXPECT_EQ(blocks(h.expect_tx(kTcpAck)), (V{{200, 300}}));
  h.inject(data(h, kP + 600, 100));
  EXPECT_EQ(blocks(h.expect_tx(kTcpAck)), (V{{600, 700}, {200, 300}}));
  // RFC 2018 §4: the newest block first, then the ones most recently reported, not sequence order.
  h.inject(data(h, kP + 400, 100));
  EXPECT_EQ(blocks(h.expect_tx(kTcpAck)), (V{{400, 500}, {600, 700}, {200, 300}}));
  // RFC 2883: a segment that repeats [450, 500) we hold reports that first, then the block holding it.
  h.inject(data(h, kP + 450, 100));
  EXPECT_EQ(blocks(h.expect_tx(kTcpAck)), (V{{450, 500}, {400, 550}, {600, 700}, {200, 300}}));
  // The D-SACK block goes out once.
  h.inject(data(h, kP + 800, 100));
  EXPECT_EQ(blocks(h.expect_tx(kTcpAck)), (V{{800, 900}, {400, 550}, {600, 700}, {200, 300}}));
  // Data below rcv_nxt again: reported as a duplicate though nothing is out of order any more.
  h.inject(data(h, kP + 100, 800));
  Seg all = h.expect_tx(kTcpAck);
  EXPECT_EQ(all.ack, kP + 900);
  EXPECT_EQ(blocks(all), (V{{200, 300}}));
  h.inject(data(h, kP + 0, 100));
  EXPECT_EQ(blocks(h.expect_tx(kTcpAck)), (V{{0, 100}}));
}

TEST(TcpData, NullBufferWithALengthIsEfault) {
  TcpHarness h;
  int fd = h.connect_established();
  const std::byte* none = nullptr;
  EXPECT_EQ(h.api().send(fd, std::span<const std::byte>(none, size_t{1000})).error(), Errc::kFault);
  EXPECT_EQ(h.api()
                .sendto(fd, std::span<const std::byte>(none, size_t{1000}), 0, SockAddrIn{kPeer, h.peer_port})
                .error(),
            Errc::kFault);
  h.expect_no_tx();
  h.inject(data(h, kP, 100));
  (void)h.next_tx();
  std::byte* out = nullptr;
  EXPECT_EQ(h.api().recv(fd, std::span<std::byte>(out, size_t{1000})).error(), Errc::kFault);
  // Nothing was consumed; an empty buffer is no fault.
  EXPECT_EQ(*h.api().send(fd, std::span<const std::byte>()), 0u);
  std::array<std::byte, 200> buf{};
  EXPECT_EQ(*h.api().recv(fd, buf), 100u);
}

TEST(TcpData, OutOfOrderWithoutSackGetsAPlainDuplicateAck) {
  TcpHarness h;
  int fd = h.connect_established();
  h.inject(data(h, kP + 100, 100));
  Seg a = h.expect_tx(kTcpAck);
  EXPECT_EQ(a.ack, kP);
  EXPECT_EQ(a.opt.num_sacks, 0);
  std::array<std::byte, 300> buf{};
  EXPECT_EQ(h.api().recv(fd, buf).error(), Errc::kAgain);
  h.inject(data(h, kP, 100));
  EXPECT_EQ(h.expect_tx(kTcpAck).ack, kP + 200);
  EXPECT_EQ(*h.api().recv(fd, buf), 200u);
}

TEST(TcpData, AnAckAfterDuplicatesCountsTheDuplicatedSegmentsAsDeliveredAlready) {
  // Limited transmit (RFC 3042) then reordering: two duplicate ACKs, then an ACK for three segments.
  // Two of them were already counted by the duplicates, so slow start grows by one (Linux's
  // tcp_remove_reno_sacks) and the second ACK's segment still counts as out of the network.
  TcpHarness h;
  int fd = h.connect_established();
  std::string d(12 * 1460, 'z');
  ASSERT_TRUE(h.api().send(fd, sv_bytes(d)));
  uint32_t b = h.iss + 1;
  for (int i = 0; i < 10; ++i) EXPECT_EQ(h.next_tx()->seq, b + 1460u * uint32_t(i));
  h.expect_no_tx();
  h.inject(Out{kTcpAck, kP, b});
  EXPECT_EQ(h.expect_tx(kTcpAck).seq, b + 10 * 1460);  // limited transmit
  h.inject(Out{kTcpAck, kP, b});
  EXPECT_EQ(h.next_tx()->seq, b + 11 * 1460);
  h.expect_no_tx();
  EXPECT_EQ(info(h, fd).ca_state, CaState::kDisorder);
  h.inject(Out{kTcpAck, kP, b + 3 * 1460});
  EXPECT_EQ(info(h, fd).snd_cwnd, 11u);
  h.inject(Out{kTcpAck, kP, b + 4 * 1460});
  EXPECT_EQ(info(h, fd).snd_cwnd, 12u);
  EXPECT_EQ(info(h, fd).ca_state, CaState::kOpen);
}

TEST(TcpData, SlowStartGrowsOnlyWhileCwndIsUnderTwiceWhatWasOut) {
  // An application that keeps 5 segments out never needs a cwnd above 10 (Linux's tcp_is_cwnd_limited;
  // RFC 7661's concern with growing a window that is not used).
  TcpHarness h;
  int fd = h.connect_established();
  std::string d(5 * 1460, 'z');
  ASSERT_TRUE(h.api().send(fd, sv_bytes(d)));
  uint32_t b = h.iss + 1;
  for (int i = 0; i < 5; ++i) (void)h.next_tx();
  h.inject(Out{kTcpAck, kP, b + 2 * 1460});
  h.inject(Out{kTcpAck, kP, b + 4 * 1460});
  h.inject(Out{kTcpAck, kP, b + 5 * 1460});
  EXPECT_EQ(info(h, fd).snd_cwnd, 10u);
  // Eight out: the window grows to twice that.
  std::string e(8 * 1460, 'y');
  ASSERT_TRUE(h.api().send(fd, sv_bytes(e)));
  for (int i = 0; i < 8; ++i) (void)h.next_tx();
  for (int i = 1; i <= 8; ++i) h.inject(Out{kTcpAck, kP, b + uint32_t(5 + i) * 1460});
  EXPECT_EQ(info(h, fd).snd_cwnd, 16u);
}

TEST(TcpData, ThirdDuplicateAckTriggersFastRetransmitAndPartialAckTheNextHole) {
  TcpHarness h;
  int fd = h.connect_established();
  std::string d(5 * 1460, 'z');
  ASSERT_TRUE(h.api().send(fd, sv_bytes(d)));
  uint32_t b = h.iss + 1;
  for (int i = 0; i < 5; ++i) EXPECT_EQ(h.next_tx()->seq, b + 1460u * uint32_t(i));
  h.expect_no_tx();
  h.inject(Out{kTcpAck, kP, b + 1460});  // the first arrived, the second was lost
  h.inject(Out{kTcpAck, kP, b + 1460});
  h.inject(Out{kTcpAck, kP, b + 1460});
  h.expect_no_tx();
  EXPECT_EQ(info(h, fd).ca_state, CaState::kDisorder);
  h.inject(Out{kTcpAck, kP, b + 1460});  // the third duplicate
  Seg r = h.expect_tx(kTcpAck);
  EXPECT_EQ(r.seq, b + 1460);
  EXPECT_EQ(r.payload.size(), 1460u);
  h.expect_no_tx();
  TcpInfo i = info(h, fd);
  EXPECT_EQ(i.ca_state, CaState::kRecovery);
  EXPECT_EQ(i.snd_ssthresh, 5u);  // half the congestion window
  EXPECT_EQ(i.total_retrans, 1u);
  // A partial ACK (RFC 6582 §3.2 step 4): the next hole is resent at once, recovery goes on.
  h.inject(Out{kTcpAck, kP, b + 2920});
  Seg r2 = h.expect_tx(kTcpAck);
  EXPECT_EQ(r2.seq, b + 2920);
  EXPECT_EQ(info(h, fd).ca_state, CaState::kRecovery);
  // The full ACK: everything is acknowledged, nothing more is resent.
  h.inject(Out{kTcpAck, kP, b + 5 * 1460});
  i = info(h, fd);
  EXPECT_EQ(i.total_retrans, 2u);
  EXPECT_EQ(i.unacked, 0u);
  h.advance(2s);
  h.expect_no_tx();
}

TEST(TcpData, PshEndsEachWriteAndMsgEorEndsTheSegment) {
  // Three writes queued behind a full window: PSH where each write ends, a later write that continues
  // a segment takes its PSH away, MSG_EOR keeps the next write out of the record's last segment.
  TcpHarness h;
  int fd = h.connect_established();
  ASSERT_TRUE(h.api().setsockopt_int(fd, kSolTcp, kTcpNoDelay, 1));
  std::string full(10 * 1460, 'a');
  ASSERT_TRUE(h.api().send(fd, sv_bytes(full)));
  for (int i = 0; i < 10; ++i) (void)h.next_tx();
  ASSERT_TRUE(h.api().send(fd, sv_bytes(std::string(100, 'b'))));
  ASSERT_TRUE(h.api().send(fd, sv_bytes(std::string(100, 'c')), kMsgEor));
  ASSERT_TRUE(h.api().send(fd, sv_bytes(std::string(100, 'd'))));
  h.expect_no_tx();
  uint32_t b = h.iss + 1 + 10 * 1460;
  h.inject(Out{kTcpAck, kP, b});
  Seg x = h.expect_tx(kTcpAck | kTcpPsh);
  Seg y = h.expect_tx(kTcpAck | kTcpPsh);
  h.expect_no_tx();
  EXPECT_EQ(x.seq, b);
  EXPECT_EQ(x.payload.size(), 200u);  // 'b' and 'c' in one segment, the record ends there
  EXPECT_EQ(y.seq, b + 200);
  EXPECT_EQ(y.payload.size(), 100u);
}

TEST(TcpData, NagleHoldsASmallSegmentWhileAnotherIsUnackedAndNodelaySendsAtOnce) {
  TcpHarness h;
  int fd = h.connect_established();
  ASSERT_TRUE(h.api().send(fd, sv_bytes("a")));
  EXPECT_EQ(h.expect_tx(kTcpAck | kTcpPsh).payload.size(), 1u);
  ASSERT_TRUE(h.api().send(fd, sv_bytes("b")));
  ASSERT_TRUE(h.api().send(fd, sv_bytes("c")));
  h.expect_no_tx();
  h.inject(Out{kTcpAck, kP, h.iss + 2});
  Seg bc = h.expect_tx(kTcpAck | kTcpPsh);
  EXPECT_EQ(bc.seq, h.iss + 2);
  EXPECT_EQ(bc.payload.size(), 2u);
  // A full segment is never held.
  std::string full(1460, 'f');
  ASSERT_TRUE(h.api().send(fd, sv_bytes(full)));
  EXPECT_EQ(h.expect_tx(kTcpAck | kTcpPsh).payload.size(), 1460u);
  // TCP_NODELAY: small segments go at once, whatever is in flight.
  ASSERT_TRUE(h.api().setsockopt_int(fd, kSolTcp, kTcpNoDelay, 1));
  ASSERT_TRUE(h.api().send(fd, sv_bytes("d")));
  EXPECT_EQ(h.expect_tx(kTcpAck | kTcpPsh).seq, h.iss + 4 + 1460);
  ASSERT_TRUE(h.api().send(fd, sv_bytes("e")));
  EXPECT_EQ(h.expect_tx(kTcpAck | kTcpPsh).seq, h.iss + 5 + 1460);
}

TEST(TcpData, SettingNodelayPushesWhatNagleHeld) {
  TcpHarness h;
  int fd = h.connect_established();
  ASSERT_TRUE(h.api().send(fd, sv_bytes("a")));
  h.expect_tx(kTcpAck | kTcpPsh);
  ASSERT_TRUE(h.api().send(fd, sv_bytes("b")));
  h.expect_no_tx();
  ASSERT_TRUE(h.api().setsockopt_int(fd, kSolTcp, kTcpNoDelay, 1));
  EXPECT_EQ(h.expect_tx(kTcpAck | kTcpPsh).seq, h.iss + 2);
}

TEST(TcpData, DelayedAckAfterQuickAckMode) {
  TcpHarness h;
  h.connect_established();
  // The first data initialises the delayed-ACK engine in quick-ack mode: 16 segments
  // (TCP_MAX_QUICKACKS) are acknowledged at once.
  uint32_t seq = kP;
  for (int i = 0; i < 16; ++i) {
    h.inject(data(h, seq, 100));
    seq += 100;
    Seg a = h.expect_tx(kTcpAck);
    EXPECT_EQ(a.ack, seq) << i;
  }
  // Then one small segment waits for the delayed-ACK timer: 40 ms (TCP_DELACK_MIN).
  h.inject(data(h, seq, 100));
  seq += 100;
  h.expect_no_tx();
  h.advance(39ms);
  h.expect_no_tx();
  h.advance(1ms);
  EXPECT_EQ(h.expect_tx(kTcpAck).ack, seq);
  // Again later: still 40 ms, as the smoothed RTT bounds the ACK delay (tcp_send_delayed_ack).
  h.advance(100ms);
  h.inject(data(h, seq, 100));
  seq += 100;
  h.advance(39ms);
  h.expect_no_tx();
  h.advance(1ms);
  EXPECT_EQ(h.expect_tx(kTcpAck).ack, seq);
  // One full segment waits; a second one is acknowledged at once with the first.
  h.advance(10ms);
  h.inject(data(h, seq, 1460));
  h.expect_no_tx();
  h.inject(data(h, seq + 1460, 1460));
  EXPECT_EQ(h.expect_tx(kTcpAck).ack, seq + 2920);
  h.advance(1s);
  h.expect_no_tx();
}

TEST(TcpData, DataOutgoingCarriesThePendingAck) {
  TcpHarness h;
  int fd = h.connect_established();
  for (int i = 0; i < 16; ++i) {
    h.inject(data(h, kP + 10u * uint32_t(i), 10));
    h.expect_tx(kTcpAck);
  }
  h.inject(data(h, kP + 160, 10));
  h.expect_no_tx();
  ASSERT_TRUE(h.api().send(fd, sv_bytes("reply")));
  Seg r = h.expect_tx(kTcpAck | kTcpPsh);
  EXPECT_EQ(r.ack, kP + 170);
  h.inject(Out{kTcpAck, kP + 170, h.iss + 6});
  h.advance(1s);
  h.expect_no_tx();  // the delayed ACK went with the data
}

TEST(TcpData, ZeroWindowIsProbedWithBackoffAndSendingResumesWhenItOpens) {
  TcpHarness h;
  int fd = h.connect_established(kPeerIss, false, 0);
  ASSERT_EQ(*h.api().send(fd, sv_bytes("hello")), 5u);
  h.expect_no_tx();
  TimePoint t0 = h.clock.now();
  std::vector<double> probes;
  for (int i = 0; i < 2500; ++i) {
    h.advance(1ms);
    while (auto s = h.next_tx()) {
      EXPECT_EQ(s->flags, kTcpAck);
      EXPECT_EQ(s->seq, h.iss);  // snd_una - 1: the peer must answer with its window
      EXPECT_EQ(s->ack, kP);
      EXPECT_TRUE(s->payload.empty());
      probes.push_back(at(h, t0));
      h.inject(Out{kTcpAck, kP, h.iss + 1, 0});  // still closed
    }
  }
  // tcp_probe0_base = the RTO (200 ms and the handshake's RTT of a few microseconds), doubling: 0.2,
  // 0.6, 1.4 s. Each deadline is rounded up to the clock's next millisecond, as jiffies are.
  EXPECT_EQ(probes, (std::vector<double>{0.201, 0.602, 1.403}));
  EXPECT_EQ(h.tcp().stats().zero_window_probes, 3u);
  EXPECT_EQ(info(h, fd).state, TcpState::kEstablished);
  h.inject(Out{kTcpAck, kP, h.iss + 1, 1000});  // the window opens
  Seg d = h.expect_tx(kTcpAck | kTcpPsh);
  EXPECT_EQ(d.seq, h.iss + 1);
  EXPECT_EQ(d.payload.size(), 5u);
  h.inject(Out{kTcpAck, kP, h.iss + 6, 1000});
  h.advance(10s);
  h.expect_no_tx();
}

TEST(TcpData, FullReceiveBufferAdvertisesZeroThenAWindowUpdateAfterTheRead) {
  TcpHarness h;
  int fd = *h.api().socket(kAfInet, kSockStream | kSockNonblock);
  ASSERT_TRUE(h.api().setsockopt_int(fd, kSolSocket, kSoRcvBuf, 2048));  // 4096 once doubled
  EXPECT_EQ(*h.api().getsockopt_int(fd, kSolSocket, kSoRcvBuf), 4096);
  EXPECT_EQ(h.api().connect(fd, SockAddrIn{kPeer, h.peer_port}).error(), Errc::kInProgress);
  Seg syn = h.expect_tx(kTcpSyn);
  EXPECT_EQ(syn.win, 2920);  // 4096 in whole segments
  h.our_port = syn.sport;
  h.iss = syn.seq;
  h.inject(Out{kTcpSyn | kTcpAck, kPeerIss, syn.seq + 1, 65535, 1460});
  EXPECT_EQ(h.expect_tx(kTcpAck).win, 2920);
  h.inject(data(h, kP, 1460));
  Seg a = h.expect_tx(kTcpAck);
  EXPECT_EQ(a.ack, kP + 1460);
  EXPECT_EQ(a.win, 1460);
  // The second waits for the delayed ACK (quick-ack mode gave this small window a single quick ACK).
  h.inject(data(h, kP + 1460, 1460));
  h.expect_no_tx();
  h.advance(40ms);
  Seg z = h.expect_tx(kTcpAck);
  EXPECT_EQ(z.ack, kP + 2920);
  EXPECT_EQ(z.win, 0);  // less than a segment free: zero (receiver SWS avoidance)
  // The peer probes with a byte: dropped (the window is zero), answered with the same ACK.
  h.inject(data(h, kP + 2920, 1, 'p'));
  Seg pa = h.expect_tx(kTcpAck);
  EXPECT_EQ(pa.ack, kP + 2920);
  EXPECT_EQ(pa.win, 0);
  // The application reads: the window reopens, and the peer is told at once.
  std::array<std::byte, 4096> buf{};
  EXPECT_EQ(*h.api().recv(fd, buf), 2920u);
  Seg u = h.expect_tx(kTcpAck);
  EXPECT_EQ(u.ack, kP + 2920);
  EXPECT_EQ(u.win, 2920);
  h.inject(data(h, kP + 2920, 1, 'p'));
  h.expect_no_tx();  // a small segment out of quick-ack mode: the delayed ACK
  h.advance(40ms);
  EXPECT_EQ(h.expect_tx(kTcpAck).ack, kP + 2921);
  EXPECT_EQ(*h.api().recv(fd, buf), 1u);
}

TEST(TcpData, PawsDropsASegmentWithAnOldTimestampAndAcks) {
  TcpHarness h;
  int fd = establish(h, opts_ts());
  Out d1 = data(h, kP, 10);
  d1.ts = std::make_pair(200u, 0u);
  h.inject(d1);
  Seg a = h.expect_tx(kTcpAck);
  EXPECT_EQ(a.ack, kP + 10);
  EXPECT_EQ(a.opt.tsecr, 200u);
  // TSval 150 < TS.Recent 200: an old duplicate (RFC 7323 §5.3), dropped and answered.
  Out old = data(h, kP + 10, 10, 'o');
  old.ts = std::make_pair(150u, 0u);
  h.inject(old);
  Seg p = h.expect_tx(kTcpAck);
  EXPECT_EQ(p.ack, kP + 10);
  EXPECT_EQ(p.opt.tsecr, 200u);
  EXPECT_EQ(h.tcp().stats().paws_drops, 1u);
  std::array<std::byte, 64> buf{};
  EXPECT_EQ(*h.api().recv(fd, buf), 10u);
  EXPECT_EQ(h.api().recv(fd, buf).error(), Errc::kAgain);
  // One tick older passes (TCP_PAWS_WINDOW = 1) without moving TS.Recent back.
  Out edge = data(h, kP + 10, 10, 'e');
  edge.ts = std::make_pair(199u, 0u);
  h.inject(edge);
  Seg e = h.expect_tx(kTcpAck);
  EXPECT_EQ(e.ack, kP + 20);
  EXPECT_EQ(e.opt.tsecr, 200u);
  // A reset is accepted whatever its timestamp.
  Out rst{kTcpRst, kP + 20, 0};
  rst.ts = std::make_pair(1u, 0u);
  h.inject(rst);
  EXPECT_EQ(info(h, fd).state, TcpState::kClose);
}

TEST(TcpData, AnInvalidAckDoesNotMoveTsRecent) {
  // ts_recent changes only once the segment's ACK proved valid (tcp_ack's FLAG_UPDATE_TS_RECENT): an ACK
  // for data never sent, with a TSval far ahead, must not make the next good segment fail PAWS.
  TcpHarness h;
  int fd = establish(h, opts_ts());
  Out bad{kTcpFin | kTcpAck, kP, h.iss + 9999};
  bad.ts = std::make_pair(200000u, 0u);
  h.inject(bad);
  Seg c = h.expect_tx(kTcpAck);  // the challenge ACK (RFC 5961 §5.2)
  EXPECT_EQ(c.ack, kP);
  EXPECT_EQ(c.opt.tsecr, 100u);
  Out good = data(h, kP, 1000);
  good.ts = std::make_pair(201u, 0u);
  h.inject(good);
  Seg a = h.expect_tx(kTcpAck);
  EXPECT_EQ(a.ack, kP + 1000);
  EXPECT_EQ(a.opt.tsecr, 201u);
  EXPECT_EQ(info(h, fd).state, TcpState::kEstablished);
}

}  // namespace
}  // namespace ustack::tcptest
