#include "packetdrill/runner.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <sstream>

#include "packetdrill/code_block.h"
#include "packetdrill/packets.h"
#include "packetdrill/parser.h"
#include "packetdrill/settings.h"
#include "stack/stack.h"
#include "tcp/tcp.h"
#include "wire/ethernet.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"

namespace ustack::drill {

const char* outcome_name(Outcome o) {
  switch (o) {
    case Outcome::kPass:
      return "PASS";
    case Outcome::kFail:
      return "FAIL";
    case Outcome::kSkip:
      return "SKIP";
  }
  return "?";
}

namespace {

using namespace std::chrono_literals;

// ---------------------------------------------------------------------------------------------------
// Symbols: Linux's values for the names scripts use.

const std::map<std::string, int64_t>& symbols() {
  static const std::map<std::string, int64_t> m = {
      {"AF_INET", 2},
      {"PF_INET", 2},
      {"SOCK_STREAM", 1},
      {"SOCK_DGRAM", 2},
      {"SOCK_NONBLOCK", 04000},
      {"IPPROTO_IP", 0},
      {"IPPROTO_TCP", 6},
      {"IPPROTO_UDP", 17},
      {"SOL_SOCKET", 1},
      {"SOL_TCP", 6},
      {"SOL_IP", 0},
      {"F_GETFL", 3},
      {"F_SETFL", 4},
      {"O_RDONLY", 0},
      {"O_WRONLY", 1},
      {"O_RDWR", 2},
      {"O_NONBLOCK", 04000},
      {"SHUT_RD", 0},
      {"SHUT_WR", 1},
      {"SHUT_RDWR", 2},
      {"MSG_PEEK", 0x2},
      {"MSG_DONTWAIT", 0x40},
      {"MSG_WAITALL", 0x100},
      {"MSG_EOR", 0x80},
      {"MSG_MORE", 0x8000},
      {"IP_PMTUDISC_DONT", 0},
      {"IP_PMTUDISC_WANT", 1},
      {"IP_PMTUDISC_DO", 2},
      {"IP_PMTUDISC_PROBE", 3},
      {"MSG_NOSIGNAL", 0x4000},
      {"POLLIN", 0x1},
      {"POLLPRI", 0x2},
      {"POLLOUT", 0x4},
      {"POLLERR", 0x8},
      {"POLLHUP", 0x10},
      {"POLLNVAL", 0x20},
      {"POLLRDNORM", 0x40},
      {"POLLWRNORM", 0x100},
      {"POLLRDHUP", 0x2000},
      {"NULL", 0},
      // errno values, as SO_ERROR reports them
      {"EPIPE", 32},
      {"ENETUNREACH", 101},
      {"ECONNABORTED", 103},
      {"ECONNRESET", 104},
      {"ETIMEDOUT", 110},
      {"ECONNREFUSED", 111},
      {"EHOSTUNREACH", 113},
  };
  return m;
}

struct OptName {
  int level;
  int name;
};
// The socket options ustack has (sock/sock.h), by level.
const std::map<std::string, OptName>& sockopts() {
  static const std::map<std::string, OptName> m = {
      {"SO_REUSEADDR", {kSolSocket, kSoReuseAddr}},
      {"SO_ERROR", {kSolSocket, kSoError}},
      {"SO_BROADCAST", {kSolSocket, kSoBroadcast}},
      {"SO_SNDBUF", {kSolSocket, kSoSndBuf}},
      {"SO_RCVBUF", {kSolSocket, kSoRcvBuf}},
      {"SO_KEEPALIVE", {kSolSocket, kSoKeepAlive}},
      {"SO_LINGER", {kSolSocket, kSoLinger}},
      {"SO_RCVTIMEO", {kSolSocket, kSoRcvTimeo}},
      {"SO_SNDTIMEO", {kSolSocket, kSoSndTimeo}},
      {"TCP_NODELAY", {kSolTcp, kTcpNoDelay}},
      {"TCP_MAXSEG", {kSolTcp, kTcpMaxSeg}},
      {"TCP_KEEPIDLE", {kSolTcp, kTcpKeepIdle}},
      {"TCP_KEEPINTVL", {kSolTcp, kTcpKeepIntvl}},
      {"TCP_KEEPCNT", {kSolTcp, kTcpKeepCnt}},
      {"TCP_LINGER2", {kSolTcp, kTcpLinger2}},
      {"TCP_QUICKACK", {kSolTcp, kTcpQuickAck}},
      {"TCP_CONGESTION", {kSolTcp, kTcpCongestion}},
      {"IP_TOS", {kSolIp, kIpTos}},
      {"IP_TTL", {kSolIp, kIpTtl}},
      {"IP_MTU_DISCOVER", {kSolIp, kIpMtuDiscover}},
  };
  return m;
}

const std::vector<std::string>& supported_calls() {
  static const std::vector<std::string> v = {
      "socket",     "bind",       "listen", "accept", "accept4",     "connect",    "write",
      "send",       "sendto",     "read",   "recv",   "recvfrom",    "close",      "shutdown",
      "setsockopt", "getsockopt", "fcntl",  "poll",   "getsockname", "getpeername"};
  return v;
}

struct SkipError {
  std::string reason;
};

int64_t eval_int(const Expr& e) {
  switch (e.kind) {
    case Expr::Kind::kInt:
      return e.num;
    case Expr::Kind::kIdent: {
      auto it = symbols().find(e.text);
      if (it == symbols().end())
        throw SkipError{std::string("symbol ") + e.text + " not known to the runner"};
      return it->second;
    }
    case Expr::Kind::kOr: {
      int64_t v = 0;
      for (const Expr& x : e.items) v |= eval_int(x);
      return v;
    }
    case Expr::Kind::kCall:
      if ((e.text == "htons" || e.text == "htonl" || e.text == "ntohs") && e.items.size() == 1)
        return eval_int(e.items[0]);
      throw SkipError{std::string("function ") + e.text + "() in an argument"};
    case Expr::Kind::kList:
      if (e.items.size() == 1) return eval_int(e.items[0]);
      break;
    default:
      break;
  }
  throw SkipError{std::string("expression ") + e.str() + " where a number is expected"};
}

// ---------------------------------------------------------------------------------------------------
// The device under test's wire: every frame the stack sends, with the virtual time it left.

const MacAddr kLocalMac{{0x02, 0, 0, 0, 0, 1}};
const MacAddr kRemoteMac{{0x02, 0, 0, 0, 0, 2}};

class DrillDevice final : public NetDevice {
 public:
  explicit DrillDevice(Clock& c) : NetDevice("tun0", kLocalMac, 1500, kIffBroadcast), clock_(c) {}
  XmitResult ndo_start_xmit(SkbPtr& skb) override {
    frames.push_back({clock_.now(), std::vector<std::byte>(skb->bytes().begin(), skb->bytes().end())});
    skb.reset();
    return XmitResult::kOk;
  }
  const char* driver() const override { return "packetdrill"; }
  struct Frame {
    TimePoint at;
    std::vector<std::byte> bytes;
  };
  std::deque<Frame> frames;

 private:
  Clock& clock_;
};

// ---------------------------------------------------------------------------------------------------

struct Config {
  Ipv4Addr local{192, 168, 0, 1};
  Ipv4Addr remote{192, 0, 2, 1};
  uint16_t bind_port = 8080, connect_port = 8080;
  int64_t tolerance_usecs = 4000;
  double tolerance_percent = 12.5;
};

std::string config_from_options(const Script& s, Config* cfg) {
  Config c;
  // gVisor's harness (test/packetdrill/packetdrill_test.sh) runs its scripts with
  // --tolerance_usecs=100000; a script's own option still wins.
  if (s.path.find("gvisor/") != std::string::npos) c.tolerance_usecs = 100000;
  for (const auto& [name, value] : s.options) {
    if (name == "ip_version") {
      if (value != "ipv4") return std::string("--ip_version=") + value + " (ustack is IPv4 only)";
    } else if (name == "tolerance_usecs") {
      c.tolerance_usecs = std::strtoll(value.c_str(), nullptr, 10);
    } else if (name == "tolerance_percent") {
      c.tolerance_percent = std::strtod(value.c_str(), nullptr);
    } else if (name == "local_ip" || name == "remote_ip") {
      auto a = Ipv4Addr::parse(value);
      if (!a) return std::string("--") + name + "=" + value + " (not IPv4)";
      (name == "local_ip" ? c.local : c.remote) = *a;
    } else if (name == "gateway_ip" || name == "netmask_ip" || name == "strict_segments" ||
               name == "tcp_ts_tick_usecs") {
      // gateway and netmask: the runner routes everything to the remote; strict_segments: the runner
      // compares segment by segment anyway; TS val is not checked (as packetdrill without a tick).
    } else if (name == "bind_port") {
      c.bind_port = uint16_t(std::strtol(value.c_str(), nullptr, 10));
    } else if (name == "connect_port") {
      c.connect_port = uint16_t(std::strtol(value.c_str(), nullptr, 10));
    } else {
      return std::string("script option --") + name + (value.empty() ? "" : std::string("=") + value);
    }
  }
  if (cfg) *cfg = c;
  return "";
}

}  // namespace

std::string skip_reason(const Script& s) {
  std::string r = config_from_options(s, nullptr);
  if (!r.empty()) return r;
  if (!s.directives.empty())
    return std::string("preprocessor directive ") + s.directives[0] + " (nplab extension)";
  TcpSysctl scratch;
  for (const Event& ev : s.events) {
    std::string at = std::string(" (line ") + std::to_string(ev.line) + ")";
    switch (ev.type) {
      case Event::Type::kCode: {
        // Only blocks of asserts over the TCP_INFO fields ustack has.
        TcpInfo none{};
        CodeResult c = eval_code_block(ev.text, [&](const std::string& n) { return tcpi_field(none, n); });
        if (c.kind == CodeResult::Kind::kUnsupported) return std::string("%{ }% block: ") + c.what + at;
        break;
      }
      case Event::Type::kCommand:
        r = apply_command(ev.text, scratch);
        if (!r.empty()) return r + at;
        break;
      case Event::Type::kPacket:
        if (!ev.packet.unsupported.empty()) return ev.packet.unsupported + at;
        break;
      case Event::Type::kSyscall: {
        const auto& calls = supported_calls();
        if (std::find(calls.begin(), calls.end(), ev.call.name) == calls.end())
          return ev.call.name + "()" + at;
        if ((ev.call.name == "setsockopt" || ev.call.name == "getsockopt") && ev.call.args.size() >= 3) {
          const Expr& n = ev.call.args[2];
          if (n.kind == Expr::Kind::kIdent && !sockopts().count(n.text))
            return std::string("socket option ") + n.text + at;
        }
        try {
          if (ev.call.name == "socket" && ev.call.args.size() >= 2) {
            int64_t type = eval_int(ev.call.args[1]);
            if ((type & 0xf) != 1) return std::string("non-TCP socket") + at;
          }
          if (ev.call.name == "fcntl" && ev.call.args.size() >= 2) {
            int64_t cmd = eval_int(ev.call.args[1]);
            if (cmd != 3 && cmd != 4) return std::string("fcntl command ") + ev.call.args[1].str() + at;
          }
        } catch (const SkipError& e) {
          return e.reason + at;
        }
        break;
      }
    }
  }
  return "";
}

namespace {

class Run {
 public:
  Run(const Script& s, const RunOptions& o) : s_(s), opts_(o), stack_(clock_, StackConfig{"drill", o.seed}) {}

  ScriptResult go() {
    res_.path = s_.path;
    std::string skip = skip_reason(s_);
    if (!skip.empty()) {
      res_.outcome = Outcome::kSkip;
      res_.reason = skip;
      return res_;
    }
    (void)config_from_options(s_, &cfg_);
    setup();
    try {
      while (pc_ < s_.events.size() && !failed_) step();
    } catch (const SkipError& e) {
      if (!failed_) {
        res_.outcome = Outcome::kSkip;
        res_.reason = e.reason;
      }
    }
    // Close what the script left open, as the process exit would, with the waiter made inert.
    stack_.set_waiter([](const std::function<bool()>& cond, Duration) { return cond(); });
    res_.virtual_usecs = (clock_.now() - t0_) / 1us;
    return res_;
  }

 private:
  void setup() {
    auto d = std::make_unique<DrillDevice>(clock_);
    dev_ = d.get();
    stack_.add_device(std::move(d));
    // FreeBSD, whose scripts the rfc profile runs, ACKs a FIN at once.
    if (opts_.profile == "rfc") {
      stack_.tcp().sysctl().tcp_fin_pingpong = false;
      stack_.tcp().sysctl().tcp_rack_tlp = false;  // FreeBSD's default stack sends no tail loss probes
    }
    (void)stack_.add_address(*dev_, Ipv4Cidr{cfg_.local, 16});
    // Everything off-link goes via a gateway that is the remote host's MAC: the runner answers for all.
    Ipv4Addr gw{(cfg_.local.to_u32() & 0xffff0000u) | 0xfffeu};
    stack_.arp().tbl().neigh_add_permanent(gw, *dev_, kRemoteMac);
    stack_.arp().tbl().neigh_add_permanent(cfg_.remote, *dev_, kRemoteMac);
    (void)stack_.add_default_route(gw, *dev_);
    settle();
    dev_->frames.clear();
    stack_.set_waiter(
        [this](const std::function<bool()>& cond, Duration timeout) { return wait(cond, timeout); });
    clock_.advance(1s);  // time 0 of the script
    t0_ = clock_.now();
  }

  void settle() {
    for (int i = 0; i < 100000 && stack_.poll(); ++i) {
    }
  }
  int64_t now_usecs() const { return (clock_.now() - t0_) / 1us; }
  TimePoint at(int64_t usecs) const { return t0_ + std::chrono::microseconds(usecs); }

  // Runs timers up to script time `usecs`.
  void advance_to(int64_t usecs) {
    TimePoint end = at(usecs);
    for (;;) {
      settle();
      auto next = stack_.next_deadline();
      if (!next || *next > end) break;
      clock_.set(*next);
    }
    clock_.set(end);
    settle();
  }

  int64_t start_of(const Event& ev) const {
    switch (ev.time.type) {
      case TimeType::kAbsolute:
      case TimeType::kAbsoluteRange:
        return ev.time.usecs;
      case TimeType::kRelative:
      case TimeType::kRelativeRange:
        return last_usecs_ + ev.time.usecs;
      case TimeType::kAny:
        return std::max(now_usecs(), last_usecs_);
    }
    return 0;
  }
  int64_t end_of(const Event& ev) const {
    switch (ev.time.type) {
      case TimeType::kAbsoluteRange:
        return ev.time.end_usecs;
      case TimeType::kRelativeRange:
        return last_usecs_ + ev.time.end_usecs;
      default:
        return start_of(ev);
    }
  }
  int64_t tolerance(int64_t t) const {
    int64_t pct = int64_t(double(std::max<int64_t>(0, t - last_usecs_)) * cfg_.tolerance_percent / 100.0);
    return std::max(cfg_.tolerance_usecs, pct);
  }

  void fail(const Event& ev, std::string reason, std::string expected = "", std::string actual = "") {
    if (failed_) return;
    failed_ = true;
    res_.outcome = Outcome::kFail;
    res_.line = ev.line;
    res_.source = ev.source;
    res_.reason = std::move(reason);
    res_.expected = std::move(expected);
    res_.actual = std::move(actual);
  }

  // The stack's Waiter: while a call blocks, the script's later packet events keep running.
  bool wait(const std::function<bool()>& cond, Duration timeout) {
    TimePoint end = timeout == Duration::max() ? clock_.now() + 3600s : clock_.now() + timeout;
    for (;;) {
      settle();
      if (cond()) return true;
      if (failed_) return false;
      std::optional<TimePoint> ev_at;
      if (pc_ < s_.events.size() && s_.events[pc_].type == Event::Type::kPacket)
        ev_at = std::max(clock_.now(), at(start_of(s_.events[pc_])));
      auto dl = stack_.next_deadline();
      if (ev_at && *ev_at <= end && (!dl || *ev_at <= *dl)) {
        clock_.set(*ev_at);
        settle();
        if (cond()) return true;
        step();
        continue;
      }
      if (!dl || *dl > end) {
        clock_.set(end);
        settle();
        return cond();
      }
      clock_.set(*dl);
    }
  }

  void step() {
    const Event& ev = s_.events[pc_++];
    switch (ev.type) {
      case Event::Type::kCommand: {
        std::string r = apply_command(ev.text, stack_.tcp().sysctl());
        if (!r.empty()) throw SkipError{r};
        if (ev.time.type != TimeType::kRelative || ev.time.usecs != 0) {
          advance_to(start_of(ev));
          last_usecs_ = start_of(ev);
        }
        break;
      }
      case Event::Type::kCode:
        code_block(ev);
        break;
      case Event::Type::kPacket:
        if (ev.packet.inbound)
          inbound(ev);
        else
          outbound(ev);
        break;
      case Event::Type::kSyscall:
        syscall(ev);
        break;
    }
  }

  // A %{ }% block: its asserts against the TCP_INFO of the socket under test, at the block's time.
  void code_block(const Event& ev) {
    int64_t t = start_of(ev);
    advance_to(t);
    last_usecs_ = t;
    Socket* s = sut_fd_ >= 0 ? stack_.sockets().lookup(sut_fd_) : nullptr;
    auto* tp = s && s->type() == kSockStream ? static_cast<TcpSock*>(s->sk) : nullptr;
    if (!tp) return fail(ev, "%{ }% block without a TCP socket under test");
    TcpInfo info = tp->tcp_get_info();
    CodeResult c = eval_code_block(ev.text, [&](const std::string& n) { return tcpi_field(info, n); });
    if (c.kind == CodeResult::Kind::kUnsupported) throw SkipError{std::string("%{ }% block: ") + c.what};
    if (c.kind == CodeResult::Kind::kFailed) fail(ev, "%{ }% assertion failed", "", c.what);
  }

  // --- the connection under test: ports and the ISN mapping -------------------------------------
  struct Flow {
    bool valid = false, passive = false;
    uint16_t local_port = 0, remote_port = 0;
    uint32_t script_remote_isn = 0;
    bool local_isn_known = false;
    uint32_t script_local_isn = 0, live_local_isn = 0;
    bool ts_known = false;
    uint32_t ts_offset = 0;  // live TS val - script TS val
    uint32_t local_off() const { return live_local_isn - script_local_isn; }
  };

  void new_passive_flow(uint32_t remote_isn) {
    flow_ = Flow{};
    flow_.valid = flow_.passive = true;
    flow_.local_port = cfg_.bind_port;
    flow_.remote_port = next_remote_port_++;
    flow_.script_remote_isn = remote_isn;
  }

  void inbound(const Event& ev) {
    const PacketSpec& p = ev.packet;
    int64_t t = start_of(ev);
    advance_to(t);
    last_usecs_ = t;
    bool syn_only = (p.flags & 0x02) && !(p.flags & 0x10);
    if (syn_only && (!flow_.valid || (flow_.passive && flow_.script_remote_isn != p.start))) {
      new_passive_flow(p.start);
    } else if (!flow_.valid) {
      new_passive_flow(p.start);
    }
    uint32_t off = flow_.local_isn_known ? flow_.local_off() : 0;
    std::vector<std::byte> opts;
    auto put8 = [&](uint32_t x) { opts.push_back(std::byte(uint8_t(x))); };
    auto put16 = [&](uint32_t x) { put8(x >> 8), put8(x); };
    auto put32 = [&](uint32_t x) { put16(x >> 16), put16(x); };
    for (const auto& o : p.options) {
      switch (o.kind) {
        case TcpOptionSpec::Kind::kNop:
          put8(1);
          break;
        case TcpOptionSpec::Kind::kEol:
          put8(0);
          break;
        case TcpOptionSpec::Kind::kMss:
          put8(2), put8(4), put16(o.a);
          break;
        case TcpOptionSpec::Kind::kWscale:
          put8(3), put8(3), put8(o.a);
          break;
        case TcpOptionSpec::Kind::kSackOk:
          put8(4), put8(2);
          break;
        case TcpOptionSpec::Kind::kSack:
          put8(5), put8(uint32_t(2 + 8 * o.blocks.size()));
          for (auto& b : o.blocks) put32(b.first + off), put32(b.second + off);
          break;
        case TcpOptionSpec::Kind::kTimestamp:
          put8(8), put8(10), put32(o.a), put32(o.b + (flow_.ts_known ? flow_.ts_offset : 0));
          break;
        case TcpOptionSpec::Kind::kOther:
          throw SkipError{std::string("TCP option ") + o.name};
      }
    }
    if (opts.size() > wire::kTcpMaxOptionLen) return fail(ev, "inbound TCP options longer than 40 bytes");
    while (opts.size() % 4) opts.push_back(std::byte{0});  // packetdrill pads with EOL too
    using namespace wire;
    size_t tcplen = kTcpHeaderLen + opts.size() + p.len;
    SkbPtr skb = SkBuff::alloc(64, kEthHeaderLen + kIpv4HeaderLen + tcplen);
    std::byte* b = skb->put(kEthHeaderLen + kIpv4HeaderLen + tcplen).data();
    std::memset(b, 0, kEthHeaderLen + kIpv4HeaderLen + tcplen);
    EthHdr{kLocalMac, kRemoteMac, kEthPIp}.emit(b);
    Ipv4Hdr ip;
    ip.tot_len = uint16_t(kIpv4HeaderLen + tcplen);
    ip.protocol = kIpProtoTcp;
    ip.saddr = cfg_.remote;
    ip.daddr = cfg_.local;
    ip.frag_off = kIpDf;
    if (p.ecn == "ect0")
      ip.tos = 2;
    else if (p.ecn == "ect1")
      ip.tos = 1;
    else if (p.ecn == "ce")
      ip.tos = 3;
    ip.emit(b + kEthHeaderLen);
    std::byte* th_p = b + kEthHeaderLen + kIpv4HeaderLen;
    TcpHdr th;
    th.source = flow_.remote_port;
    th.dest = flow_.local_port;
    th.seq = p.start;
    th.ack_seq = p.ack ? *p.ack + off : 0;
    th.doff = uint8_t((kTcpHeaderLen + opts.size()) / 4);
    th.flags = p.flags;
    th.window = uint16_t(p.win.value_or(0));
    th.urg_ptr = uint16_t(p.urg.value_or(0));
    th.emit(th_p);
    if (!opts.empty()) std::memcpy(th_p + kTcpHeaderLen, opts.data(), opts.size());
    store_be16(th_p + 16, csum_fold(csum_pseudo(cfg_.remote, cfg_.local, kIpProtoTcp, uint32_t(tcplen),
                                                csum_partial(th_p, tcplen, 0))));
    stack_.devs().netif_rx(std::move(skb), *dev_);
    settle();
  }

  std::optional<LiveSeg> next_live() {
    using namespace wire;
    while (!dev_->frames.empty()) {
      DrillDevice::Frame f = std::move(dev_->frames.front());
      dev_->frames.pop_front();
      auto eth = EthHdr::parse(f.bytes);
      if (!eth || eth->ethertype != kEthPIp) continue;
      ConstBytes ipb = ConstBytes(f.bytes).subspan(kEthHeaderLen);
      auto ip = Ipv4Hdr::parse(ipb);
      if (!ip || ip->protocol != kIpProtoTcp) continue;
      ConstBytes tb = ipb.subspan(ip->header_len(), ip->tot_len - ip->header_len());
      auto th = TcpHdr::parse(tb);
      if (!th) continue;
      LiveSeg s;
      s.at = f.at;
      s.sport = th->source;
      s.dport = th->dest;
      s.seq = th->seq;
      s.ack = th->ack_seq;
      s.flags = th->flags;
      s.win = th->window;
      s.urg = th->urg_ptr;
      s.tos = ip->tos;
      s.len = tb.size() - th->header_len();
      ConstBytes ob = tb.subspan(kTcpHeaderLen, th->header_len() - kTcpHeaderLen);
      for (size_t i = 0; i < ob.size();) {
        uint8_t kind = load8(ob.data() + i);
        if (kind == 0 || kind == 1) {
          s.opts.push_back({kind, {}});
          ++i;
          if (kind == 0) break;
          continue;
        }
        if (i + 1 >= ob.size()) break;
        uint8_t len = load8(ob.data() + i + 1);
        if (len < 2 || i + len > ob.size()) break;
        s.opts.push_back(
            {kind, std::vector<std::byte>(ob.begin() + long(i) + 2, ob.begin() + long(i) + len)});
        i += len;
      }
      return s;
    }
    return std::nullopt;
  }

  void outbound(const Event& ev) {
    const PacketSpec& p = ev.packet;
    int64_t t = start_of(ev), t_end = end_of(ev);
    int64_t tol = tolerance(t_end);
    bool rfc = opts_.profile == "rfc";
    if (ev.time.type == TimeType::kAny) t = now_usecs(), t_end = t + 3600'000'000LL;
    // Wait for the stack to send something, up to the end of the tolerance.
    TimePoint limit = at(t_end + tol);
    while (dev_->frames.empty()) {
      settle();
      if (!dev_->frames.empty()) break;
      auto next = stack_.next_deadline();
      if (!next || *next > limit) {
        clock_.set(std::max(clock_.now(), limit));
        settle();
        break;
      }
      clock_.set(*next);
    }
    auto sacks_only = [](const std::vector<TcpOptionSpec>& v) {
      std::vector<TcpOptionSpec> out;
      for (const auto& o : v)
        if (o.kind == TcpOptionSpec::Kind::kSack) out.push_back(o);
      return out;
    };
    std::vector<TcpOptionSpec> want_sacks = sacks_only(p.options);
    std::string want = packet_str(p.flags, p.start, p.len, p.ack, rfc ? std::nullopt : p.win,
                                  rfc ? &want_sacks : &p.options, p.any_options);
    auto live = next_live();
    // rfc profile: how often to ACK is the receiver's choice (RFC 9293 §3.8.6.3, RFC 5681 §4.2: delay
    // an ACK or send it at once, as Linux does in quickack mode). A bare ACK the script doesn't expect
    // is passed over when another packet follows it.
    while (rfc && live && live->flags == 0x10 && live->len == 0 && !dev_->frames.empty() &&
           !rfc_matches(*live, p))
      live = next_live();
    if (!live)
      return fail(ev, "no packet sent", want,
                  std::string("nothing by ") + std::to_string(t_end + tol) + "us");
    // Several smaller live segments may add up to one larger scripted one (TSO/GSO on Linux), as
    // packetdrill allows unless --strict_segments: contiguous data with the same ack, flags ORed.
    int merged = 1;
    if (!strict_segments() && live->len < p.len && !(live->flags & 0x07)) {
      while (live->len < p.len && !dev_->frames.empty()) {
        DrillDevice::Frame saved = dev_->frames.front();
        auto more = next_live();
        if (!more || more->seq != live->seq + live->len || more->ack != live->ack || (more->flags & 0x07) ||
            live->len + more->len > p.len) {
          dev_->frames.push_front(std::move(saved));
          break;
        }
        live->len += more->len;
        live->flags |= more->flags;
        live->win = more->win;
        ++merged;
      }
    }
    int64_t live_t = (live->at - t0_) / 1us;
    bool syn = live->flags & 0x02;
    // Learn the connection from the stack's SYN or SYN-ACK.
    if (syn && !(live->flags & 0x10) && (!flow_.valid || flow_.passive || flow_.local_port != live->sport)) {
      flow_ = Flow{};
      flow_.valid = true;
      flow_.local_port = live->sport;
      flow_.remote_port = live->dport;
    }
    if (syn && (p.flags & 0x02)) {
      flow_.local_isn_known = true;
      flow_.live_local_isn = live->seq;
      flow_.script_local_isn = p.start;
    }
    uint32_t off = flow_.local_isn_known ? flow_.local_off() : 0;
    uint32_t seq = live->seq - off;
    std::optional<uint32_t> ack;
    // The raw field, as packetdrill compares it (`R 1:1(0) ack 0` checks a zero ack_seq without the flag).
    if ((live->flags & 0x10) || p.ack) ack = live->ack;
    auto live_opts = to_spec(live->opts);
    // The first TS val the stack sends anchors the script's TS values (inbound ecr are shifted by it).
    for (const auto& o : live_opts) {
      if (o.kind != TcpOptionSpec::Kind::kTimestamp || flow_.ts_known) continue;
      for (const auto& so : p.options) {
        if (so.kind == TcpOptionSpec::Kind::kTimestamp) {
          flow_.ts_known = true;
          flow_.ts_offset = o.a - so.a;
        }
      }
    }
    std::vector<TcpOptionSpec> live_sacks = sacks_only(live_opts);
    std::string got = packet_str(live->flags, seq, uint32_t(live->len), ack,
                                 rfc ? std::nullopt : std::optional<uint32_t>(live->win),
                                 rfc ? &live_sacks : &live_opts, false);
    if (live->sport != flow_.local_port || live->dport != flow_.remote_port)
      return fail(ev,
                  std::string("packet on another connection (ports ") + std::to_string(live->sport) + ">" +
                      std::to_string(live->dport) + ")",
                  want, got);
    // PSH is not compared on segments added up: Linux marks PSH per skb (tcp_mark_push on the skb that
    // ends a write or a forced push; tso_fragment keeps it on the second part), so on a TSO packet it
    // reflects Linux's skb layout, which a stack sending MSS-sized segments doesn't have. packetdrill's
    // own fragment check (verify_packet_fragments, non-strict) ignores PSH the same way.
    uint8_t mask = (rfc || merged > 1) ? uint8_t(~0x08) : 0xff;
    if ((live->flags & mask) != (p.flags & mask)) return fail(ev, "flags differ", want, got);
    if (seq != p.start) return fail(ev, "seq differs", want, got);
    if (live->len != p.len || p.end - p.start != p.len) return fail(ev, "payload length differs", want, got);
    if (p.ack && (!ack || *ack != *p.ack)) return fail(ev, "ack differs", want, got);
    if (!rfc && p.win && live->win != *p.win) return fail(ev, "window differs", want, got);
    if (!p.any_options) {
      if (rfc) {
        // Only SACK blocks.
        std::vector<std::pair<uint32_t, uint32_t>> a, b;
        for (auto& o : p.options)
          if (o.kind == TcpOptionSpec::Kind::kSack) a = o.blocks;
        for (auto& o : live_opts)
          if (o.kind == TcpOptionSpec::Kind::kSack) b = o.blocks;
        if (a != b) return fail(ev, "SACK blocks differ", want, got);
      } else {
        bool same = live_opts.size() == p.options.size();
        for (size_t i = 0; same && i < live_opts.size(); ++i) {
          const auto &x = p.options[i], &y = live_opts[i];
          if (x.kind != y.kind)
            same = false;
          else if ((x.kind == TcpOptionSpec::Kind::kMss || x.kind == TcpOptionSpec::Kind::kWscale) &&
                   x.a != y.a)
            same = false;
          else if (x.kind == TcpOptionSpec::Kind::kSack && x.blocks != y.blocks)
            same = false;
          else if (x.kind == TcpOptionSpec::Kind::kTimestamp && x.b != y.b)
            same = false;  // ecr; val unchecked
        }
        if (!same) return fail(ev, "TCP options differ", want, got);
      }
    }
    if (ev.time.type != TimeType::kAny && (live_t < t - tol || live_t > t_end + tol))
      return fail(ev,
                  std::string("timing: sent at ") + std::to_string(live_t) + "us, expected " +
                      std::to_string(t) + (t_end != t ? std::string("~") + std::to_string(t_end) : "") +
                      "us +/- " + std::to_string(tol) + "us",
                  want, got);
    last_usecs_ = (ev.time.type == TimeType::kAbsolute || ev.time.type == TimeType::kRelative) ? t : live_t;
  }

  // The rfc profile's fields of a live segment against the script's: flags without PSH, seq, ack,
  // payload length and SACK blocks.
  bool rfc_matches(const LiveSeg& live, const PacketSpec& p) const {
    uint32_t off = flow_.local_isn_known ? flow_.local_off() : 0;
    if ((live.flags & ~0x08) != (p.flags & ~0x08) || live.seq - off != p.start || live.len != p.len)
      return false;
    if (p.ack && live.ack != *p.ack) return false;
    std::vector<std::pair<uint32_t, uint32_t>> a, b;
    for (const auto& o : p.options)
      if (o.kind == TcpOptionSpec::Kind::kSack) a = o.blocks;
    for (const auto& o : to_spec(live.opts))
      if (o.kind == TcpOptionSpec::Kind::kSack) b = o.blocks;
    return a == b;
  }

  // --- system calls -------------------------------------------------------------------------------
  struct CallResult {
    int64_t ret = 0;
    Errc err = Errc::kOk;
  };
  template <class T>
  static CallResult from(const Result<T>& r) {
    if (!r) return {-1, r.error()};
    if constexpr (std::is_same_v<T, void>)
      return {0, Errc::kOk};
    else
      return {int64_t(*r), Errc::kOk};
  }

  SockAddrIn sockaddr(const Expr& e, bool local) {
    SockAddrIn a{local ? cfg_.local : cfg_.remote, local ? cfg_.bind_port : cfg_.connect_port};
    if (e.kind != Expr::Kind::kStruct) return a;
    for (size_t i = 0; i < e.items.size(); ++i) {
      const std::string& f = e.fields[i];
      const Expr& v = e.items[i];
      if (f == "sin_port") a.port = uint16_t(eval_int(v));
      if (f == "sin_addr" && v.kind == Expr::Kind::kCall && v.text == "inet_addr" && !v.items.empty()) {
        auto ip = Ipv4Addr::parse(v.items[0].text);
        if (!ip) throw SkipError{std::string("address ") + v.items[0].text};
        a.addr = *ip;
      }
      if (f == "sin_family" && v.kind == Expr::Kind::kIdent && v.text == "AF_UNSPEC") a.family = kAfUnspec;
    }
    return a;
  }

  const Expr& arg(const Event& ev, size_t i) {
    static const Expr ellipsis;
    return i < ev.call.args.size() ? ev.call.args[i] : ellipsis;
  }
  int fd_arg(const Event& ev) { return int(eval_int(arg(ev, 0))); }
  // A buffer argument written as NULL (or 0): the call gets a null pointer, as the script's process would.
  static bool null_pointer(const Expr& e) {
    return (e.kind == Expr::Kind::kIdent && e.text == "NULL") || (e.kind == Expr::Kind::kInt && e.num == 0);
  }

  CallResult do_call(const Event& ev) {
    SocketApi& api = stack_.sockets();
    const std::string& n = ev.call.name;
    if (n == "socket") {
      int type = int(eval_int(arg(ev, 1)));
      auto r = api.socket(kAfInet, type);
      if (r && (type & kSockNonblock)) nonblock_[*r] = true;
      if (r) sut_fd_ = *r;
      return from(r);
    }
    if (n == "bind") return from(api.bind(fd_arg(ev), sockaddr(arg(ev, 1), true)));
    if (n == "listen") return from(api.listen(fd_arg(ev), int(eval_int(arg(ev, 1)))));
    if (n == "accept" || n == "accept4") {
      int flags = n == "accept4" ? int(eval_int(arg(ev, 3))) : 0;
      auto r = api.accept(fd_arg(ev), nullptr, flags);
      if (r) nonblock_[*r] = flags & kSockNonblock;
      if (r) sut_fd_ = *r;  // the accepted socket is the one under test from now on
      return from(r);
    }
    if (n == "connect") return from(api.connect(fd_arg(ev), sockaddr(arg(ev, 1), false)));
    if (n == "write" || n == "send" || n == "sendto") {
      size_t len = size_t(eval_int(arg(ev, 2)));
      int flags = n == "write" ? 0 : int(eval_int(arg(ev, 3)));
      std::vector<std::byte> buf(len);
      std::span<const std::byte> data(buf);
      if (null_pointer(arg(ev, 1)))
        data = std::span<const std::byte>(static_cast<const std::byte*>(nullptr), len);
      return from(api.send(fd_arg(ev), data, flags));
    }
    if (n == "read" || n == "recv" || n == "recvfrom") {
      size_t len = size_t(eval_int(arg(ev, 2)));
      int flags = n == "read" ? 0 : int(eval_int(arg(ev, 3)));
      std::vector<std::byte> buf(len);
      std::span<std::byte> into(buf);
      if (null_pointer(arg(ev, 1))) into = std::span<std::byte>(static_cast<std::byte*>(nullptr), len);
      return from(api.recv(fd_arg(ev), into, flags));
    }
    if (n == "close") {
      nonblock_.erase(fd_arg(ev));
      return from(api.close(fd_arg(ev)));
    }
    if (n == "shutdown") return from(api.shutdown(fd_arg(ev), int(eval_int(arg(ev, 1)))));
    if (n == "getsockname")
      return from(api.getsockname(fd_arg(ev)).has_value()
                      ? Status{}
                      : Status{make_error(api.getsockname(fd_arg(ev)).error())});
    if (n == "getpeername")
      return from(api.getpeername(fd_arg(ev)).has_value()
                      ? Status{}
                      : Status{make_error(api.getpeername(fd_arg(ev)).error())});
    if (n == "fcntl") {
      int64_t cmd = eval_int(arg(ev, 1));
      int fd = fd_arg(ev);
      if (cmd == 3) {  // F_GETFL
        if (!api.lookup(fd)) return {-1, Errc::kBadFd};
        return {2 | (nonblock_[fd] ? 04000 : 0), Errc::kOk};
      }
      bool nb = eval_int(arg(ev, 2)) & 04000;
      auto r = api.set_nonblock(fd, nb);
      if (r) nonblock_[fd] = nb;
      return from(r);
    }
    if (n == "setsockopt" || n == "getsockopt") return sockopt(ev, n == "setsockopt");
    if (n == "poll") return poll(ev);
    throw SkipError{std::string("system call ") + n + "()"};
  }

  OptName optname(const Expr& e) {
    if (e.kind == Expr::Kind::kIdent) {
      auto it = sockopts().find(e.text);
      if (it == sockopts().end()) throw SkipError{std::string("socket option ") + e.text};
      return it->second;
    }
    return {0, int(eval_int(e))};
  }

  CallResult sockopt(const Event& ev, bool set) {
    SocketApi& api = stack_.sockets();
    int fd = fd_arg(ev);
    int level = int(eval_int(arg(ev, 1)));
    OptName o = optname(arg(ev, 2));
    const Expr& val = arg(ev, 3);
    if (o.name == kSoLinger && level == kSolSocket) {
      Linger l{};
      if (set) {
        for (size_t i = 0; i < val.items.size(); ++i) {
          if (val.fields[i] == "l_onoff") l.l_onoff = int(eval_int(val.items[i]));
          if (val.fields[i] == "l_linger") l.l_linger = int(eval_int(val.items[i]));
        }
        return from(api.setsockopt(fd, level, o.name, std::as_bytes(std::span(&l, 1))));
      }
      auto r = api.getsockopt(fd, level, o.name, std::as_writable_bytes(std::span(&l, 1)));
      return from(r ? Status{} : Status{make_error(r.error())});
    }
    if ((o.name == kSoRcvTimeo || o.name == kSoSndTimeo) && level == kSolSocket && set) {
      Timeval tv{};
      for (size_t i = 0; i < val.items.size(); ++i) {
        if (val.fields[i] == "tv_sec") tv.tv_sec = eval_int(val.items[i]);
        if (val.fields[i] == "tv_usec") tv.tv_usec = eval_int(val.items[i]);
      }
      return from(api.setsockopt(fd, level, o.name, std::as_bytes(std::span(&tv, 1))));
    }
    if (val.kind == Expr::Kind::kString) {
      std::string s = val.text;
      if (set) return from(api.setsockopt(fd, level, o.name, std::as_bytes(std::span(s.data(), s.size()))));
      std::vector<std::byte> out(64);
      auto r = api.getsockopt(fd, level, o.name, out);
      if (!r) return {-1, r.error()};
      std::string got(reinterpret_cast<const char*>(out.data()),
                      strnlen(reinterpret_cast<const char*>(out.data()), *r));
      if (got != s)
        throw_mismatch(ev, "getsockopt value", std::string("\"") + s + "\"", std::string("\"") + got + "\"");
      return {0, Errc::kOk};
    }
    if (set) return from(api.setsockopt_int(fd, level, o.name, int(eval_int(val))));
    auto r = api.getsockopt_int(fd, level, o.name);
    if (!r) return {-1, r.error()};
    if (val.kind != Expr::Kind::kEllipsis) {
      int64_t want = eval_int(val);
      if (want != *r) throw_mismatch(ev, "getsockopt value", std::to_string(want), std::to_string(*r));
    }
    return {0, Errc::kOk};
  }

  struct Mismatch {};
  [[noreturn]] void throw_mismatch(const Event& ev, const std::string& what, std::string want,
                                   std::string got) {
    fail(ev, what + " differs", std::move(want), std::move(got));
    throw Mismatch{};
  }

  CallResult poll(const Event& ev) {
    const Expr& list = arg(ev, 0);
    std::vector<PollFd> fds;
    std::vector<std::optional<int64_t>> want;
    for (const Expr& e : list.items) {
      PollFd p;
      std::optional<int64_t> rev;
      for (size_t i = 0; i < e.items.size(); ++i) {
        if (e.fields[i] == "fd") p.fd = int(eval_int(e.items[i]));
        if (e.fields[i] == "events") p.events = uint16_t(eval_int(e.items[i]));
        if (e.fields[i] == "revents" && e.items[i].kind != Expr::Kind::kEllipsis) rev = eval_int(e.items[i]);
      }
      fds.push_back(p);
      want.push_back(rev);
    }
    int64_t ms = eval_int(arg(ev, 2));
    Duration timeout = ms < 0 ? Duration::max() : Duration(std::chrono::milliseconds(ms));
    auto r = stack_.sockets().poll(fds, timeout);
    if (!r) return {-1, r.error()};
    for (size_t i = 0; i < fds.size(); ++i) {
      if (want[i] && *want[i] != fds[i].revents)
        throw_mismatch(ev, "poll revents", std::to_string(*want[i]), std::to_string(fds[i].revents));
    }
    return {*r, Errc::kOk};
  }

  void syscall(const Event& ev) {
    int64_t start = start_of(ev);
    int64_t offset =
        (ev.time.type == TimeType::kRelative || ev.time.type == TimeType::kRelativeRange) ? last_usecs_ : 0;
    advance_to(start);
    last_usecs_ = start;
    int64_t end = ev.call.blocking ? offset + ev.call.end_usecs : start;
    CallResult r;
    try {
      r = do_call(ev);
    } catch (const Mismatch&) {
      return;
    }
    if (failed_) return;
    const SyscallSpec& c = ev.call;
    auto errname = [](Errc e) { return std::string(errc_name(e)); };
    std::string got = r.err == Errc::kOk ? std::to_string(r.ret) : std::string("-1 ") + errname(r.err);
    std::string want = c.result.kind == Expr::Kind::kEllipsis ? "..." : std::to_string(c.result.num);
    if (!c.errno_name.empty()) want += std::string(" ") + c.errno_name;
    if (c.result.kind != Expr::Kind::kEllipsis) {
      bool ok;
      if (c.result.num == -1) {
        std::string en = c.errno_name == "EWOULDBLOCK" ? "EAGAIN" : c.errno_name;
        ok = r.err != Errc::kOk && (en.empty() || errname(r.err) == en);
      } else {
        ok = r.err == Errc::kOk && r.ret == c.result.num;
      }
      if (!ok) return fail(ev, "system call result differs", want, got);
    }
    int64_t now = now_usecs();
    int64_t tol = tolerance(end);
    if (now < end - tol || now > end + tol)
      return fail(ev,
                  std::string(c.blocking ? "blocking call" : "call") + " returned at " + std::to_string(now) +
                      "us, expected " + std::to_string(end) + "us +/- " + std::to_string(tol) + "us",
                  want, got);
  }

  bool strict_segments() const {
    for (const auto& o : s_.options)
      if (o.first == "strict_segments") return true;
    return false;
  }

  const Script& s_;
  RunOptions opts_;
  Config cfg_;
  VirtualClock clock_;
  Stack stack_;
  DrillDevice* dev_ = nullptr;
  TimePoint t0_{};
  size_t pc_ = 0;
  int64_t last_usecs_ = 0;
  bool failed_ = false;
  ScriptResult res_;
  Flow flow_;
  uint16_t next_remote_port_ = 48000;
  std::map<int, bool> nonblock_;
  int sut_fd_ = -1;  // the socket under test: the last socket() or accept() result
};

}  // namespace

ScriptResult run_script(const Script& script, const RunOptions& opts) { return Run(script, opts).go(); }

ScriptResult run_script_file(const std::string& path, const RunOptions& opts) {
  ScriptResult r;
  r.path = path;
  std::ifstream f(path);
  if (!f) {
    r.outcome = Outcome::kFail;
    r.reason = "cannot read the script";
    return r;
  }
  std::stringstream ss;
  ss << f.rdbuf();
  std::string text = ss.str();
  Script s;
  try {
    s = parse_script(text, path);
  } catch (const ParseError& e) {
    r.outcome = Outcome::kFail;
    r.line = e.line;
    r.source = Lexer::line_text(text, e.line);
    r.reason = std::string("parse error: ") + e.what();
    return r;
  }
  return run_script(s, opts);
}

}  // namespace ustack::drill
