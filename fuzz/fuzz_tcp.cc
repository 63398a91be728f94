// libFuzzer target: TCP segments against a listener and established connections (tcp_v4_rcv and all it
// reaches: tcp_rcv_state_process, tcp_conn_request, tcp_check_req, the TIME_WAIT and FIN_WAIT2 minisocks,
// the timers), interleaved with the application's socket calls, in virtual time. Each input gets a fresh
// stack, so a crash reproduces from the input alone.
//
// The stack (kUs) has a listener on port 80 (backlog 4), a connection it opened to kPeer:8080 and one it
// accepted on port 80 from kPeer:40000, both with MSS, SACK, timestamps and window scaling. The accepted
// one's peer announces an MSS of 128, so that a few sends make a window of many segments (loss recovery
// within reach of a short input); the opened one's, 1460. The input is
// a sequence of records (at most kMaxRecords), each starting with [kind: u8][delay: u8]; virtual time
// advances by the delay first (0..127: 10 ms steps; 128..255: whole seconds), running every timer due.
//   kind bit 7 clear: a segment from the peer,
//     [flags: u8][seq: u32][ack: u32][win: u16][optlen: u8][paylen: u8][options][payload]
//     bits 0-1: to the listener (from peer port 41000 + bits 5-6), the opened connection, the accepted
//               one, or closed port 81
//     bit 2:    seq as given; else seq is an offset from the last ACK number we sent on that 4-tuple
//     bit 3:    ack as given; else an offset from the end of what we last sent on it
//     bit 4:    a timestamp option first (TSval from a clock that moves with the records)
//     bit 5 (to a connection, bits 0-1 = 1 or 2): a SACK option next, [n: u8] then n % 4 blocks of
//               [back: u16][len: u16], each starting `back` bytes before the end of what we last sent
//     optlen % 41 bytes of options follow (padded with NOPs to 32-bit words), then paylen * 6 bytes of
//     payload, from the input while it lasts.
//   kind bit 7 set: a socket call, [arg: u8]; bits 0-1 the socket (listener, opened, accepted, last
//     accepted by a call), bits 2-4 the call: send arg * 16 bytes, recv, shutdown(arg % 3), close,
//     accept, SO_RCVBUF arg * 64, TCP_NODELAY, SO_LINGER {1, 0}.
// Checked: nothing crashes (ASan, UBSan), the stack never holds more socks than the sockets and the
// accept queue account for, every connection's segment counts (packets_out, sacked_out, lost_out,
// retrans_out) agree with the marks on its sent skbs, and once every socket is closed and time runs on
// for an hour, no sock and no TIME_WAIT is left.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "socket/socket.h"
#include "stack/stack.h"
#include "tcp/tcp.h"
#include "wire/ethernet.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"

namespace ustack::fuzz_tcp {
namespace {

using namespace wire;

constexpr Ipv4Addr kUs{198, 18, 0, 1};
constexpr Ipv4Addr kPeer{198, 18, 0, 2};
constexpr MacAddr kUsMac{{0x02, 0, 0, 0, 0, 1}};
constexpr MacAddr kPeerMac{{0x02, 0, 0, 0, 0, 2}};
constexpr uint16_t kListenPort = 80;
constexpr uint16_t kClosedPort = 81;
constexpr uint16_t kServerPeerPort = 8080;   // the opened connection's far end
constexpr uint16_t kClientPeerPort = 40000;  // the accepted connection's far end
constexpr int kBacklog = 4;
constexpr size_t kMaxRecords = 48;

Duration delay_of(uint8_t d) {
  return d < 128 ? Duration(std::chrono::milliseconds(10 * d)) : Duration(std::chrono::seconds(d - 128));
}

// Keeps what the stack sends just long enough to learn its sequence numbers.
class CaptureDevice final : public NetDevice {
 public:
  CaptureDevice() : NetDevice("fzt0", kUsMac, 1500, kIffBroadcast) {}
  XmitResult ndo_start_xmit(SkbPtr& skb) override {
    if (frames.size() < 4096) frames.emplace_back(skb->bytes().begin(), skb->bytes().end());
    skb.reset();
    return XmitResult::kOk;
  }
  const char* driver() const override { return "fuzz-capture"; }
  std::deque<std::vector<std::byte>> frames;
};

// What we last said on a 4-tuple: the ACK number (what we expect next) and the end of what we sent.
struct Seen {
  uint32_t expect = 0;
  uint32_t snd_end = 0;
};

class Harness {
 public:
  Harness() : stack_(clock_, StackConfig{"fuzz-tcp", 1}) {
    auto d = std::make_unique<CaptureDevice>();
    dev_ = d.get();
    stack_.add_device(std::move(d));
    (void)stack_.add_address(*dev_, Ipv4Cidr{kUs, 24});
    stack_.arp().tbl().neigh_add_permanent(kPeer, *dev_, kPeerMac);
    // Blocking calls never wait here: every socket is non-blocking.
    stack_.set_waiter([](const std::function<bool()>& cond, Duration) { return cond(); });
    settle();
    SocketApi& api = stack_.sockets();
    fds_[0] = *api.socket(kAfInet, kSockStream | kSockNonblock);
    (void)api.bind(fds_[0], SockAddrIn{Ipv4Addr::any(), kListenPort});
    (void)api.listen(fds_[0], kBacklog);
    // The connection we open: SYN, the peer's SYN-ACK with every option, our ACK.
    fds_[1] = *api.socket(kAfInet, kSockStream | kSockNonblock);
    (void)api.connect(fds_[1], SockAddrIn{kPeer, kServerPeerPort});
    settle();
    client_port_ = stack_.sockets().getsockname(fds_[1])->port;
    Seen c = seen(client_port_, kServerPeerPort);
    segment(client_port_, kServerPeerPort, kTcpSyn | kTcpAck, 1000, c.snd_end, 65535, handshake_options(),
            {});
    // The connection we accept: the peer's SYN, our SYN-ACK, the peer's ACK.
    segment(kListenPort, kClientPeerPort, kTcpSyn, 7000, 0, 65535, handshake_options(128), {});
    Seen s = seen(kListenPort, kClientPeerPort);
    segment(kListenPort, kClientPeerPort, kTcpAck, 7001, s.snd_end, 512, {}, {});
    if (auto fd = api.accept(fds_[0], nullptr, kSockNonblock)) fds_[2] = *fd;
    base_socks_ = stack_.tcp().sock_count();
  }

  ~Harness() {
    static const bool report = std::getenv("FUZZ_TCP_REPORT") != nullptr;
    if (report) std::fprintf(stderr, "%s", stack_.counters_report().c_str());
  }

  void trace_on() {
    stack_.net().trace.set_sink(
        [](std::string_view l) { std::fprintf(stderr, "%.*s\n", int(l.size()), l.data()); });
  }

  // One record; returns the bytes it used, 0 at the end of the input.
  size_t record(std::span<const uint8_t> in) {
    if (in.size() < 3) return 0;
    uint8_t kind = in[0];
    advance(delay_of(in[1]));
    if (kind & 0x80) {
      call(kind, in[2]);
      return 3;
    }
    if (in.size() < 15) return 0;
    uint8_t flags = in[2];
    uint32_t seq = load32(in.data() + 3), ack = load32(in.data() + 7);
    uint16_t win = uint16_t(in[11] << 8 | in[12]);
    size_t optlen = in[13] % 41;
    size_t paylen = size_t{in[14]} * 6;
    size_t used = 15;
    uint16_t lport = kListenPort, pport = kClientPeerPort;
    switch (kind & 3) {
      case 0:
        pport = uint16_t(41000 + ((kind >> 5) & 3));
        break;
      case 1:
        lport = client_port_;
        pport = kServerPeerPort;
        break;
      case 2:
        break;
      default:
        lport = kClosedPort;
        pport = uint16_t(41000 + ((kind >> 5) & 3));
    }
    Seen sn = seen(lport, pport);
    if (!(kind & 4)) seq += sn.expect;
    if (!(kind & 8)) ack += sn.snd_end;
    std::vector<uint8_t> opts;
    if (kind & 0x10) {
      ts_clock_ += 7;
      opts = {1, 1, 8, 10};
      for (int i = 3; i >= 0; --i) opts.push_back(uint8_t(ts_clock_ >> (8 * i)));
      for (int i = 0; i < 4; ++i) opts.push_back(0);
    }
    if ((kind & 0x20) && ((kind & 3) == 1 || (kind & 3) == 2) && used < in.size()) {
      size_t n = in[used++] % 4;
      if (n > 0) {
        opts.insert(opts.end(), {1, 1, 5, uint8_t(2 + 8 * n)});
        for (size_t b = 0; b < n; ++b) {
          uint32_t back = 0, len = 0;
          if (used + 4 <= in.size()) {
            back = uint32_t(in[used] << 8 | in[used + 1]);
            len = uint32_t(in[used + 2] << 8 | in[used + 3]);
            used += 4;
          }
          uint32_t start = sn.snd_end - back;
          for (uint32_t v : {start, start + len})
            for (int i = 3; i >= 0; --i) opts.push_back(uint8_t(v >> (8 * i)));
        }
      }
    }
    size_t take = std::min(optlen, in.size() - used);
    opts.insert(opts.end(), in.begin() + long(used), in.begin() + long(used + take));
    used += take;
    if (opts.size() > 40) opts.resize(40);  // may cut a SACK option short: a malformed one
    while (opts.size() % 4) opts.push_back(1);
    std::vector<uint8_t> payload(paylen, 0x5a);
    take = std::min(paylen, in.size() - used);
    if (take) std::memcpy(payload.data(), in.data() + used, take);
    used += take;
    segment(lport, pport, flags, seq, ack, win, opts, payload);
    return used;
  }

  // Bounded: the sockets, the connections waiting in the accept queue, and those accept() returned.
  void check_bounded() {
    size_t limit = base_socks_ + size_t(kBacklog) + 1 + accepted_.size();
    if (stack_.tcp().sock_count() > limit) {
      std::fprintf(stderr, "fuzz_tcp: %zu socks, more than the %zu accounted for\n",
                   stack_.tcp().sock_count(), limit);
      std::abort();
    }
  }

  // tcp_verify_left_out and more: the counts TCP keeps of its sent segments are the sums of the marks
  // on them. A count gone wrong would send the wrong amount (or underflow) in every later window.
  void check_counts() {
    stack_.tcp().for_each_sock([](const TcpSock& sk) {
      uint32_t packets = 0, sacked = 0, lost = 0, retrans = 0;
      for (SkBuff* skb = sk.active().sk_write_queue.front(); skb && skb != sk.active().send_head;
           skb = SkbQueue::next(skb)) {
        const TcpSkbCb& c = skb->cb<TcpSkbCb>();
        uint32_t pcount = std::max<uint32_t>(c.pcount, 1);
        packets += pcount;
        if (c.sacked & kTcpcbSackedAcked) sacked += pcount;
        if (c.sacked & kTcpcbLost) lost += pcount;
        if (c.sacked & kTcpcbRetrans) retrans += pcount;
      }
      bool ok = sk.active().packets_out == packets && sk.active().lost_out == lost &&
                sk.active().retrans_out == retrans && (!sk.sack_ok || sk.active().sacked_out == sacked) &&
                sk.active().sacked_out + sk.active().lost_out <= sk.active().packets_out;
      if (ok) return;
      std::fprintf(stderr,
                   "fuzz_tcp: sock %u -> %u (%s): packets_out %u sacked_out %u lost_out %u retrans_out %u, "
                   "the skbs say %u %u %u %u\n",
                   sk.inet_num, sk.inet_dport, tcp_state_name(sk.sk_state), sk.active().packets_out,
                   sk.active().sacked_out, sk.active().lost_out, sk.active().retrans_out, packets, sacked,
                   lost, retrans);
      std::abort();
    });
  }

  // Every socket closed, an hour later nothing may be left.
  void close_all_and_drain() {
    SocketApi& api = stack_.sockets();
    for (int& fd : fds_)
      if (fd >= 0) (void)api.close(std::exchange(fd, -1));
    for (int fd : accepted_) (void)api.close(fd);
    accepted_.clear();
    TimePoint end = clock_.now() + std::chrono::hours(1);
    for (int round = 0; round < 20000; ++round) {
      settle();
      auto next = stack_.next_deadline();
      if (!next || *next > end) break;
      clock_.set(*next);
    }
    settle();
    if (stack_.tcp().sock_count() != 0 || stack_.tcp().timewait_count() != 0) {
      std::fprintf(stderr, "fuzz_tcp: %zu socks and %zu TIME_WAIT left an hour after the last close\n",
                   stack_.tcp().sock_count(), stack_.tcp().timewait_count());
      stack_.tcp().for_each_sock([](const TcpSock& sk) {
        std::fprintf(stderr, "  sock %u -> %u %s\n", sk.inet_num, sk.inet_dport, tcp_state_name(sk.sk_state));
      });
      std::abort();
    }
  }

 private:
  static uint32_t load32(const uint8_t* p) {
    return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
  }
  static std::vector<uint8_t> handshake_options(uint16_t mss = 1460) {
    // MSS, SACK-permitted, timestamps, window scale
    return {2, 4, uint8_t(mss >> 8), uint8_t(mss), 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7};
  }

  void settle() {
    for (int i = 0; i < 10000 && stack_.poll(); ++i) {
    }
    learn();
  }

  void advance(Duration d) {
    TimePoint end = clock_.now() + d;
    for (int round = 0; round < 10000; ++round) {
      settle();
      auto next = stack_.next_deadline();
      if (!next || *next > end) break;
      clock_.set(*next);
    }
    clock_.set(end);
    settle();
  }

  // Reads what the stack sent: per 4-tuple, the ACK number and the end of the data.
  void learn() {
    while (!dev_->frames.empty()) {
      std::vector<std::byte> f = std::move(dev_->frames.front());
      dev_->frames.pop_front();
      auto eth = EthHdr::parse(f);
      if (!eth || eth->ethertype != kEthPIp) continue;
      ConstBytes ipb = ConstBytes(f).subspan(kEthHeaderLen);
      auto ip = Ipv4Hdr::parse(ipb);
      if (!ip || ip->protocol != kIpProtoTcp || ip->tot_len < ip->header_len()) continue;
      ConstBytes tb = ipb.subspan(ip->header_len(), ip->tot_len - ip->header_len());
      auto th = TcpHdr::parse(tb);
      if (!th || (th->flags & kTcpRst)) continue;
      Seen& s = seen_[key(th->source, th->dest)];
      uint32_t len = uint32_t(tb.size() - th->header_len()) + ((th->flags & kTcpSyn) ? 1 : 0) +
                     ((th->flags & kTcpFin) ? 1 : 0);
      if (th->flags & kTcpAck) s.expect = th->ack_seq;
      if (static_cast<int32_t>(th->seq + len - s.snd_end) > 0 || s.snd_end == 0) s.snd_end = th->seq + len;
    }
  }

  static uint32_t key(uint16_t lport, uint16_t pport) { return uint32_t{lport} << 16 | pport; }
  Seen seen(uint16_t lport, uint16_t pport) {
    auto it = seen_.find(key(lport, pport));
    return it == seen_.end() ? Seen{} : it->second;
  }

  void segment(uint16_t lport, uint16_t pport, uint8_t flags, uint32_t seq, uint32_t ack, uint16_t win,
               const std::vector<uint8_t>& opts, const std::vector<uint8_t>& payload) {
    size_t tcplen = kTcpHeaderLen + opts.size() + payload.size();
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
    th.source = pport;
    th.dest = lport;
    th.seq = seq;
    th.ack_seq = ack;
    th.doff = static_cast<uint8_t>((kTcpHeaderLen + opts.size()) / 4);
    th.flags = flags;
    th.window = win;
    th.emit(t);
    if (!opts.empty()) std::memcpy(t + kTcpHeaderLen, opts.data(), opts.size());
    if (!payload.empty()) std::memcpy(t + kTcpHeaderLen + opts.size(), payload.data(), payload.size());
    store_be16(t + 16,
               csum_fold(csum_pseudo(kPeer, kUs, kIpProtoTcp, uint32_t(tcplen), csum_partial(t, tcplen, 0))));
    stack_.devs().netif_rx(std::move(skb), *dev_);
    settle();
  }

  void call(uint8_t kind, uint8_t arg) {
    SocketApi& api = stack_.sockets();
    int slot = kind & 3;
    int fd = slot == 3 ? (accepted_.empty() ? -1 : accepted_.back()) : fds_[size_t(slot)];
    if (fd < 0) return;
    switch ((kind >> 2) & 7) {
      case 0: {
        std::vector<std::byte> d(size_t{arg} * 16, std::byte{0x61});
        (void)api.send(fd, d);
        break;
      }
      case 1:
        for (int i = 0; i < 64; ++i) {
          auto n = api.recv(fd, buf_);
          if (!n || *n == 0) break;
        }
        break;
      case 2:
        (void)api.shutdown(fd, arg % 3);
        break;
      case 3:
        (void)api.close(fd);
        if (slot == 3) {
          accepted_.pop_back();
        } else {
          fds_[size_t(slot)] = -1;
        }
        break;
      case 4:
        if (auto a = api.accept(fd, nullptr, kSockNonblock); a && accepted_.size() < 64) {
          accepted_.push_back(*a);
        } else if (a) {
          (void)api.close(*a);
        }
        break;
      case 5:
        (void)api.setsockopt_int(fd, kSolSocket, kSoRcvBuf, int{arg} * 64);
        break;
      case 6:
        (void)api.setsockopt_int(fd, kSolTcp, kTcpNoDelay, arg & 1);
        break;
      default: {
        Linger l{1, 0};
        (void)api.setsockopt(fd, kSolSocket, kSoLinger, std::as_bytes(std::span(&l, 1)));
        break;
      }
    }
    settle();
  }

  VirtualClock clock_;
  Stack stack_;
  CaptureDevice* dev_ = nullptr;
  std::array<int, 3> fds_{-1, -1, -1};
  std::vector<int> accepted_;
  uint16_t client_port_ = 0;
  size_t base_socks_ = 0;
  uint32_t ts_clock_ = 1000;
  std::unordered_map<uint32_t, Seen> seen_;
  static inline std::vector<std::byte> buf_ = std::vector<std::byte>(65536);
};

}  // namespace
}  // namespace ustack::fuzz_tcp

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ustack::fuzz_tcp;
  static const bool trace = std::getenv("FUZZ_TCP_TRACE") != nullptr;
  Harness h;
  if (trace) h.trace_on();
  std::span<const uint8_t> rest(data, size);
  for (size_t n = 0; n < kMaxRecords; ++n) {
    size_t used = h.record(rest);
    if (used == 0) break;
    rest = rest.subspan(used);
    h.check_bounded();
    h.check_counts();
  }
  h.close_all_and_drain();
  return 0;
}
