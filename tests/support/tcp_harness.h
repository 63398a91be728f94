// TcpHarness: one stack under test in virtual time, and the test as its peer. The stack sits on a
// capture device: every frame it sends is kept for the test to inspect (expect_tx), and the test injects
// segments it builds (inject). The peer's link address is a permanent neighbour, so no ARP gets in the way.
#pragma once

#include <gtest/gtest.h>

#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "stack/stack.h"
#include "wire/ethernet.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"

namespace ustack::tcptest {

inline constexpr Ipv4Addr kUs{198, 18, 0, 1};
inline constexpr Ipv4Addr kPeer{198, 18, 0, 2};
inline const MacAddr kUsMac{{0x02, 0, 0, 0, 0, 1}};
inline const MacAddr kPeerMac{{0x02, 0, 0, 0, 0, 2}};

class TcpCaptureDevice final : public NetDevice {
 public:
  TcpCaptureDevice() : NetDevice("cap0", kUsMac, 1500, kIffBroadcast) {}
  XmitResult ndo_start_xmit(SkbPtr& skb) override {
    frames.emplace_back(skb->bytes().begin(), skb->bytes().end());
    skb.reset();
    return XmitResult::kOk;
  }
  const char* driver() const override { return "capture"; }
  // TSO and checksum offload, as a NIC or veth offers them: TCP hands over skbs of several segments
  // with the checksum left partial.
  void enable_tso() { features_ |= kNetifTso | kNetifHwCsum; }
  std::deque<std::vector<std::byte>> frames;
};

// A TCP segment as the test sees it.
struct Seg {
  uint8_t flags = 0;
  uint32_t seq = 0, ack = 0;
  uint16_t win = 0;
  uint16_t sport = 0, dport = 0;
  wire::TcpOptions opt;
  std::vector<std::byte> payload;
  std::string str() const {
    return wire::tcp_flags_string(flags) + " seq=" + std::to_string(seq) + " ack=" + std::to_string(ack) +
           " win=" + std::to_string(win) + " len=" + std::to_string(payload.size());
  }
};

// What the test sends: options are added when set.
struct Out {
  Out(uint8_t f, uint32_t s, uint32_t a, uint16_t w = 65535, std::optional<uint16_t> m = std::nullopt)
      : flags(f), seq(s), ack(a), win(w), mss(m) {}
  Out& with_payload(std::string p) {
    payload = std::move(p);
    return *this;
  }
  uint8_t flags = wire::kTcpAck;
  uint32_t seq = 0, ack = 0;
  uint16_t win = 65535;
  std::optional<uint16_t> mss;
  std::optional<uint8_t> wscale;
  bool sack_ok = false;
  std::optional<std::pair<uint32_t, uint32_t>> ts;
  std::vector<std::pair<uint32_t, uint32_t>> sacks;  // SACK blocks [start, end), at most 4
  std::string payload;
  uint16_t sport = 0, dport = 0;  // 0: the harness defaults
};

class TcpHarness {
 public:
  explicit TcpHarness(uint64_t seed = 1) : stack(clock, StackConfig{"dut", seed}) {
    auto d = std::make_unique<TcpCaptureDevice>();
    dev = d.get();
    stack.add_device(std::move(d));
    EXPECT_TRUE(stack.add_address(*dev, Ipv4Cidr{kUs, 24}));
    stack.arp().tbl().neigh_add_permanent(kPeer, *dev, kPeerMac);
    settle();
    dev->frames.clear();  // the gratuitous ARP
    stack.set_waiter([this](const std::function<bool()>& cond, Duration timeout) {
      TimePoint end = timeout == Duration::max() ? clock.now() + 3600s : clock.now() + timeout;
      while (!cond()) {
        settle();
        if (cond()) break;
        auto next = stack.next_deadline();
        if (!next || *next > end) {
          clock.set(end);
          settle();
          break;
        }
        clock.set(*next);
      }
      return cond();
    });
  }

  SocketApi& api() { return stack.sockets(); }
  Tcp& tcp() { return stack.tcp(); }

  void settle() {
    for (int i = 0; i < 10000 && stack.poll(); ++i) {
    }
  }
  // Move virtual time forward, running every timer on the way.
  void advance(Duration d) {
    TimePoint end = clock.now() + d;
    for (;;) {
      settle();
      auto next = stack.next_deadline();
      if (!next || *next > end) break;
      clock.set(*next);
    }
    clock.set(end);
    settle();
  }

  void inject(const Out& o) {
    using namespace wire;
    size_t optlen = 0;
    std::vector<std::byte> opts;
    auto put = [&](std::initializer_list<uint8_t> b) {
      for (uint8_t x : b) opts.push_back(std::byte{x});
    };
    if (o.mss) put({2, 4, uint8_t(*o.mss >> 8), uint8_t(*o.mss)});
    if (o.sack_ok) put({1, 1, 4, 2});
    if (o.ts) {
      put({1, 1, 8, 10});
      for (int i = 3; i >= 0; --i) opts.push_back(std::byte(uint8_t(o.ts->first >> (8 * i))));
      for (int i = 3; i >= 0; --i) opts.push_back(std::byte(uint8_t(o.ts->second >> (8 * i))));
    }
    if (o.wscale) put({1, 3, 3, *o.wscale});
    if (!o.sacks.empty()) {
      put({1, 1, 5, uint8_t(2 + 8 * o.sacks.size())});
      for (auto [start, end] : o.sacks)
        for (uint32_t v : {start, end})
          for (int i = 3; i >= 0; --i) opts.push_back(std::byte(uint8_t(v >> (8 * i))));
    }
    while (opts.size() % 4) put({1});
    optlen = opts.size();
    size_t tcplen = kTcpHeaderLen + optlen + o.payload.size();
    SkbPtr skb = SkBuff::alloc(64, kEthHeaderLen + kIpv4HeaderLen + tcplen);
    std::byte* p = skb->put(kEthHeaderLen + kIpv4HeaderLen + tcplen).data();
    EthHdr{kUsMac, kPeerMac, kEthPIp}.emit(p);
    Ipv4Hdr ip;
    ip.tot_len = static_cast<uint16_t>(kIpv4HeaderLen + tcplen);
    ip.protocol = kIpProtoTcp;
    ip.saddr = kPeer;
    ip.daddr = kUs;
    ip.frag_off = kIpDf;
    ip.emit(p + kEthHeaderLen);
    std::byte* t = p + kEthHeaderLen + kIpv4HeaderLen;
    TcpHdr th;
    th.source = o.sport ? o.sport : peer_port;
    th.dest = o.dport ? o.dport : our_port;
    th.seq = o.seq;
    th.ack_seq = o.ack;
    th.doff = static_cast<uint8_t>((kTcpHeaderLen + optlen) / 4);
    th.flags = o.flags;
    th.window = o.win;
    th.emit(t);
    if (optlen) std::memcpy(t + kTcpHeaderLen, opts.data(), optlen);  // data() may be null when empty
    std::memcpy(t + kTcpHeaderLen + optlen, o.payload.data(), o.payload.size());
    store_be16(t + 16,
               csum_fold(csum_pseudo(kPeer, kUs, kIpProtoTcp, uint32_t(tcplen), csum_partial(t, tcplen, 0))));
    stack.devs().netif_rx(std::move(skb), *dev);
    settle();
  }

  // The next TCP segment the stack sent (other frames are skipped), or nullopt.
  std::optional<Seg> next_tx() {
    using namespace wire;
    while (!dev->frames.empty()) {
      std::vector<std::byte> f = std::move(dev->frames.front());
      dev->frames.pop_front();
      auto eth = EthHdr::parse(f);
      if (!eth || eth->ethertype != kEthPIp) continue;
      ConstBytes ipb = ConstBytes(f).subspan(kEthHeaderLen);
      auto ip = Ipv4Hdr::parse(ipb);
      if (!ip || ip->protocol != kIpProtoTcp) continue;
      ConstBytes tb = ipb.subspan(ip->header_len(), ip->tot_len - ip->header_len());
      if (!dev->has_feature(kNetifHwCsum)) {  // else the device would complete it
        EXPECT_EQ(csum_fold(csum_pseudo(ip->saddr, ip->daddr, kIpProtoTcp, uint32_t(tb.size()),
                                        csum_partial(tb, 0))),
                  0)
            << "bad TCP checksum";
      }
      auto th = TcpHdr::parse(tb);
      if (!th) continue;
      Seg s;
      s.flags = th->flags;
      s.seq = th->seq;
      s.ack = th->ack_seq;
      s.win = th->window;
      s.sport = th->source;
      s.dport = th->dest;
      s.opt = TcpOptions::parse(tb.subspan(kTcpHeaderLen, th->header_len() - kTcpHeaderLen));
      s.payload.assign(tb.begin() + long(th->header_len()), tb.end());
      return s;
    }
    return std::nullopt;
  }
  Seg expect_tx(uint8_t flags) {
    auto s = next_tx();
    EXPECT_TRUE(s.has_value()) << "expected a segment with flags " << wire::tcp_flags_string(flags);
    if (!s) return Seg{};
    EXPECT_EQ(wire::tcp_flags_string(s->flags), wire::tcp_flags_string(flags)) << s->str();
    return *s;
  }
  void expect_no_tx() {
    auto s = next_tx();
    EXPECT_FALSE(s.has_value()) << "unexpected " << s->str();
  }

  // An established connection from a non-blocking client socket: the SYN is answered by the test.
  // Returns the fd; the peer's ISN is `peer_iss` (timestamps off unless `ts`, SACK unless `sack`).
  int connect_established(uint32_t peer_iss = 5000, bool ts = false, uint16_t peer_win = 65535,
                          bool sack = false) {
    int fd = *api().socket(kAfInet, kSockStream | kSockNonblock);
    EXPECT_EQ(api().connect(fd, SockAddrIn{kPeer, peer_port}).error(), Errc::kInProgress);
    Seg syn = expect_tx(wire::kTcpSyn);
    our_port = syn.sport;
    iss = syn.seq;
    Out synack{wire::kTcpSyn | wire::kTcpAck, peer_iss, iss + 1, peer_win};
    synack.mss = 1460;
    if (ts) synack.ts = std::make_pair(100u, syn.opt.tsval);
    synack.sack_ok = sack;
    inject(synack);
    Seg ack = expect_tx(wire::kTcpAck);
    EXPECT_EQ(ack.seq, iss + 1);
    EXPECT_EQ(ack.ack, peer_iss + 1);
    return fd;
  }

  VirtualClock clock;
  Stack stack;
  TcpCaptureDevice* dev = nullptr;
  uint16_t peer_port = 8080;
  uint16_t our_port = 0;
  uint32_t iss = 0;
};

// TCP_INFO of the connection on `fd`.
inline TcpInfo info(TcpHarness& h, int fd) {
  TcpInfo i{};
  EXPECT_TRUE(h.api().getsockopt(fd, kSolTcp, kTcpInfo, std::as_writable_bytes(std::span(&i, 1))));
  return i;
}

inline std::span<const std::byte> sv_bytes(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

}  // namespace ustack::tcptest
