// Two stacks on a memory wire exchanging TCP streams, clean and impaired.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <tuple>
#include <vector>

#include "dev/pcap.h"
#include "sim/sim.h"

namespace ustack {
namespace {

constexpr Ipv4Addr kA{198, 18, 0, 1};
constexpr Ipv4Addr kB{198, 18, 0, 2};

std::vector<std::byte> pattern(size_t n, uint32_t seed) {
  std::vector<std::byte> v(n);
  uint32_t x = seed;
  for (auto& b : v) {
    x = x * 1664525 + 1013904223;
    b = std::byte(x >> 24);
  }
  return v;
}

struct Pair {
  explicit Pair(Impairments imp = {}, uint64_t seed = 1)
      : sim(seed), a(sim.add_stack("a")), b(sim.add_stack("b")) {
    sim.connect(a, Ipv4Cidr{kA, 24}, b, Ipv4Cidr{kB, 24}, imp);
    // USTACK_TEST_PCAP=FILE captures a's side of the wire, to study a failure with tshark.
    if (const char* path = std::getenv("USTACK_TEST_PCAP")) {
      if (auto w = PcapWriter::open(path)) a.devs().devices().back()->set_capture(*w);
    }
  }
  Sim sim;
  Stack& a;
  Stack& b;
};

// Moves `total` bytes each way between a client on `a` and an echo-less peer on `b` with non-blocking
// sockets, checking every byte.
void transfer_both_ways(Pair& p, size_t total, Duration limit) {
  SocketApi& sa = p.a.sockets();
  SocketApi& sb = p.b.sockets();
  int l = *sb.socket(kAfInet, kSockStream);
  ASSERT_TRUE(sb.bind(l, SockAddrIn{kB, 5001}));
  ASSERT_TRUE(sb.listen(l, 16));
  int c = *sa.socket(kAfInet, kSockStream | kSockNonblock);
  auto r = sa.connect(c, SockAddrIn{kB, 5001});
  ASSERT_EQ(r.error(), Errc::kInProgress);
  ASSERT_TRUE(p.sim.run_until([&] { return sb.accept(l, nullptr, kSockNonblock).has_value(); }, 30s));
  int s = 3;  // the lowest free descriptor after the listener
  for (int fd = 3; fd < 10; ++fd)
    if (fd != l && sb.lookup(fd)) s = fd;
  auto out_a = pattern(total, 1), out_b = pattern(total, 2);
  std::vector<std::byte> in_a, in_b;
  size_t sent_a = 0, sent_b = 0;
  std::vector<std::byte> buf(65536);
  bool ok = p.sim.run_until(
      [&] {
        if (sent_a < total) {
          if (auto n = sa.send(c, std::span(out_a).subspan(sent_a, std::min<size_t>(total - sent_a, 65536))))
            sent_a += *n;
        }
        if (sent_b < total) {
          if (auto n = sb.send(s, std::span(out_b).subspan(sent_b, std::min<size_t>(total - sent_b, 65536))))
            sent_b += *n;
        }
        while (auto n = sb.recv(s, buf)) {
          if (*n == 0) break;
          in_b.insert(in_b.end(), buf.begin(), buf.begin() + long(*n));
        }
        while (auto n = sa.recv(c, buf)) {
          if (*n == 0) break;
          in_a.insert(in_a.end(), buf.begin(), buf.begin() + long(*n));
        }
        return in_a.size() == total && in_b.size() == total;
      },
      limit);
  auto info = [](SocketApi& api, int fd) {
    auto* tp = static_cast<TcpSock*>(api.sock_of(fd));
    TcpInfo i = tp->tcp_get_info();
    return std::string(tcp_state_name(i.state)) + " ca=" + ca_state_name(i.ca_state) +
           " una=" + std::to_string(i.snd_una) + " nxt=" + std::to_string(i.snd_nxt) +
           " rcv_nxt=" + std::to_string(i.rcv_nxt) + " cwnd=" + std::to_string(i.snd_cwnd) +
           " unacked=" + std::to_string(i.unacked) + " lost=" + std::to_string(i.lost) +
           " retrans=" + std::to_string(i.retrans) + " snd_wnd=" + std::to_string(i.snd_wnd) +
           " rcv_wnd=" + std::to_string(i.rcv_wnd) + " rto_us=" + std::to_string(i.rto_us) +
           " backoff=" + std::to_string(i.backoff) +
           " send_head=" + std::to_string(tp->active().send_head != nullptr) +
           " timer=" + std::to_string(tp->timer_pending(ustack::TcpTimeout::kRetransmit)) +
           " wq=" + std::to_string(tp->active().sk_write_queue.size()) +
           " rq=" + std::to_string(tp->active().sk_receive_queue.bytes()) +
           " ofo=" + std::to_string((tp->active().ofo ? tp->active().ofo->queue.size() : 0)) +
           " err=" + std::to_string(int(tp->sk_err));
  };
  ASSERT_TRUE(ok) << "a got " << in_a.size() << ", b got " << in_b.size() << " of " << total
                  << "\n a: " << info(sa, c) << "\n b: " << info(sb, s);
  EXPECT_TRUE(in_b == out_a);
  EXPECT_TRUE(in_a == out_b);
  ASSERT_TRUE(sa.close(c));
  ASSERT_TRUE(sb.close(s));
  ASSERT_TRUE(sb.close(l));
  p.sim.run_for(200s);
  p.a.tcp().for_each_sock([](const TcpSock& t) {
    ADD_FAILURE() << "left: " << tcp_state_name(t.sk_state) << " packets_out=" << t.active().packets_out
                  << " send_head=" << (t.active().send_head != nullptr) << " una=" << t.snd_una
                  << " nxt=" << t.snd_nxt << " write_seq=" << t.write_seq << " wnd=" << t.snd_wnd
                  << " lost=" << t.active().lost_out << " retr=" << t.active().retrans_out
                  << " sacked=" << t.active().sacked_out
                  << " timer=" << t.timer_pending(ustack::TcpTimeout::kRetransmit);
  });
  EXPECT_EQ(p.a.tcp().sock_count(), 0u);
  EXPECT_EQ(p.b.tcp().sock_count(), 0u);
  EXPECT_EQ(p.a.tcp().timewait_count() + p.b.tcp().timewait_count(), 0u);
}

TEST(TcpSim, CleanWireOneMegabyteEachWay) {
  Pair p;
  transfer_both_ways(p, 1 << 20, 60s);
}

TEST(TcpSim, SixtyFourMegabytesEachWayOverLossyReorderingDuplicatingWire) {
  Impairments imp;
  imp.loss = 0.02;
  imp.reorder = 0.02;
  imp.duplicate = 0.02;
  imp.delay = 1ms;
  Pair p(imp, 7);
  transfer_both_ways(p, 64 << 20, 3600s);
  EXPECT_GT(p.a.tcp().stats().retrans_segs + p.b.tcp().stats().retrans_segs, 0u);
}

// A connection from a to a listener of b's on `port`: the client's and the accepted socket's descriptors.
std::optional<std::pair<int, int>> connect_to_listener(Pair& p, uint16_t port) {
  SocketApi& sa = p.a.sockets();
  SocketApi& sb = p.b.sockets();
  int l = *sb.socket(kAfInet, kSockStream | kSockNonblock);
  EXPECT_TRUE(sb.bind(l, SockAddrIn{kB, port}));
  EXPECT_TRUE(sb.listen(l, 16));
  int c = *sa.socket(kAfInet, kSockStream | kSockNonblock);
  (void)sa.connect(c, SockAddrIn{kB, port});
  std::optional<int> s;
  EXPECT_TRUE(p.sim.run_until(
      [&] {
        if (auto a = sb.accept(l, nullptr, kSockNonblock)) s = *a;
        return s.has_value();
      },
      30s));
  if (!s) return std::nullopt;
  return std::pair{c, *s};
}

// One way, with the stacks' TCP settings given: returns the virtual time `total` bytes took from a to b,
// every byte checked.
Duration one_way(Pair& p, size_t total) {
  SocketApi& sa = p.a.sockets();
  SocketApi& sb = p.b.sockets();
  auto conn = connect_to_listener(p, 5001);
  if (!conn) return Duration::max();
  auto [c, s] = *conn;
  auto out = pattern(total, 3);
  std::vector<std::byte> in, buf(65536);
  size_t sent = 0;
  TimePoint start = p.sim.now();
  bool ok = p.sim.run_until(
      [&] {
        while (sent < total) {
          auto n = sa.send(c, std::span(out).subspan(sent, std::min<size_t>(total - sent, 65536)));
          if (!n) break;
          sent += *n;
        }
        while (auto n = sb.recv(s, buf)) {
          if (*n == 0) break;
          in.insert(in.end(), buf.begin(), buf.begin() + long(*n));
        }
        return in.size() == total;
      },
      3600s);
  EXPECT_TRUE(ok) << "b got " << in.size() << " of " << total;
  EXPECT_TRUE(in == out);
  return p.sim.now() - start;
}

TEST(TcpSim, SackRecoveryBeatsNewRenoOverALossyWire) {
  // 1% loss each way, 1 ms round trip, the same seed: with SACK (RFC 6675) several holes of a window
  // are repaired in one round trip and a lost retransmission is resent on the next SACK; NewReno
  // repairs one hole per round trip and leaves a lost retransmission to the RTO.
  Impairments imp;
  imp.loss = 0.01;
  imp.delay = 500us;
  auto run = [&](bool sack, bool rack) {
    Pair p(imp, 11);
    p.a.tcp().sysctl().tcp_sack = sack;
    p.b.tcp().sysctl().tcp_sack = sack;
    p.a.tcp().sysctl().tcp_rack_tlp = rack;
    p.b.tcp().sysctl().tcp_rack_tlp = rack;
    Duration d = one_way(p, 16 << 20);
    const TcpStats& st = p.a.tcp().stats();
    return std::make_tuple(d, st.timeouts, st.fast_retrans, st.lost_retransmit);
  };
  auto [sack_time, sack_rtos, sack_fr, sack_lost_re] = run(true, false);  // RFC 6675 alone
  auto [reno_time, reno_rtos, reno_fr, reno_lost_re] = run(false, false);
  auto [rack_time, rack_rtos, rack_fr, rack_lost_re] = run(true, true);
  EXPECT_GT(sack_fr, 0u);
  EXPECT_GT(sack_lost_re, 0u);
  EXPECT_EQ(reno_lost_re, 0u);
  EXPECT_LT(sack_rtos, reno_rtos);
  EXPECT_LT(sack_time, reno_time);
  EXPECT_LE(rack_rtos, sack_rtos);
  EXPECT_LT(rack_time, sack_time);  // RACK marks a hole lost an RTT after it went, not 3 segments later
  std::printf(
      "16 MiB over 1%% loss, 1 ms RTT (virtual time): SACK with RACK-TLP %.0f ms, %lu RTOs; SACK (RFC 6675) "
      "%.0f ms, %lu RTOs, %lu recoveries; NewReno %.0f ms, %lu RTOs, %lu recoveries\n",
      to_ms(rack_time), (unsigned long)rack_rtos, to_ms(sack_time), (unsigned long)sack_rtos,
      (unsigned long)sack_fr, to_ms(reno_time), (unsigned long)reno_rtos, (unsigned long)reno_fr);
  (void)rack_fr;
  (void)rack_lost_re;
}

TEST(TcpSim, DsackUndoGivesBackTheWindowAReorderingPathTookAway) {
  // No loss at all, but 3% of the frames are held back by 2 ms on a 1 ms round trip: every fast
  // retransmission is needless, and each halves cwnd. The receiver reports the duplicates (D-SACK, RFC
  // 2883); a recovery all of whose retransmissions come back as duplicates is undone
  // (tcp_try_undo_dsack), which gives back cwnd and ssthresh.
  Impairments imp;
  imp.reorder = 0.03;
  imp.reorder_delay = 2ms;
  imp.delay = 500us;
  auto run = [&](bool dsack, bool rack) {
    Pair p(imp, 5);
    for (Stack* st : {&p.a, &p.b}) {
      st->tcp().sysctl().tcp_dsack = dsack;
      st->tcp().sysctl().tcp_rack_tlp = rack;
    }
    Duration d = one_way(p, 16 << 20);
    const TcpStats& st = p.a.tcp().stats();
    return std::make_tuple(d, st.fast_retrans, st.dsack_recv, st.dsack_undo);
  };
  auto [plain_time, plain_fr, plain_dsacks, plain_undos] = run(false, false);
  auto [undo_time, undo_fr, undo_dsacks, undo_undos] = run(true, false);
  auto [rack_time, rack_fr, rack_dsacks, rack_undos] = run(true, true);
  EXPECT_EQ(plain_dsacks, 0u);
  EXPECT_EQ(plain_undos, 0u);
  EXPECT_GT(undo_dsacks, 0u);
  EXPECT_GT(undo_undos, 0u);
  EXPECT_LT(undo_time, plain_time);
  std::printf(
      "16 MiB over a wire that reorders 3%% of frames by 2 ms, 1 ms RTT, no loss (virtual time): RFC 6675 "
      "without D-SACK %.0f ms (%lu recoveries); with D-SACK undo %.0f ms (%lu recoveries, %lu undone); "
      "RACK-TLP with D-SACK undo %.0f ms (%lu, %lu undone)\n",
      to_ms(plain_time), (unsigned long)plain_fr, to_ms(undo_time), (unsigned long)undo_fr,
      (unsigned long)undo_undos, to_ms(rack_time), (unsigned long)rack_fr, (unsigned long)rack_undos);
  (void)rack_dsacks;
}

// Request/response over one connection, `rounds` times: a 100-byte request, a `resp`-byte answer, each
// read whole before the next request. Returns the virtual time it took.
Duration request_response(Pair& p, int rounds, size_t resp) {
  SocketApi& sa = p.a.sockets();
  SocketApi& sb = p.b.sockets();
  auto conn = connect_to_listener(p, 5002);
  if (!conn) return Duration::max();
  auto [c, s] = *conn;
  EXPECT_TRUE(sa.setsockopt_int(c, kSolTcp, kTcpNoDelay, 1));
  EXPECT_TRUE(sb.setsockopt_int(s, kSolTcp, kTcpNoDelay, 1));
  const auto req = pattern(100, 5);
  const auto answer = pattern(resp, 6);
  std::vector<std::byte> buf(65536);
  TimePoint start = p.sim.now();
  for (int r = 0; r < rounds; ++r) {
    size_t req_in = 0, ans_sent = 0, ans_in = 0;
    EXPECT_EQ(*sa.send(c, req), req.size());
    bool ok = p.sim.run_until(
        [&] {
          while (req_in < req.size()) {
            auto n = sb.recv(s, buf);
            if (!n || *n == 0) break;
            req_in += *n;
          }
          while (req_in == req.size() && ans_sent < resp) {
            auto n = sb.send(s, std::span(answer).subspan(ans_sent));
            if (!n) break;
            ans_sent += *n;
          }
          while (auto n = sa.recv(c, buf)) {
            if (*n == 0) break;
            ans_in += *n;
          }
          return ans_in == resp;
        },
        600s);
    EXPECT_TRUE(ok) << "round " << r;
    if (!ok) return Duration::max();
  }
  return p.sim.now() - start;
}

TEST(TcpSim, TailLossProbesShortenRequestResponseOverALossyWire) {
  // 2% loss each way, 20 ms round trip, answers of 11 segments: a loss among an answer's last segments
  // leaves too few SACKed segments above it for recovery, and only the RTO (200 ms and more) or a tail
  // loss probe (two RTTs) repairs it.
  Impairments imp;
  imp.loss = 0.02;
  imp.delay = 10ms;
  auto run = [&](bool tlp) {
    Pair p(imp, 21);
    p.a.tcp().sysctl().tcp_rack_tlp = tlp;
    p.b.tcp().sysctl().tcp_rack_tlp = tlp;
    Duration d = request_response(p, 300, 16000);
    const TcpStats& st = p.b.tcp().stats();
    return std::make_tuple(d, st.timeouts, st.loss_probes);
  };
  auto [tlp_time, tlp_rtos, tlp_probes] = run(true);
  auto [rto_time, rto_rtos, rto_probes] = run(false);
  EXPECT_GT(tlp_probes, 0u);
  EXPECT_EQ(rto_probes, 0u);
  EXPECT_LT(tlp_rtos, rto_rtos);
  EXPECT_LT(tlp_time, rto_time);
  std::printf(
      "300 x (100 B request, 16 kB answer) over 2%% loss, 20 ms RTT (virtual time): tail loss probes %.0f ms "
      "(%lu probes, %lu RTOs); without %.0f ms (%lu RTOs)\n",
      to_ms(tlp_time), (unsigned long)tlp_probes, (unsigned long)tlp_rtos, to_ms(rto_time),
      (unsigned long)rto_rtos);
}

}  // namespace
}  // namespace ustack
