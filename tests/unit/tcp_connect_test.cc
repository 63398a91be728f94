// The active open as the seeds trace it, checked segment by segment and errno by errno.
#include <gtest/gtest.h>

#include "support/tcp_harness.h"

namespace ustack::tcptest {
namespace {

using namespace wire;

TEST(TcpConnect, SynCarriesLinuxOptionsAndNonBlockingConnectSaysInProgress) {
  TcpHarness h;
  int fd = *h.api().socket(kAfInet, kSockStream | kSockNonblock);
  EXPECT_EQ(h.api().connect(fd, SockAddrIn{kPeer, 8080}).error(), Errc::kInProgress);
  Seg syn = h.expect_tx(kTcpSyn);
  EXPECT_EQ(syn.dport, 8080);
  EXPECT_GE(syn.sport, 32768);
  EXPECT_LE(syn.sport, 60999);
  EXPECT_EQ(syn.win, 64240);  // 65535 rounded down to whole segments, never scaled in a SYN
  ASSERT_TRUE(syn.opt.mss.has_value());
  EXPECT_EQ(*syn.opt.mss, 1460);
  EXPECT_TRUE(syn.opt.sack_ok);
  EXPECT_TRUE(syn.opt.ts);
  EXPECT_EQ(syn.opt.tsecr, 0u);
  ASSERT_TRUE(syn.opt.wscale.has_value());
  EXPECT_EQ(*syn.opt.wscale, 7);
  h.our_port = syn.sport;
  // A second connect while the first is in progress.
  EXPECT_EQ(h.api().connect(fd, SockAddrIn{kPeer, 8080}).error(), Errc::kAlready);
  // Not writable until the handshake completes.
  PollFd p{fd, kPollOut, 0};
  EXPECT_EQ(*h.api().poll(std::span(&p, 1), Duration(0)), 0);
  h.inject(Out{kTcpSyn | kTcpAck, 7000, syn.seq + 1, 65535, 1460});
  Seg ack = h.expect_tx(kTcpAck);
  EXPECT_EQ(ack.seq, syn.seq + 1);
  EXPECT_EQ(ack.ack, 7001u);
  EXPECT_EQ(*h.api().poll(std::span(&p, 1), Duration(0)), 1);
  EXPECT_TRUE(p.revents & kPollOut);
  // The pending connect completes: 0, then EISCONN.
  EXPECT_TRUE(h.api().connect(fd, SockAddrIn{kPeer, 8080}));
  EXPECT_EQ(h.api().connect(fd, SockAddrIn{kPeer, 8080}).error(), Errc::kIsConn);
  EXPECT_EQ(h.api().getpeername(fd)->port, 8080);
}

TEST(TcpConnect, SynIntoBlackHoleBacksOffLikeLinuxThenTimesOut) {
  TcpHarness h;
  int fd = *h.api().socket(kAfInet, kSockStream | kSockNonblock);
  (void)h.api().connect(fd, SockAddrIn{kPeer, 8080});
  TimePoint start = h.clock.now();
  std::vector<double> sent_at;
  while (auto s = h.next_tx()) sent_at.push_back(to_seconds(h.clock.now() - start));
  for (int i = 0; i < 200 && sent_at.size() < 7; ++i) {
    h.advance(1s);
    while (auto s = h.next_tx()) {
      EXPECT_EQ(s->flags, kTcpSyn);
      sent_at.push_back(to_seconds(h.clock.now() - start));
    }
  }
  // tcp_syn_retries = 6: the SYN at 0 s, then at 1, 3, 7, 15, 31 and 63 s.
  EXPECT_EQ(sent_at, (std::vector<double>{0, 1, 3, 7, 15, 31, 63}));
  PollFd p{fd, kPollOut, 0};
  h.advance(63s);  // 126 s: still trying
  EXPECT_EQ(*h.api().poll(std::span(&p, 1), Duration(0)), 0);
  h.advance(1s);  // 127 s: gives up
  EXPECT_EQ(*h.api().poll(std::span(&p, 1), Duration(0)), 1);
  EXPECT_TRUE(p.revents & kPollErr);
  EXPECT_EQ(*h.api().getsockopt_int(fd, kSolSocket, kSoError), ETIMEDOUT);
  h.expect_no_tx();
}

TEST(TcpConnect, BlockingConnectTimesOutWithEtimedout) {
  TcpHarness h;
  int fd = *h.api().socket(kAfInet, kSockStream);
  TimePoint start = h.clock.now();
  EXPECT_EQ(h.api().connect(fd, SockAddrIn{kPeer, 8080}).error(), Errc::kTimedOut);
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(h.clock.now() - start).count(), 127);
}

TEST(TcpConnect, SendTimeoutBoundsTheWaitWithEinprogress) {
  TcpHarness h;
  int fd = *h.api().socket(kAfInet, kSockStream);
  Timeval tv{2, 0};
  ASSERT_TRUE(h.api().setsockopt(fd, kSolSocket, kSoSndTimeo, std::as_bytes(std::span(&tv, 1))));
  TimePoint start = h.clock.now();
  EXPECT_EQ(h.api().connect(fd, SockAddrIn{kPeer, 8080}).error(), Errc::kInProgress);
  EXPECT_EQ(h.clock.now() - start, Duration(2s));
}

TEST(TcpConnect, RstAnswerGivesEconnrefused) {
  TcpHarness h;
  int fd = *h.api().socket(kAfInet, kSockStream);
  h.stack.set_waiter([&](const std::function<bool()>& cond, Duration) {
    // The peer refuses: answer the SYN with RST|ACK.
    if (auto syn = h.next_tx()) {
      h.our_port = syn->sport;
      h.inject(Out{kTcpRst | kTcpAck, 0, syn->seq + 1, 0});
    }
    return cond();
  });
  EXPECT_EQ(h.api().connect(fd, SockAddrIn{kPeer, 8080}).error(), Errc::kConnRefused);
  // The socket may connect again afterwards (SS_UNCONNECTED).
  EXPECT_EQ(h.tcp().stats().curr_estab, 0u);
}

TEST(TcpConnect, RstWithUnacceptableAckIsIgnoredInSynSent) {
  TcpHarness h;
  int fd = *h.api().socket(kAfInet, kSockStream | kSockNonblock);
  (void)h.api().connect(fd, SockAddrIn{kPeer, 8080});
  Seg syn = h.expect_tx(kTcpSyn);
  h.our_port = syn.sport;
  h.inject(Out{kTcpRst | kTcpAck, 0, syn.seq + 100, 0});  // RFC 9293 §3.10.7.3: not for our SYN
  EXPECT_EQ(h.tcp().stats().curr_estab, 0u);
  EXPECT_EQ(*h.api().getsockopt_int(fd, kSolSocket, kSoError), 0);
  // An ACK for something else gets a reset.
  h.inject(Out{kTcpAck, 1, syn.seq + 100, 0});
  Seg rst = h.expect_tx(kTcpRst);
  EXPECT_EQ(rst.seq, syn.seq + 100);
}

TEST(TcpConnect, IpMtuDiscoverIsKeptPerSocket) {
  TcpHarness h;
  int fd = *h.api().socket(kAfInet, kSockStream | kSockNonblock);
  EXPECT_EQ(*h.api().getsockopt_int(fd, kSolIp, kIpMtuDiscover), 1);   // IP_PMTUDISC_WANT, as Linux
  ASSERT_TRUE(h.api().setsockopt_int(fd, kSolIp, kIpMtuDiscover, 0));  // IP_PMTUDISC_DONT
  EXPECT_EQ(*h.api().getsockopt_int(fd, kSolIp, kIpMtuDiscover), 0);
  EXPECT_EQ(h.api().setsockopt_int(fd, kSolIp, kIpMtuDiscover, 7).error(), Errc::kInval);
}

TEST(TcpConnect, AddressAndRouteErrors) {
  TcpHarness h;
  SocketApi& a = h.api();
  EXPECT_EQ(a.socket(10 /* AF_INET6 */, kSockStream).error(), Errc::kAfNoSupport);
  EXPECT_EQ(a.socket(kAfInet, 3 /* SOCK_RAW */).error(), Errc::kProtoType);
  EXPECT_EQ(a.socket(kAfInet, kSockStream, 17).error(), Errc::kProtoNoSupport);
  int fd = *a.socket(kAfInet, kSockStream);
  EXPECT_EQ(a.connect(fd, SockAddrIn{Ipv4Addr(203, 0, 113, 9), 80}).error(), Errc::kNetUnreach);  // no route
  EXPECT_EQ(a.connect(fd, SockAddrIn{Ipv4Addr(198, 18, 0, 255), 80}).error(),
            Errc::kNetUnreach);                                                                 // broadcast
  EXPECT_EQ(a.connect(fd, SockAddrIn{Ipv4Addr(224, 0, 0, 1), 80}).error(), Errc::kNetUnreach);  // multicast
  EXPECT_EQ(a.connect(fd, SockAddrIn{kPeer, 0}).error(), Errc::kInval);
  int b = *a.socket(kAfInet, kSockStream);
  EXPECT_EQ(a.bind(b, SockAddrIn{Ipv4Addr(198, 18, 0, 77), 80}).error(), Errc::kAddrNotAvail);
  EXPECT_TRUE(a.bind(b, SockAddrIn{kUs, 80}));
  int c = *a.socket(kAfInet, kSockStream);
  EXPECT_EQ(a.bind(c, SockAddrIn{kUs, 80}).error(), Errc::kAddrInUse);
  EXPECT_EQ(a.send(c, sv_bytes("x")).error(), Errc::kPipe);  // never connected
  EXPECT_EQ(a.getpeername(c).error(), Errc::kNotConn);
  EXPECT_EQ(a.close(99).error(), Errc::kBadFd);
}

TEST(TcpConnect, DescriptorsAreTheLowestFreeAndKeepTheirSocketsState) {
  // The descriptor table holds the sockets themselves: each new one takes the lowest free slot
  // (POSIX), and the socket's state, type and O_NONBLOCK, which its sock holds, follow it.
  TcpHarness h;
  SocketApi& a = h.api();
  std::vector<int> fds;
  for (int i = 0; i < 40; ++i) fds.push_back(*a.socket(kAfInet, kSockStream | (i % 2 ? kSockNonblock : 0)));
  for (int i = 0; i < 40; ++i) EXPECT_EQ(fds[size_t(i)], 3 + i);
  ASSERT_TRUE(a.close(fds[30]));
  ASSERT_TRUE(a.close(fds[7]));
  ASSERT_TRUE(a.close(fds[19]));
  EXPECT_EQ(a.close(fds[7]).error(), Errc::kBadFd);
  EXPECT_EQ(a.lookup(fds[7]), nullptr);
  EXPECT_EQ(a.open_count(), 37u);
  EXPECT_EQ(*a.socket(kAfInet, kSockStream), fds[7]);
  EXPECT_EQ(*a.socket(kAfInet, kSockDgram), fds[19]);
  EXPECT_EQ(*a.socket(kAfInet, kSockStream), fds[30]);
  EXPECT_EQ(*a.socket(kAfInet, kSockStream), 43);
  for (int fd = 3; fd <= 43; ++fd) {
    Socket* s = a.lookup(fd);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->state(), SocketState::kUnconnected) << "fd " << fd;
    EXPECT_EQ(s->type(), fd == fds[19] ? kSockDgram : kSockStream) << "fd " << fd;
    bool reopened = fd == fds[7] || fd == fds[19] || fd == fds[30] || fd == 43;
    EXPECT_EQ(s->nonblock(), !reopened && (fd - 3) % 2 == 1) << "fd " << fd;
  }
  // A connection made on a reused descriptor works, and the accepted one lands in the lowest slot.
  ASSERT_TRUE(a.close(5));
  int c = h.connect_established();
  EXPECT_EQ(c, 5);
  EXPECT_EQ(a.sock_of(c)->sk_state, TcpState::kEstablished);
  EXPECT_EQ(a.lookup(c)->sk, a.sock_of(c));
  EXPECT_NE(a.lookup(c)->state(), SocketState::kFree);
}

// The sock keeps its route (sk_dst_cache) and checks it before every segment: a route added or removed
// under an established connection redirects its very next segment, as a lookup per segment would.
TEST(TcpConnect, EstablishedConnectionFollowsRouteChanges) {
  TcpHarness h;
  int fd = h.connect_established();
  ASSERT_TRUE(h.api().setsockopt_int(fd, kSolTcp, kTcpNoDelay, 1));
  const Ipv4Addr gw{198, 18, 0, 254};
  const MacAddr gw_mac{{0x02, 0, 0, 0, 0, 0xfe}};
  h.stack.arp().tbl().neigh_add_permanent(gw, *h.dev, gw_mac);
  // Sends one byte and returns the link address its frame went to.
  auto send_byte = [&]() -> MacAddr {
    std::byte b{'x'};
    EXPECT_TRUE(h.api().send(fd, std::span(&b, 1)));
    h.settle();
    if (h.dev->frames.empty()) {
      ADD_FAILURE() << "nothing sent";
      return MacAddr{};
    }
    auto eth = EthHdr::parse(h.dev->frames.back());
    h.dev->frames.clear();
    return eth ? eth->dst : MacAddr{};
  };
  EXPECT_TRUE(send_byte() == kPeerMac);
  FibRoute host;
  host.dst = Ipv4Cidr{kPeer, 32};
  host.gateway = gw;
  host.ifindex = h.dev->ifindex();
  ASSERT_TRUE(h.stack.ipv4().add_route(host));
  EXPECT_TRUE(send_byte() == gw_mac);
  EXPECT_TRUE(send_byte() == gw_mac);
  ASSERT_TRUE(h.stack.ipv4().del_route(Ipv4Cidr{kPeer, 32}));
  EXPECT_TRUE(send_byte() == kPeerMac);
}

TEST(TcpConnect, ConnectWithAfUnspecDisconnects) {
  TcpHarness h;
  int fd = h.connect_established();
  SockAddrIn unspec;
  unspec.family = kAfUnspec;
  EXPECT_TRUE(h.api().connect(fd, unspec));
  Seg rst = h.expect_tx(kTcpRst | kTcpAck);
  EXPECT_EQ(rst.seq, h.iss + 1);
  // Unconnected again: a new connect starts a new handshake.
  EXPECT_EQ(h.api().connect(fd, SockAddrIn{kPeer, 8080}).error(), Errc::kInProgress);
  h.expect_tx(kTcpSyn);
}

TEST(TcpConnect, SimultaneousOpen) {
  TcpHarness h;
  int fd = *h.api().socket(kAfInet, kSockStream | kSockNonblock);
  (void)h.api().connect(fd, SockAddrIn{kPeer, 8080});
  Seg syn = h.expect_tx(kTcpSyn);
  h.our_port = syn.sport;
  // The peer's own SYN crosses ours (RFC 9293 figure 8).
  Out peer_syn{kTcpSyn, 9000, 0, 65535, 1460};
  h.inject(peer_syn);
  Seg synack = h.expect_tx(kTcpSyn | kTcpAck);
  EXPECT_EQ(synack.seq, syn.seq);
  EXPECT_EQ(synack.ack, 9001u);
  // The peer's SYN-ACK acknowledges ours: established.
  h.inject(Out{kTcpSyn | kTcpAck, 9000, syn.seq + 1, 65535});
  h.inject(Out{kTcpAck, 9001, syn.seq + 1, 65535});
  PollFd p{fd, kPollOut, 0};
  EXPECT_EQ(*h.api().poll(std::span(&p, 1), Duration(0)), 1);
  EXPECT_TRUE(h.api().connect(fd, SockAddrIn{kPeer, 8080}));
  EXPECT_TRUE(h.api().send(fd, sv_bytes("hi")));
  Seg d = h.expect_tx(kTcpAck | kTcpPsh);
  EXPECT_EQ(d.seq, syn.seq + 1);
  EXPECT_EQ(d.ack, 9001u);
}

}  // namespace
}  // namespace ustack::tcptest
