// The passive open, segment by segment: listen, SYN -> SYN-ACK, accept, the SYN-ACK timer, the accept
// queue limits, and the resets a host sends for segments no socket takes (RFC 9293 §3.5, §3.10.7.1;
// Linux tcp_conn_request, tcp_check_req, reqsk_timer_handler, tcp_v4_send_reset).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "support/tcp_harness.h"

namespace ustack::tcptest {
namespace {

using namespace wire;

constexpr uint16_t kListenPort = 80;

// A non-blocking listener on kUs:port. The harness then speaks to that port.
int listen_on(TcpHarness& h, int backlog, uint16_t port = kListenPort) {
  int l = *h.api().socket(kAfInet, kSockStream | kSockNonblock);
  EXPECT_TRUE(h.api().bind(l, SockAddrIn{Ipv4Addr::any(), port}));
  EXPECT_TRUE(h.api().listen(l, backlog));
  h.our_port = port;
  return l;
}

// A SYN as Linux sends it: MSS 1460, SACK permitted, timestamps, window scale 7.
Out linux_syn(uint32_t seq, uint16_t sport = 0) {
  Out syn{kTcpSyn, seq, 0, 64240, 1460};
  syn.sack_ok = true;
  syn.ts = std::make_pair(1000u, 0u);
  syn.wscale = 7;
  syn.sport = sport;
  return syn;
}

// SYN, SYN-ACK, ACK from peer port `sport` with a bare SYN (MSS only); returns our ISN.
uint32_t handshake(TcpHarness& h, uint16_t sport, uint32_t peer_iss) {
  Out syn{kTcpSyn, peer_iss, 0, 65535, 1460};
  syn.sport = sport;
  h.inject(syn);
  Seg synack = h.expect_tx(kTcpSyn | kTcpAck);
  EXPECT_EQ(synack.dport, sport);
  EXPECT_EQ(synack.ack, peer_iss + 1);
  Out ack{kTcpAck, peer_iss + 1, synack.seq + 1};
  ack.sport = sport;
  h.inject(ack);
  return synack.seq;
}

TEST(TcpPassive, SynAckCarriesWhatTheSynOffered) {
  TcpHarness h;
  int l = listen_on(h, 8);
  h.inject(linux_syn(1000));
  Seg sa = h.expect_tx(kTcpSyn | kTcpAck);
  EXPECT_EQ(sa.sport, kListenPort);
  EXPECT_EQ(sa.dport, h.peer_port);
  EXPECT_EQ(sa.ack, 1001u);
  ASSERT_TRUE(sa.opt.mss.has_value());
  EXPECT_EQ(*sa.opt.mss, 1460);
  EXPECT_TRUE(sa.opt.sack_ok);
  EXPECT_TRUE(sa.opt.ts);
  EXPECT_EQ(sa.opt.tsecr, 1000u);  // echoes the SYN's TSval
  ASSERT_TRUE(sa.opt.wscale.has_value());
  EXPECT_EQ(*sa.opt.wscale, 7);
  // Never scaled in a SYN; whole segments of the MSS less the timestamp option: 65535 / 1448 * 1448
  // (tcp_openreq_init_rwin passes mss - TCPOLEN_TSTAMP_ALIGNED to tcp_select_initial_window).
  EXPECT_EQ(sa.win, 65160);
  h.expect_no_tx();
  // Nothing to accept until the handshake completes.
  EXPECT_EQ(h.api().accept(l).error(), Errc::kAgain);

  Out ack{kTcpAck, 1001, sa.seq + 1, 502};
  ack.ts = std::make_pair(1001u, sa.opt.tsval);
  h.inject(ack);
  h.expect_no_tx();
  SockAddrIn peer;
  auto fd = h.api().accept(l, &peer);
  ASSERT_TRUE(fd);
  EXPECT_EQ(peer, (SockAddrIn{kPeer, h.peer_port}));
  EXPECT_EQ(*h.api().getpeername(*fd), (SockAddrIn{kPeer, h.peer_port}));
  EXPECT_EQ(*h.api().getsockname(*fd), (SockAddrIn{kUs, kListenPort}));
  EXPECT_EQ(h.api().accept(l).error(), Errc::kAgain);
  TcpInfo info{};
  ASSERT_TRUE(h.api().getsockopt(*fd, kSolTcp, kTcpInfo, std::as_writable_bytes(std::span(&info, 1))));
  EXPECT_EQ(info.state, TcpState::kEstablished);
  EXPECT_TRUE(info.ts && info.sack && info.wscale);
  EXPECT_EQ(info.snd_wscale, 7);
  EXPECT_EQ(info.rcv_wscale, 7);
  EXPECT_EQ(info.snd_wnd, 502u << 7);

  // The accepted socket talks: its data starts at ISN + 1 and carries the timestamp echo.
  ASSERT_TRUE(h.api().send(*fd, sv_bytes("hello")));
  Seg d = h.expect_tx(kTcpAck | kTcpPsh);
  EXPECT_EQ(d.seq, sa.seq + 1);
  EXPECT_EQ(d.ack, 1001u);
  EXPECT_EQ(d.payload.size(), 5u);
  EXPECT_TRUE(d.opt.ts);
  EXPECT_EQ(d.opt.tsecr, 1001u);
}

TEST(TcpPassive, SynAckOffersOnlyWhatThePeerOffered) {
  TcpHarness h;
  int l = listen_on(h, 8);
  h.inject(Out{kTcpSyn, 77, 0, 8192, 536});
  Seg sa = h.expect_tx(kTcpSyn | kTcpAck);
  EXPECT_EQ(sa.ack, 78u);
  ASSERT_TRUE(sa.opt.mss.has_value());
  EXPECT_EQ(*sa.opt.mss, 1460);  // ours, from the device MTU, whatever the peer's
  EXPECT_FALSE(sa.opt.sack_ok);
  EXPECT_FALSE(sa.opt.ts);
  EXPECT_FALSE(sa.opt.wscale.has_value());
  EXPECT_EQ(sa.win, 64240);  // 65535 / 1460 * 1460
  h.inject(Out{kTcpAck, 78, sa.seq + 1, 8192});
  h.expect_no_tx();
  auto fd = h.api().accept(l);
  ASSERT_TRUE(fd);
  // The peer's MSS of 536 bounds our segments.
  std::string big(1000, 'x');
  ASSERT_TRUE(h.api().send(*fd, sv_bytes(big)));
  EXPECT_EQ(h.expect_tx(kTcpAck).payload.size(), 536u);
  EXPECT_EQ(h.expect_tx(kTcpAck | kTcpPsh).payload.size(), 464u);
}

TEST(TcpPassive, BacklogOfOneHoldsTwoConnectionsLikeLinux) {
  // sk_acceptq_is_full is ack_backlog > max_ack_backlog: listen(fd, 1) queues two connections.
  TcpHarness h;
  int l = listen_on(h, 1);
  handshake(h, 40001, 100);
  handshake(h, 40002, 200);
  h.expect_no_tx();
  // A third SYN finds the queue full and is dropped without an answer.
  Out syn3{kTcpSyn, 300, 0, 65535, 1460};
  syn3.sport = 40003;
  h.inject(syn3);
  h.expect_no_tx();
  EXPECT_EQ(h.tcp().stats().listen_overflows, 1u);
  SockAddrIn peer;
  ASSERT_TRUE(h.api().accept(l, &peer));
  EXPECT_EQ(peer.port, 40001);
  ASSERT_TRUE(h.api().accept(l, &peer));
  EXPECT_EQ(peer.port, 40002);
  // The peer retries its SYN (after its 1 s timeout): now it is served.
  h.advance(1s);
  h.inject(syn3);
  Seg sa = h.expect_tx(kTcpSyn | kTcpAck);
  EXPECT_EQ(sa.dport, 40003);
  EXPECT_EQ(sa.ack, 301u);
}

TEST(TcpPassive, SynAckIsResentAfter1_2_4_8_16SecondsThenTheRequestIsDropped) {
  TcpHarness h;
  listen_on(h, 8);
  TimePoint start = h.clock.now();
  h.inject(Out{kTcpSyn, 1000, 0, 65535, 1460});
  Seg first = h.expect_tx(kTcpSyn | kTcpAck);
  std::vector<double> sent_at{0};
  for (int i = 0; i < 700; ++i) {
    h.advance(100ms);
    while (auto s = h.next_tx()) {
      EXPECT_EQ(s->flags, kTcpSyn | kTcpAck);
      EXPECT_EQ(s->seq, first.seq);
      EXPECT_EQ(s->ack, 1001u);
      sent_at.push_back(std::round(to_seconds(h.clock.now() - start) * 10) / 10);
    }
  }
  // tcp_synack_retries = 5: at 0, then 1, 3, 7, 15 and 31 s; the request expires at 63 s.
  EXPECT_EQ(sent_at, (std::vector<double>{0, 1, 3, 7, 15, 31}));
  EXPECT_EQ(h.tcp().stats().syn_retrans, 5u);
  // The handshake's last ACK now finds no request sock: the listener resets it.
  h.inject(Out{kTcpAck, 1001, first.seq + 1});
  Seg rst = h.expect_tx(kTcpRst);
  EXPECT_EQ(rst.seq, first.seq + 1);
}

TEST(TcpPassive, LateAckWithinTheRetriesCompletesTheHandshake) {
  TcpHarness h;
  int l = listen_on(h, 8);
  h.inject(Out{kTcpSyn, 1000, 0, 65535, 1460});
  Seg sa = h.expect_tx(kTcpSyn | kTcpAck);
  h.advance(3500ms);  // two retransmissions
  EXPECT_EQ(h.next_tx()->seq, sa.seq);
  EXPECT_EQ(h.next_tx()->seq, sa.seq);
  h.inject(Out{kTcpAck, 1001, sa.seq + 1});
  ASSERT_TRUE(h.api().accept(l));
  h.advance(60s);
  h.expect_no_tx();  // the timer went with the request sock
}

TEST(TcpPassive, DuplicateSynResendsTheSynAck) {
  TcpHarness h;
  listen_on(h, 8);
  h.inject(linux_syn(5000));
  Seg a = h.expect_tx(kTcpSyn | kTcpAck);
  h.advance(300ms);
  h.inject(linux_syn(5000));  // our SYN-ACK was lost
  Seg b = h.expect_tx(kTcpSyn | kTcpAck);
  EXPECT_EQ(b.seq, a.seq);
  EXPECT_EQ(b.ack, 5001u);
  EXPECT_TRUE(b.opt.ts && b.opt.sack_ok && b.opt.wscale.has_value());
  h.expect_no_tx();
  EXPECT_EQ(h.tcp().stats().passive_opens, 1u);
}

TEST(TcpPassive, FullAcceptQueueDropsSynAndFinalAckUntilAcceptDrainsIt) {
  TcpHarness h;
  int l = listen_on(h, 4);  // holds 5 (sk_acceptq_is_full: > backlog)
  for (uint16_t i = 0; i < 4; ++i) handshake(h, uint16_t(41000 + i), 1000u * (i + 1));
  // Two more handshakes begin while the queue has room.
  Out syn5{kTcpSyn, 50000, 0, 65535, 1460};
  syn5.sport = 41005;
  h.inject(syn5);
  Seg sa5 = h.expect_tx(kTcpSyn | kTcpAck);
  Out syn6{kTcpSyn, 60000, 0, 65535, 1460};
  syn6.sport = 41006;
  h.inject(syn6);
  Seg sa6 = h.expect_tx(kTcpSyn | kTcpAck);
  // The fifth connection fills the queue.
  Out ack5{kTcpAck, 50001, sa5.seq + 1};
  ack5.sport = 41005;
  h.inject(ack5);
  h.expect_no_tx();
  // The sixth's ACK finds it full: dropped without an answer (tcp_abort_on_overflow = 0), the request
  // sock stays.
  Out ack6{kTcpAck, 60001, sa6.seq + 1};
  ack6.sport = 41006;
  h.inject(ack6);
  h.expect_no_tx();
  // So is a new SYN.
  Out syn7{kTcpSyn, 70000, 0, 65535, 1460};
  syn7.sport = 41007;
  h.inject(syn7);
  h.expect_no_tx();
  EXPECT_EQ(h.tcp().stats().listen_overflows, 2u);

  // The application accepts one: room again.
  SockAddrIn peer;
  ASSERT_TRUE(h.api().accept(l, &peer));
  EXPECT_EQ(peer.port, 41000);
  // The request sock's timer resends the SYN-ACK at 1 s; the peer answers it again.
  h.advance(1s);
  Seg again = h.expect_tx(kTcpSyn | kTcpAck);
  EXPECT_EQ(again.dport, 41006);
  EXPECT_EQ(again.seq, sa6.seq);
  // The client of the dropped SYN retries it.
  h.inject(syn7);
  Seg sa7 = h.expect_tx(kTcpSyn | kTcpAck);
  EXPECT_EQ(sa7.dport, 41007);
  h.inject(ack6);
  std::vector<uint16_t> ports;
  while (auto fd = h.api().accept(l, &peer)) ports.push_back(peer.port);
  EXPECT_EQ(ports, (std::vector<uint16_t>{41001, 41002, 41003, 41005, 41006}));
  Out ack7{kTcpAck, 70001, sa7.seq + 1};
  ack7.sport = 41007;
  h.inject(ack7);
  ASSERT_TRUE(h.api().accept(l, &peer));
  EXPECT_EQ(peer.port, 41007);
}

TEST(TcpPassive, ClosedPortAnswersSynWithRstAck) {
  TcpHarness h;
  h.our_port = 81;
  h.inject(Out{kTcpSyn, 1000, 0, 65535, 1460});
  Seg r = h.expect_tx(kTcpRst | kTcpAck);
  EXPECT_EQ(r.seq, 0u);
  EXPECT_EQ(r.ack, 1001u);  // the SYN counts one
  EXPECT_EQ(r.win, 0);
  EXPECT_EQ(r.sport, 81);
  EXPECT_EQ(r.dport, h.peer_port);
  // A SYN with data: the ACK covers both.
  h.inject(Out{kTcpSyn, 2000, 0}.with_payload("abc"));
  EXPECT_EQ(h.expect_tx(kTcpRst | kTcpAck).ack, 2004u);
  // A FIN without ACK: one more.
  h.inject(Out{kTcpFin, 3000, 0}.with_payload("xy"));
  EXPECT_EQ(h.expect_tx(kTcpRst | kTcpAck).ack, 3003u);
  EXPECT_EQ(h.tcp().stats().out_rsts, 3u);
}

TEST(TcpPassive, ClosedPortAnswersAckWithRstAtItsAckNumber) {
  TcpHarness h;
  h.our_port = 81;
  h.inject(Out{kTcpAck, 1000, 777777});
  Seg r = h.expect_tx(kTcpRst);
  EXPECT_EQ(r.seq, 777777u);  // seq = SEG.ACK, no ACK bit (RFC 9293 §3.10.7.1)
  EXPECT_EQ(r.ack, 0u);
  h.inject(Out{kTcpAck | kTcpPsh, 1000, 888888}.with_payload("data"));
  EXPECT_EQ(h.expect_tx(kTcpRst).seq, 888888u);
  h.inject(Out{kTcpFin | kTcpAck, 1000, 999999});
  EXPECT_EQ(h.expect_tx(kTcpRst).seq, 999999u);
}

TEST(TcpPassive, NoRstInAnswerToRst) {
  TcpHarness h;
  h.our_port = 81;
  h.inject(Out{kTcpRst, 1000, 0});
  h.inject(Out{kTcpRst | kTcpAck, 1000, 5000});
  h.expect_no_tx();
  // Nor from a listener, nor for a RST matching no request.
  listen_on(h, 8);
  h.inject(Out{kTcpRst, 1000, 0});
  h.inject(Out{kTcpRst | kTcpAck, 1000, 5000});
  h.expect_no_tx();
  EXPECT_EQ(h.tcp().stats().out_rsts, 0u);
}

TEST(TcpPassive, ListenerResetsAnAckForNoRequestAndIgnoresBareData) {
  TcpHarness h;
  listen_on(h, 8);
  h.inject(Out{kTcpAck, 1000, 4242});
  EXPECT_EQ(h.expect_tx(kTcpRst).seq, 4242u);
  // Neither SYN nor ACK nor RST: dropped (tcp_rcv_state_process in LISTEN).
  h.inject(Out{kTcpPsh, 1000, 0}.with_payload("x"));
  h.inject(Out{kTcpFin, 1000, 0});
  h.expect_no_tx();
}

TEST(TcpPassive, RstForTheRequestSockDropsIt) {
  TcpHarness h;
  int l = listen_on(h, 8);
  h.inject(Out{kTcpSyn, 1000, 0, 65535, 1460});
  Seg sa = h.expect_tx(kTcpSyn | kTcpAck);
  h.inject(Out{kTcpRst, 1001, 0});
  h.advance(2s);
  h.expect_no_tx();  // no SYN-ACK retransmission: the request is gone
  h.inject(Out{kTcpAck, 1001, sa.seq + 1});
  EXPECT_EQ(h.expect_tx(kTcpRst).seq, sa.seq + 1);
  EXPECT_EQ(h.api().accept(l).error(), Errc::kAgain);
}

TEST(TcpPassive, WrongAckInSynRecvIsReset) {
  TcpHarness h;
  int l = listen_on(h, 8);
  h.inject(Out{kTcpSyn, 1000, 0, 65535, 1460});
  Seg sa = h.expect_tx(kTcpSyn | kTcpAck);
  h.inject(Out{kTcpAck, 1001, sa.seq + 50});
  EXPECT_EQ(h.expect_tx(kTcpRst).seq, sa.seq + 50);
  // The request survives: the right ACK still completes it.
  h.inject(Out{kTcpAck, 1001, sa.seq + 1});
  EXPECT_TRUE(h.api().accept(l));
}

TEST(TcpPassive, OutOfWindowAckInSynRecvGetsAnAckAndCompletesNothing) {
  TcpHarness h;
  int l = listen_on(h, 8);
  h.inject(Out{kTcpSyn, 1000, 0, 65535, 1460});
  Seg sa = h.expect_tx(kTcpSyn | kTcpAck);
  h.inject(Out{kTcpAck, 1001 + 100000, sa.seq + 1});  // the right ACK number, a sequence number far off
  Seg a = h.expect_tx(kTcpAck);
  EXPECT_EQ(a.seq, sa.seq + 1);
  EXPECT_EQ(a.ack, 1001u);
  EXPECT_EQ(a.win, sa.win);
  EXPECT_EQ(h.api().accept(l).error(), Errc::kAgain);
  h.inject(Out{kTcpAck, 1001, sa.seq + 1});
  EXPECT_TRUE(h.api().accept(l));
}

TEST(TcpPassive, FinalAckWithDataDeliversIt) {
  TcpHarness h;
  int l = listen_on(h, 8);
  h.inject(Out{kTcpSyn, 1000, 0, 65535, 1460});
  Seg sa = h.expect_tx(kTcpSyn | kTcpAck);
  h.inject(Out{kTcpAck | kTcpPsh, 1001, sa.seq + 1}.with_payload("GET /"));
  auto fd = h.api().accept(l);
  ASSERT_TRUE(fd);
  std::array<std::byte, 16> buf{};
  EXPECT_EQ(*h.api().recv(*fd, buf), 5u);
  // The first data segment is acknowledged at once (quick-ack mode).
  Seg a = h.expect_tx(kTcpAck);
  EXPECT_EQ(a.ack, 1006u);
}

TEST(TcpPassive, ClosingTheListenerResetsUnacceptedConnections) {
  TcpHarness h;
  int l = listen_on(h, 8);
  uint32_t isn = handshake(h, 42000, 100);
  ASSERT_TRUE(h.api().close(l));
  Seg r = h.expect_tx(kTcpRst | kTcpAck);
  EXPECT_EQ(r.dport, 42000);
  EXPECT_EQ(r.seq, isn + 1);
  EXPECT_EQ(r.ack, 101u);
  h.settle();
  EXPECT_EQ(h.tcp().sock_count(), 0u);
}

TEST(TcpPassive, ShuttingDownTheListenerResetsUnacceptedConnectionsToo) {
  // shutdown(SHUT_RD or SHUT_RDWR) on a listener is tcp_disconnect: inet_csk_listen_stop forgets the
  // accept queue. (The children used to stay, pointing at the listener, and outlive its close.)
  TcpHarness h;
  int l = listen_on(h, 8);
  uint32_t isn = handshake(h, 42000, 100);
  Out fin{kTcpFin | kTcpAck, 101, isn + 1};
  fin.sport = 42000;
  h.inject(fin);
  EXPECT_EQ(h.expect_tx(kTcpAck).ack, 102u);
  ASSERT_TRUE(h.api().shutdown(l, 2));
  Seg r = h.expect_tx(kTcpRst | kTcpAck);
  EXPECT_EQ(r.dport, 42000);
  EXPECT_EQ(r.seq, isn + 1);
  ASSERT_TRUE(h.api().close(l));
  h.advance(3600s);
  EXPECT_EQ(h.tcp().sock_count(), 0u);
  EXPECT_EQ(h.tcp().timewait_count(), 0u);
}

// A listener's children share its port (the bind table's owners of that port): it stays taken while any
// of them lives, whichever owner leaves first, and each child is still found by its 4-tuple.
TEST(TcpPassive, AcceptedChildrenHoldTheListenersPortUntilTheLastIsGone) {
  TcpHarness h;
  int l = listen_on(h, 8);
  std::vector<uint32_t> isn;
  for (uint16_t sport : {42001, 42002, 42003}) {
    isn.push_back(handshake(h, sport, 100));
    ASSERT_TRUE(h.api().accept(l));
  }
  ASSERT_TRUE(h.api().close(l));  // nothing in the accept queue: nothing to reset
  h.expect_no_tx();
  auto bind_port = [&] {
    int fd = *h.api().socket(kAfInet, kSockStream | kSockNonblock);
    Status s = h.api().bind(fd, SockAddrIn{Ipv4Addr::any(), kListenPort});
    EXPECT_TRUE(h.api().close(fd));
    return s;
  };
  EXPECT_EQ(bind_port().error(), Errc::kAddrInUse);
  Out data{kTcpAck | kTcpPsh, 101, isn[0] + 1};
  data.sport = 42001;
  h.inject(data.with_payload("x"));
  h.advance(1s);
  EXPECT_EQ(h.expect_tx(kTcpAck).ack, 102u);
  // The peer resets them one by one (at rcv_nxt): the middle owner, the first, then the last.
  for (uint16_t sport : {42002, 42003, 42001}) {
    EXPECT_EQ(bind_port().error(), Errc::kAddrInUse) << sport;
    Out rst{kTcpRst, sport == 42001 ? 102u : 101u, 0};
    rst.sport = sport;
    h.inject(rst);
    h.expect_no_tx();
  }
  EXPECT_TRUE(bind_port());
}

}  // namespace
}  // namespace ustack::tcptest
