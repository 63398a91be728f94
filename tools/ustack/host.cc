#include "host.h"

#include <chrono>
#include <cstdio>

#include "dev/pcap.h"
#include "drivers/tap.h"

namespace ustack::cli {

namespace {

int64_t wall_base_us(const Clock& c) {
  auto wall = std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
  return wall - std::chrono::duration_cast<std::chrono::microseconds>(c.now().time_since_epoch()).count();
}

bool attach_pcap(Options& o, NetDevice& dev, const Clock& clock) {
  auto path = o.get("--pcap");
  if (!path) return true;
  auto w = PcapWriter::open(*path, wall_base_us(clock));
  if (!w) {
    std::fprintf(stderr, "ustack: cannot write %s: %s\n", path->c_str(), errc_message(w.error()));
    return false;
  }
  dev.set_capture(*w);
  return true;
}

class WireHost final : public Host {
 public:
  explicit WireHost(uint64_t seed)
      : sim_(seed), local_(sim_.add_stack("host")), peer_(sim_.add_stack("peer")) {}
  bool init(Options& o) {
    Impairments imp;
    imp.delay = std::chrono::microseconds(static_cast<int64_t>(o.get_double("--delay", 0.1) * 1000));
    imp.loss = o.get_double("--loss", 0) / 100.0;
    sim_.connect(local_, Ipv4Cidr{kLocalAddr, 24}, peer_, Ipv4Cidr{kPeerAddr, 24}, imp);
    return attach_pcap(o, *local_.devs().devices().back(), sim_.clock());
  }
  Stack& stack() override { return local_; }
  Stack* peer() override { return &peer_; }
  bool run_until(const std::function<bool()>& done, Duration limit) override {
    if (limit != Duration::max()) return sim_.run_until(done, limit);
    // Without a limit, run in 10 ms slices so that an idle simulation does not leap a year ahead.
    while (!stopped_ && !sim_.run_until(done, 10ms)) {
    }
    return done();
  }
  void stop() override { stopped_ = true; }
  bool virtual_time() const override { return true; }
  void set_on_step(std::function<void()> f) override { sim_.set_on_step(std::move(f)); }

 private:
  Sim sim_;
  volatile bool stopped_ = false;
  Stack& local_;
  Stack& peer_;
};

class TapHost final : public Host {
 public:
  explicit TapHost(uint64_t seed) : stack_(clock_, StackConfig{"tap", seed}), loop_(stack_) {
    stack_.set_waiter([this](const std::function<bool()>& cond, Duration timeout) {
      return loop_.run_until(cond, timeout);
    });
  }
  bool init(Options& o) {
    auto addr = Ipv4Cidr::parse(o.get("--addr").value_or(""));
    if (!addr) {
      std::fprintf(stderr, "ustack: --tap needs --addr A.B.C.D/PREFIX\n");
      return false;
    }
    MacAddr mac{{0x02, 0x75, 0x73, uint8_t(stack_.net().rng.next_u32()), uint8_t(stack_.net().rng.next_u32()),
                 uint8_t(stack_.net().rng.next_u32())}};
    if (auto m = o.get("--mac")) {
      auto parsed = MacAddr::parse(*m);
      if (!parsed) {
        std::fprintf(stderr, "ustack: bad --mac %s\n", m->c_str());
        return false;
      }
      mac = *parsed;
    }
    auto tap = TapDevice::open(*o.get("--tap"), mac, 1500, !o.has("--no-offload"));
    if (!tap) {
      std::fprintf(stderr, "ustack: cannot open TAP %s: %s\n", o.get("--tap")->c_str(),
                   errc_message(tap.error()));
      return false;
    }
    NetDevice& dev = stack_.add_device(std::move(*tap));
    if (!attach_pcap(o, dev, clock_)) return false;
    if (Status s = stack_.add_address(dev, *addr); !s) {
      std::fprintf(stderr, "ustack: cannot add %s: %s\n", addr->to_string().c_str(), errc_message(s.error()));
      return false;
    }
    if (auto gw = o.get("--gateway")) {
      auto g = Ipv4Addr::parse(*gw);
      if (!g || !stack_.add_default_route(*g, dev)) {
        std::fprintf(stderr, "ustack: bad --gateway %s\n", gw->c_str());
        return false;
      }
    }
    return true;
  }
  Stack& stack() override { return stack_; }
  bool run_until(const std::function<bool()>& done, Duration limit) override {
    return loop_.run_until(
        [&] {
          if (on_step_) on_step_();
          return done();
        },
        limit);
  }
  bool virtual_time() const override { return false; }
  void stop() override { loop_.stop(); }
  EventLoop* loop() override { return &loop_; }
  void set_on_step(std::function<void()> f) override { on_step_ = std::move(f); }

 private:
  RealClock clock_;
  Stack stack_;
  EventLoop loop_;
  std::function<void()> on_step_;
};

}  // namespace

std::unique_ptr<Host> make_host(Options& o) {
  auto seed = static_cast<uint64_t>(o.get_long("--seed", 1));
  if (o.has("--tap")) {
    auto h = std::make_unique<TapHost>(
        seed ^ static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
    return h->init(o) ? std::move(h) : nullptr;
  }
  auto h = std::make_unique<WireHost>(seed);
  if (!h->init(o) || !o.ok()) {
    if (!o.ok()) std::fprintf(stderr, "ustack: %s\n", o.error().c_str());
    return nullptr;
  }
  return h;
}

void enable_trace(Stack& s, const std::string& prefix) {
  s.net().trace.set_prefix(prefix);
  s.net().trace.set_sink([](std::string_view line) { std::printf("%.*s\n", int(line.size()), line.data()); });
}

}  // namespace ustack::cli
