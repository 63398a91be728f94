// The public facade (include/ustack/ustack.h) over Stack, SocketApi, EventLoop and Sim.
//
// A Driver runs the stacks of one owner thread: one real-time stack under an EventLoop, or the two
// stacks of a memory pair under a Sim. It also holds what other threads may touch: the queue of posted
// tasks (under a mutex), the stop flag (atomic) and an eventfd that wakes the EventLoop's poll(2).
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <deque>
#include <mutex>
#include <utility>
#include <vector>

#include "dev/pcap.h"
#include "drivers/tap.h"
#include "sim/sim.h"
#include "stack/event_loop.h"
#include "stack/stack.h"

// After the internal headers: ustack.h brings ustack::api's names into ustack, where some of them
// (kPollIn, PollFd, TcpInfo, ...) also name internal entities. The code below lives in ustack::api, where
// the public names win, and spells the internal ones ustack::X.
#include "ustack/ustack.h"

namespace ustack::api {

// The public constants are Linux's values, and so are the internal ones: check that they agree.
static_assert(kSockStream == ustack::kSockStream && kSockDgram == ustack::kSockDgram);
static_assert(kSockNonblock == ustack::kSockNonblock);
static_assert(kIpProtoTcp == ustack::kIpProtoTcpNum && kIpProtoUdp == ustack::kIpProtoUdpNum);
static_assert(kSolIp == ustack::kSolIp && kSolSocket == ustack::kSolSocket && kSolTcp == ustack::kSolTcp);
static_assert(kSoReuseAddr == ustack::kSoReuseAddr && kSoError == ustack::kSoError &&
              kSoBroadcast == ustack::kSoBroadcast && kSoSndBuf == ustack::kSoSndBuf &&
              kSoRcvBuf == ustack::kSoRcvBuf && kSoKeepAlive == ustack::kSoKeepAlive &&
              kSoLinger == ustack::kSoLinger && kSoRcvTimeo == ustack::kSoRcvTimeo &&
              kSoSndTimeo == ustack::kSoSndTimeo);
static_assert(kTcpNoDelay == ustack::kTcpNoDelay && kTcpMaxSeg == ustack::kTcpMaxSeg &&
              kTcpKeepIdle == ustack::kTcpKeepIdle && kTcpKeepIntvl == ustack::kTcpKeepIntvl &&
              kTcpKeepCnt == ustack::kTcpKeepCnt && kTcpQuickAck == ustack::kTcpQuickAck &&
              kTcpCongestion == ustack::kTcpCongestion);
static_assert(kIpTos == ustack::kIpTos && kIpTtl == ustack::kIpTtl &&
              kIpMtuDiscover == ustack::kIpMtuDiscover);
static_assert(kMsgPeek == ustack::kMsgPeek && kMsgDontWait == ustack::kMsgDontWait &&
              kMsgWaitAll == ustack::kMsgWaitAll && kMsgNoSignal == ustack::kMsgNoSignal);
static_assert(kPollIn == ustack::kPollIn && kPollPri == ustack::kPollPri && kPollOut == ustack::kPollOut &&
              kPollErr == ustack::kPollErr && kPollHup == ustack::kPollHup &&
              kPollNval == ustack::kPollNval && kPollRdNorm == ustack::kPollRdNorm &&
              kPollWrNorm == ustack::kPollWrNorm && kPollRdHup == ustack::kPollRdHup);
static_assert(sizeof(Linger) == sizeof(ustack::Linger) &&
              offsetof(Linger, l_linger) == offsetof(ustack::Linger, l_linger));
static_assert(sizeof(Timeval) == sizeof(ustack::Timeval) &&
              offsetof(Timeval, tv_usec) == offsetof(ustack::Timeval, tv_usec));
static_assert(std::atomic<bool>::is_always_lock_free, "stop() must be safe in a signal handler");

namespace {

using ustack::Duration;
using ustack::TimePoint;

// A virtual-time wait without a limit ends after this much virtual time, as Sim's own waiter does.
constexpr Duration kVirtualForever = std::chrono::hours(24 * 365);

TimePoint deadline(TimePoint now, Duration timeout) {
  if (timeout >= TimePoint::max() - now) return TimePoint::max();
  return now + timeout;
}

int64_t wall_base_us(const ustack::Clock& c) {
  using std::chrono::duration_cast;
  using std::chrono::microseconds;
  auto wall = duration_cast<microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  return wall - duration_cast<microseconds>(c.now().time_since_epoch()).count();
}

uint64_t clock_seed() {
  return static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) | 1;
}

class Driver {
 public:
  static constexpr size_t kMaxHosts = 2;
  using Step = std::shared_ptr<const std::function<void()>>;

  Driver() : efd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
  virtual ~Driver() {
    if (efd_ >= 0) ::close(efd_);
  }
  Driver(const Driver&) = delete;
  Driver& operator=(const Driver&) = delete;

  virtual const ustack::Clock& clock() const = 0;
  virtual bool virtual_time() const = 0;
  // Runs the stacks until `cond()` holds, `timeout` passes or stop(); returns the last cond(). With
  // `tasks`, posted tasks run between rounds; without (a blocking socket call waits), they stay queued.
  virtual bool wait(const std::function<bool()>& cond, Duration timeout, bool tasks) = 0;
  // Posted tasks and the ready work; if no task ran, one wait of at most `max_wait`.
  virtual void run_once(Duration max_wait) = 0;

  bool run_until(const std::function<bool()>& done, Duration timeout) {
    if (timeout != Duration::max()) return wait(done, timeout, true);
    // Without a limit, in slices: virtual time must not leap years ahead in one step.
    while (!stopped())
      if (wait(done, std::chrono::hours(24), true)) return true;
    return false;
  }

  // --- any thread ---
  void post(std::function<void()> task) {
    {
      std::lock_guard lock(mu_);
      tasks_.push_back(std::move(task));
    }
    wake();
  }
  void stop() {
    stopped_.store(true, std::memory_order_relaxed);
    wake();
  }
  bool stopped() const { return stopped_.load(std::memory_order_relaxed); }

  // --- owner thread ---
  void set_step(size_t host, std::function<void()> f) {
    steps_[host] = f ? std::make_shared<const std::function<void()>>(std::move(f)) : nullptr;
  }
  // The hosts' step callbacks, not re-entered (a blocking call made by one does not run them again).
  void step() {
    if (in_step_) return;
    in_step_ = true;
    struct Reset {
      bool& b;
      ~Reset() { b = false; }
    } reset{in_step_};
    for (size_t i = 0; i < kMaxHosts; ++i) {
      Step s = steps_[i];  // a copy: the callback may replace itself
      if (s) (*s)();
    }
  }
  // Runs the tasks queued now (not those they post: a task re-posting itself must not spin here).
  // Returns whether any ran.
  bool run_posted() {
    drain_wakeups();
    if (in_tasks_) return false;
    in_tasks_ = true;
    struct Reset {
      bool& b;
      ~Reset() { b = false; }
    } reset{in_tasks_};
    size_t n;
    {
      std::lock_guard lock(mu_);
      n = tasks_.size();
    }
    for (size_t i = 0; i < n; ++i) {
      std::function<void()> task;
      {
        std::lock_guard lock(mu_);
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
    return n > 0;
  }
  // Consumes the eventfd's count, so that poll(2) sleeps again; queued tasks stay queued.
  void drain_wakeups() {
    uint64_t v;
    while (efd_ >= 0 && ::read(efd_, &v, sizeof v) > 0) {
    }
  }
  int wake_fd() const { return efd_; }

 protected:
  // Before each check of a waiting condition.
  void between_rounds(bool tasks) {
    if (tasks) {
      (void)run_posted();
    } else {
      drain_wakeups();
    }
  }

 private:
  // write(2) on an eventfd is async-signal-safe; if the counter is saturated a wake-up is pending anyway.
  void wake() {
    uint64_t one = 1;
    if (efd_ >= 0) (void)!::write(efd_, &one, sizeof one);
  }

  int efd_;
  std::atomic<bool> stopped_{false};
  std::mutex mu_;
  std::deque<std::function<void()>> tasks_;  // guarded by mu_
  std::array<Step, kMaxHosts> steps_;
  bool in_step_ = false;
  bool in_tasks_ = false;
};

// One stack in real time, driven by an EventLoop that also watches the eventfd.
class RealDriver final : public Driver {
 public:
  explicit RealDriver(uint64_t seed, std::string name)
      : stack_(clock_, ustack::StackConfig{std::move(name), seed}), loop_(stack_) {
    if (wake_fd() >= 0) loop_.watch_fd(wake_fd());
    stack_.set_waiter(
        [this](const std::function<bool()>& cond, Duration timeout) { return wait(cond, timeout, false); });
  }
  ustack::Stack& stack() { return stack_; }
  const ustack::Clock& clock() const override { return clock_; }
  bool virtual_time() const override { return false; }

  bool wait(const std::function<bool()>& cond, Duration timeout, bool tasks) override {
    TimePoint end = deadline(clock_.now(), timeout);
    for (;;) {
      between_rounds(tasks);
      if (cond()) return true;
      TimePoint now = clock_.now();
      if (stopped() || now >= end) return false;
      loop_.run_once(std::min<Duration>(end - now, std::chrono::seconds(1)));
      step();
    }
  }

  void run_once(Duration max_wait) override {
    bool ran = run_posted();
    loop_.run_once(ran || stopped() ? Duration(0) : max_wait);
    step();
  }

 private:
  ustack::RealClock clock_;
  ustack::Stack stack_;
  ustack::EventLoop loop_;
};

// Two stacks on a memory wire in virtual time.
class SimDriver final : public Driver {
 public:
  explicit SimDriver(uint64_t seed) : sim_(seed), a_(sim_.add_stack("a")), b_(sim_.add_stack("b")) {
    for (ustack::Stack* s : {&a_, &b_}) {
      s->set_waiter(
          [this](const std::function<bool()>& cond, Duration timeout) { return wait(cond, timeout, false); });
    }
    sim_.set_on_step([this] { step(); });
  }
  ustack::Sim& sim() { return sim_; }
  ustack::Stack& a() { return a_; }
  ustack::Stack& b() { return b_; }
  const ustack::Clock& clock() const override { return const_cast<ustack::Sim&>(sim_).clock(); }
  bool virtual_time() const override { return true; }

  bool wait(const std::function<bool()>& cond, Duration timeout, bool tasks) override {
    bool met = false;
    (void)sim_.run_until(
        [&] {
          between_rounds(tasks);
          met = cond();
          return met || stopped();
        },
        std::min(timeout, kVirtualForever));
    return met;
  }

  void run_once(Duration max_wait) override {
    bool ran = run_posted();
    // Settle, then (unless a task ran) advance to the next event within `max_wait`, and settle again.
    int checks = 0;
    (void)sim_.run_until([&] { return checks++ > 0 || stopped(); },
                         ran ? Duration(0) : std::min(max_wait, kVirtualForever));
  }

 private:
  ustack::Sim sim_;
  ustack::Stack& a_;
  ustack::Stack& b_;
};

}  // namespace

struct Host::Impl {
  std::shared_ptr<Driver> driver;  // shared by the two hosts of a memory pair
  ustack::Stack* stack = nullptr;
  size_t index = 0;  // which of the driver's hosts
  Ipv4Cidr address;

  ~Impl() { driver->set_step(index, {}); }
  ustack::SocketApi& sockets() const { return stack->sockets(); }
};

Host::Host(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Host::~Host() = default;

Result<std::unique_ptr<Host>> Host::tap(const TapConfig& cfg) {
  auto driver = std::make_shared<RealDriver>(cfg.seed ? cfg.seed : clock_seed(), cfg.ifname);
  ustack::Stack& stack = driver->stack();
  MacAddr mac =
      cfg.mac.value_or(MacAddr{{0x02, 0x75, 0x73, uint8_t(stack.net().rng.next_u32()),
                                uint8_t(stack.net().rng.next_u32()), uint8_t(stack.net().rng.next_u32())}});
  auto tap = ustack::TapDevice::open(cfg.ifname, mac, cfg.mtu, cfg.offload);
  if (!tap) return make_error(tap.error());
  ustack::NetDevice& dev = stack.add_device(std::move(*tap));
  if (!cfg.pcap.empty()) {
    auto w = ustack::PcapWriter::open(cfg.pcap, wall_base_us(driver->clock()));
    if (!w) return make_error(w.error());
    dev.set_capture(*w);
  }
  if (Status s = stack.add_address(dev, cfg.address); !s) return make_error(s.error());
  if (cfg.gateway) {
    if (Status s = stack.add_default_route(*cfg.gateway, dev); !s) return make_error(s.error());
  }
  auto impl = std::make_unique<Impl>();
  impl->stack = &stack;
  impl->address = cfg.address;
  impl->driver = std::move(driver);
  return std::unique_ptr<Host>(new Host(std::move(impl)));
}

std::unique_ptr<Host> Host::loopback(uint64_t seed) {
  auto driver = std::make_shared<RealDriver>(seed ? seed : clock_seed(), "lo");
  auto impl = std::make_unique<Impl>();
  impl->stack = &driver->stack();
  impl->address = Ipv4Cidr{Ipv4Addr(127, 0, 0, 1), 8};
  impl->driver = std::move(driver);
  return std::unique_ptr<Host>(new Host(std::move(impl)));
}

Result<HostPair> Host::memory_pair(const MemoryPairConfig& cfg) {
  auto driver = std::make_shared<SimDriver>(cfg.seed);
  ustack::Impairments imp;
  imp.delay = cfg.delay;
  imp.loss = cfg.loss;
  driver->sim().connect(driver->a(), cfg.a_address, driver->b(), cfg.b_address, imp);
  if (!cfg.pcap.empty()) {
    auto w = ustack::PcapWriter::open(cfg.pcap, wall_base_us(driver->clock()));
    if (!w) return make_error(w.error());
    driver->a().devs().devices().back()->set_capture(*w);
  }
  HostPair pair;
  for (size_t i = 0; i < 2; ++i) {
    auto impl = std::make_unique<Impl>();
    impl->stack = i == 0 ? &driver->a() : &driver->b();
    impl->index = i;
    impl->address = i == 0 ? cfg.a_address : cfg.b_address;
    impl->driver = driver;
    (i == 0 ? pair.a : pair.b) = std::unique_ptr<Host>(new Host(std::move(impl)));
  }
  return pair;
}

// --- socket calls ---

Result<int> Host::socket(int domain, int type, int protocol) {
  return impl_->sockets().socket(domain, type, protocol);
}
Status Host::bind(int fd, const SockAddrIn& addr) { return impl_->sockets().bind(fd, addr); }
Status Host::listen(int fd, int backlog) { return impl_->sockets().listen(fd, backlog); }
Result<int> Host::accept(int fd, SockAddrIn* peer, int flags) {
  return impl_->sockets().accept(fd, peer, flags);
}
Status Host::connect(int fd, const SockAddrIn& addr) { return impl_->sockets().connect(fd, addr); }
Result<size_t> Host::send(int fd, std::span<const std::byte> data, int flags) {
  return impl_->sockets().send(fd, data, flags);
}
Result<size_t> Host::sendto(int fd, std::span<const std::byte> data, int flags, const SockAddrIn& to) {
  return impl_->sockets().sendto(fd, data, flags, to);
}
Result<size_t> Host::recv(int fd, std::span<std::byte> buf, int flags) {
  return impl_->sockets().recv(fd, buf, flags);
}
Result<size_t> Host::recvfrom(int fd, std::span<std::byte> buf, int flags, SockAddrIn* from) {
  return impl_->sockets().recvfrom(fd, buf, flags, from);
}
Status Host::shutdown(int fd, int how) { return impl_->sockets().shutdown(fd, how); }
Status Host::close(int fd) { return impl_->sockets().close(fd); }
Result<SockAddrIn> Host::getsockname(int fd) const { return impl_->sockets().getsockname(fd); }
Result<SockAddrIn> Host::getpeername(int fd) const { return impl_->sockets().getpeername(fd); }
Status Host::setsockopt(int fd, int level, int name, std::span<const std::byte> val) {
  return impl_->sockets().setsockopt(fd, level, name, val);
}
Result<size_t> Host::getsockopt(int fd, int level, int name, std::span<std::byte> out) {
  return impl_->sockets().getsockopt(fd, level, name, out);
}
Status Host::setsockopt_int(int fd, int level, int name, int v) {
  return impl_->sockets().setsockopt_int(fd, level, name, v);
}
Result<int> Host::getsockopt_int(int fd, int level, int name) {
  return impl_->sockets().getsockopt_int(fd, level, name);
}
Status Host::set_nonblock(int fd, bool on) { return impl_->sockets().set_nonblock(fd, on); }

Result<int> Host::poll(std::span<PollFd> fds, Duration timeout) {
  std::vector<ustack::PollFd> in(fds.size());
  for (size_t i = 0; i < fds.size(); ++i) in[i] = ustack::PollFd{fds[i].fd, fds[i].events, 0};
  auto r = impl_->sockets().poll(in, timeout);
  for (size_t i = 0; i < fds.size(); ++i) fds[i].revents = in[i].revents;
  return r;
}

Result<TcpInfo> Host::tcp_info(int fd) {
  ustack::TcpInfo ti{};
  auto r = impl_->sockets().getsockopt(fd, ustack::kSolTcp, ustack::kTcpInfo,
                                       std::as_writable_bytes(std::span(&ti, 1)));
  if (!r) return make_error(r.error());
  TcpInfo out;
  out.state = static_cast<int>(ti.state);
  out.rtt_us = ti.rtt_us;
  out.rttvar_us = ti.rttvar_us;
  out.rto_us = ti.rto_us;
  out.snd_mss = ti.snd_mss;
  out.rcv_mss = ti.rcv_mss;
  out.snd_cwnd = ti.snd_cwnd;
  out.snd_ssthresh = ti.snd_ssthresh;
  out.total_retrans = ti.total_retrans;
  out.bytes_sent = ti.bytes_sent;
  out.bytes_acked = ti.bytes_acked;
  out.bytes_received = ti.bytes_received;
  out.bytes_retrans = ti.bytes_retrans;
  return out;
}

Status Host::set_event_callback(int fd, std::function<void()> cb) {
  return impl_->sockets().set_event_callback(fd, std::move(cb));
}

// --- driving ---

void Host::run_once(Duration max_wait) { impl_->driver->run_once(max_wait); }
void Host::run_for(Duration d) {
  (void)impl_->driver->run_until([] { return false; }, d);
}
bool Host::run_until(const std::function<bool()>& done, Duration timeout) {
  return impl_->driver->run_until(done, timeout);
}
void Host::run() {
  (void)impl_->driver->run_until([] { return false; }, Duration::max());
}
void Host::set_on_step(std::function<void()> f) { impl_->driver->set_step(impl_->index, std::move(f)); }

void Host::post(std::function<void()> task) { impl_->driver->post(std::move(task)); }
void Host::stop() { impl_->driver->stop(); }
bool Host::stopped() const { return impl_->driver->stopped(); }

Host::Duration Host::now() const { return impl_->driver->clock().now().time_since_epoch(); }
bool Host::virtual_time() const { return impl_->driver->virtual_time(); }
Ipv4Cidr Host::address() const { return impl_->address; }
std::string Host::counters() const { return impl_->stack->counters_report(); }

}  // namespace ustack::api
