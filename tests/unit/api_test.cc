// The public facade (include/ustack/ustack.h), used as an application would: only the public header.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "ustack/ustack.h"

namespace {

using namespace std::chrono_literals;
using ustack::Errc;
using ustack::Host;
using ustack::Ipv4Addr;
using ustack::SockAddrIn;

std::string recv_string(Host& h, int fd, size_t max = 4096) {
  std::string buf(max, '\0');
  auto n = h.recv(fd, std::as_writable_bytes(std::span(buf)));
  if (!n) return "<" + std::string(ustack::errc_name(n.error())) + ">";
  buf.resize(*n);
  return buf;
}

int listen_on(Host& h, uint16_t port, int type_flags = 0) {
  auto fd = h.socket(ustack::kAfInet, ustack::kSockStream | type_flags);
  EXPECT_TRUE(fd);
  EXPECT_TRUE(h.setsockopt_int(*fd, ustack::kSolSocket, ustack::kSoReuseAddr, 1));
  EXPECT_TRUE(h.bind(*fd, {Ipv4Addr::any(), port}));
  EXPECT_TRUE(h.listen(*fd, 8));
  return *fd;
}

TEST(Api, MemoryPairConnectSendRecvClose) {
  auto pair = Host::memory_pair();
  ASSERT_TRUE(pair);
  Host& a = *pair->a;
  Host& b = *pair->b;
  EXPECT_TRUE(a.virtual_time());
  EXPECT_EQ(a.address().to_string(), "198.18.0.1/24");
  EXPECT_EQ(b.address().to_string(), "198.18.0.2/24");

  int lfd = listen_on(b, 7000);
  auto cfd = a.socket(ustack::kAfInet, ustack::kSockStream);
  ASSERT_TRUE(cfd);
  // Blocking calls drive both stacks: the handshake completes in b's listen queue without b's help.
  ASSERT_TRUE(a.connect(*cfd, {b.address().addr, 7000}));
  SockAddrIn peer;
  auto sfd = b.accept(lfd, &peer);
  ASSERT_TRUE(sfd);
  EXPECT_EQ(peer.addr, a.address().addr);
  EXPECT_EQ(a.getpeername(*cfd)->port, 7000);
  EXPECT_EQ(a.getsockname(*cfd)->port, peer.port);
  EXPECT_EQ(*a.getsockopt_int(*cfd, ustack::kSolSocket, ustack::kSoError), 0);

  ASSERT_EQ(*a.send(*cfd, "hello"), 5u);
  EXPECT_EQ(recv_string(b, *sfd), "hello");
  ASSERT_EQ(*b.send(*sfd, "world!"), 6u);
  EXPECT_EQ(recv_string(a, *cfd), "world!");

  auto info = a.tcp_info(*cfd);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->state, 1);  // ESTABLISHED
  EXPECT_GT(info->snd_mss, 0u);
  EXPECT_GE(info->bytes_acked, 5u);

  // Non-blocking: nothing to read is EAGAIN; poll() with a timeout waits for the data.
  ASSERT_TRUE(a.set_nonblock(*cfd, true));
  std::byte buf[16];
  EXPECT_EQ(a.recv(*cfd, buf).error(), Errc::kAgain);
  ustack::PollFd pfd{*cfd, ustack::kPollIn, 0};
  EXPECT_EQ(*a.poll(std::span(&pfd, 1), 0ms), 0);
  ASSERT_EQ(*b.send(*sfd, "x"), 1u);
  EXPECT_EQ(*a.poll(std::span(&pfd, 1), 1s), 1);
  EXPECT_TRUE(pfd.revents & ustack::kPollIn);
  EXPECT_EQ(recv_string(a, *cfd), "x");

  ASSERT_TRUE(a.close(*cfd));
  EXPECT_EQ(recv_string(b, *sfd), "");  // end of stream
  ASSERT_TRUE(b.close(*sfd));
  ASSERT_TRUE(b.close(lfd));
  EXPECT_EQ(a.close(*cfd).error(), Errc::kBadFd);

  // Nobody listens on 7001: RST.
  auto fd2 = a.socket(ustack::kAfInet, ustack::kSockStream);
  ASSERT_TRUE(fd2);
  EXPECT_EQ(a.connect(*fd2, {b.address().addr, 7001}).error(), Errc::kConnRefused);
  EXPECT_NE(a.counters().find("IpOutRequests"), std::string::npos) << a.counters();
}

TEST(Api, MemoryPairUdpAndVirtualTime) {
  ustack::MemoryPairConfig cfg;
  cfg.delay = 5ms;
  auto pair = Host::memory_pair(cfg);
  ASSERT_TRUE(pair);
  Host& a = *pair->a;
  Host& b = *pair->b;
  auto rx = b.socket(ustack::kAfInet, ustack::kSockDgram);
  ASSERT_TRUE(rx);
  ASSERT_TRUE(b.bind(*rx, {Ipv4Addr::any(), 5353}));
  auto tx = a.socket(ustack::kAfInet, ustack::kSockDgram);
  ASSERT_TRUE(tx);
  std::string msg = "datagram";
  auto start = a.now();
  ASSERT_TRUE(a.sendto(*tx, std::as_bytes(std::span(msg)), 0, {b.address().addr, 5353}));
  std::byte buf[64];
  SockAddrIn from;
  auto n = b.recvfrom(*rx, buf, 0, &from);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, msg.size());
  EXPECT_EQ(from.addr, a.address().addr);
  // ARP and the datagram each cross the 5 ms wire: time is virtual and exact.
  EXPECT_GE(a.now() - start, 10ms);
  // An hour of virtual time costs nothing.
  auto t0 = b.now();
  b.run_for(1h);
  EXPECT_EQ(b.now() - t0, 1h);
  EXPECT_EQ(a.now(), b.now());
}

TEST(Api, OnStepServesWhileAClientBlocks) {
  auto pair = Host::memory_pair();
  ASSERT_TRUE(pair);
  Host& a = *pair->a;
  Host& b = *pair->b;
  int lfd = listen_on(b, 7, ustack::kSockNonblock);
  std::vector<int> conns;
  int steps = 0;
  b.set_on_step([&] {
    ++steps;
    while (auto fd = b.accept(lfd, nullptr, ustack::kSockNonblock)) conns.push_back(*fd);
    for (int fd : conns) {
      std::byte buf[256];
      if (auto n = b.recv(fd, buf); n && *n > 0) (void)b.send(fd, std::span(buf, *n));
    }
  });
  auto fd = a.socket(ustack::kAfInet, ustack::kSockStream);
  ASSERT_TRUE(a.connect(*fd, {b.address().addr, 7}));
  ASSERT_TRUE(a.send(*fd, "ping"));
  EXPECT_EQ(recv_string(a, *fd), "ping");
  EXPECT_GT(steps, 0);
  b.set_on_step({});
  int before = steps;
  a.run_for(1s);
  EXPECT_EQ(steps, before);
}

TEST(Api, LoopbackRealTimeEcho) {
  auto h = Host::loopback();
  EXPECT_FALSE(h->virtual_time());
  int lfd = listen_on(*h, 8080);
  auto cfd = h->socket(ustack::kAfInet, ustack::kSockStream);
  ASSERT_TRUE(cfd);
  ASSERT_TRUE(h->connect(*cfd, {Ipv4Addr(127, 0, 0, 1), 8080}));
  auto sfd = h->accept(lfd);
  ASSERT_TRUE(sfd);
  ASSERT_TRUE(h->send(*cfd, "over lo"));
  EXPECT_EQ(recv_string(*h, *sfd), "over lo");
  // A receive timeout in real time.
  ustack::Timeval tv{0, 50000};
  ASSERT_TRUE(h->setsockopt(*sfd, ustack::kSolSocket, ustack::kSoRcvTimeo, std::as_bytes(std::span(&tv, 1))));
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(recv_string(*h, *sfd), "<EAGAIN>");
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 40ms);
  EXPECT_TRUE(h->close(*cfd));
  EXPECT_TRUE(h->close(*sfd));
}

TEST(Api, PostFromAnotherThreadWakesTheOwner) {
  auto h = Host::loopback();
  auto owner = std::this_thread::get_id();
  std::atomic<bool> ran{false};
  std::thread::id ran_on;
  int fd = -1;
  std::thread other([&] {
    std::this_thread::sleep_for(50ms);
    h->post([&] {
      ran_on = std::this_thread::get_id();
      // A task may use the host: it runs on the owner thread.
      fd = h->socket(ustack::kAfInet, ustack::kSockDgram).value_or(-1);
      ran = true;
    });
  });
  auto t0 = std::chrono::steady_clock::now();
  // One wait of up to 10 s: the post must cut it short.
  while (!ran && std::chrono::steady_clock::now() - t0 < 10s) h->run_once(10s);
  other.join();
  EXPECT_TRUE(ran);
  EXPECT_EQ(ran_on, owner);
  EXPECT_GE(fd, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

TEST(Api, PostedTasksRunInOrderFromManyThreads) {
  auto h = Host::loopback();
  constexpr int kThreads = 4, kEach = 200;
  std::vector<std::vector<int>> seen(kThreads);
  int total = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i)
        h->post([&, t, i] {
          seen[t].push_back(i);
          ++total;
        });
    });
  }
  EXPECT_TRUE(h->run_until([&] { return total == kThreads * kEach; }, 20s));
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(seen[t].size(), size_t{kEach});
    for (int i = 0; i < kEach; ++i) EXPECT_EQ(seen[t][i], i);
  }
}

TEST(Api, BlockingCallsLeavePostedTasksQueued) {
  auto h = Host::loopback();
  auto fd = h->socket(ustack::kAfInet, ustack::kSockDgram);
  ASSERT_TRUE(fd);
  ASSERT_TRUE(h->bind(*fd, {Ipv4Addr(127, 0, 0, 1), 9999}));
  ustack::Timeval tv{0, 100000};
  ASSERT_TRUE(h->setsockopt(*fd, ustack::kSolSocket, ustack::kSoRcvTimeo, std::as_bytes(std::span(&tv, 1))));
  bool ran = false;
  std::thread other([&] { h->post([&] { ran = true; }); });
  other.join();
  // The post wakes the blocked recv, which goes back to waiting (without spinning) until its timeout.
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(recv_string(*h, *fd), "<EAGAIN>");
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 80ms);
  EXPECT_FALSE(ran);
  h->run_once(0ms);
  EXPECT_TRUE(ran);
}

TEST(Api, StopFromAnotherThreadEndsRun) {
  auto h = Host::loopback();
  std::thread other([&] {
    std::this_thread::sleep_for(50ms);
    h->stop();
  });
  auto t0 = std::chrono::steady_clock::now();
  h->run();
  other.join();
  EXPECT_TRUE(h->stopped());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  // After stop(), blocking calls no longer wait.
  auto fd = h->socket(ustack::kAfInet, ustack::kSockDgram);
  ASSERT_TRUE(h->bind(*fd, {Ipv4Addr(127, 0, 0, 1), 9998}));
  EXPECT_EQ(recv_string(*h, *fd), "<EAGAIN>");
}

TEST(Api, StopEndsAVirtualTimeRun) {
  auto pair = Host::memory_pair();
  ASSERT_TRUE(pair);
  int steps = 0;
  pair->a->set_on_step([&] {
    if (++steps == 3) pair->b->stop();  // either host stops the pair
  });
  // A timer to make rounds: a connect to a silent address retries its SYN.
  auto fd = pair->a->socket(ustack::kAfInet, ustack::kSockStream | ustack::kSockNonblock);
  EXPECT_EQ(pair->a->connect(*fd, {Ipv4Addr(198, 18, 0, 99), 80}).error(), Errc::kInProgress);
  pair->a->run();
  EXPECT_TRUE(pair->a->stopped());
}

TEST(Api, TapErrorsAreErrnoValues) {
  ustack::TapConfig cfg;
  cfg.ifname = "a-name-too-long-for-ifnamsiz";
  cfg.address = *ustack::Ipv4Cidr::parse("198.18.5.2/24");
  auto h = Host::tap(cfg);
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error(), Errc::kInval);
}

}  // namespace
