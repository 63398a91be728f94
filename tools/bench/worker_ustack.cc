// The ustack worker (worker.h): two stacks joined by a pair of frame rings, in real time, each driven by
// a spinning loop that polls its stack and then runs its side of the test. `ustack` gives each stack a
// thread pinned to its own CPU; `ustack_1core` runs both stacks and both sides in one thread on one CPU.
// The applications use the non-blocking BSD calls, as an event-driven server would.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "drivers/ring_device.h"
#include "socket/socket.h"
#include "stack/stack.h"
#include "worker.h"

namespace ustack::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr Ipv4Addr kClientAddr{198, 18, 0, 1};
constexpr Ipv4Addr kServerAddr{198, 18, 0, 2};
constexpr uint16_t kPort = 5001;
constexpr size_t kWriteSize = 64 * 1024;

// One stack with its end of the rings, built on the thread that drives it (skb pools are per thread).
// Stacks driven by one thread may share that thread's clock (`shared`), read once per round for both.
struct Endpoint {
  RoundClock own_clock;
  RoundClock& clock;  // ticked once per loop round (poll())
  Stack stack;
  Endpoint(FrameRingPair& rings, int side, const WorkerArgs& a, RoundClock* shared = nullptr)
      : clock(shared ? *shared : own_clock),
        stack(clock, StackConfig{side == 0 ? "client" : "server", uint64_t(side + 1)}) {
    MacAddr mac{{0x02, 0x00, 0x5e, 0x10, 0x00, uint8_t(side + 1)}};
    NetDevice& dev = stack.add_device(rings.make_end(side, side == 0 ? "ring0" : "ring1", mac, a.mtu));
    static_cast<RingDevice&>(dev).set_offloads(a.offload);
    (void)stack.add_address(dev, Ipv4Cidr{side == 0 ? kClientAddr : kServerAddr, 24});
    if (a.loss_pct > 0 || a.delay_us > 0)
      static_cast<RingDevice&>(dev).set_rx_impairment(
          clock,
          RingImpairment{a.loss_pct / 100.0, std::chrono::microseconds(a.delay_us), uint64_t(side + 7)});
  }
  SocketApi& s() { return stack.sockets(); }
  void poll() {
    clock.tick();
    stack.poll();
  }
  // A round for a stack whose shared clock the driving thread has already ticked.
  void poll_ticked() { stack.poll(); }
};

// A side of a test: start() once on its thread, then step() after every stack poll until done().
class Side {
 public:
  virtual ~Side() = default;
  virtual bool start(SocketApi& s) = 0;
  virtual void step(SocketApi& s) = 0;
  bool done() const { return done_.load(std::memory_order_acquire); }
  bool failed() const { return failed_; }
  // A server that finishes on its own (bulk: at the client's FIN) rather than when the client is done.
  virtual bool ends_by_itself() const { return false; }

 protected:
  void finish() { done_.store(true, std::memory_order_release); }
  void fail(const char* what) {
    std::fprintf(stderr, "ustack worker: %s\n", what);
    failed_ = true;
    finish();
  }
  std::atomic<bool> done_{false};
  bool failed_ = false;
};

int open_listener(SocketApi& s, int backlog) {
  auto fd = s.socket(kAfInet, kSockStream | kSockNonblock, 0);
  if (!fd) return -1;
  (void)s.setsockopt_int(*fd, kSolSocket, kSoReuseAddr, 1);
  if (!s.bind(*fd, SockAddrIn{kServerAddr, kPort}) || !s.listen(*fd, backlog)) return -1;
  return *fd;
}

int open_client(SocketApi& s, bool nodelay) {
  auto fd = s.socket(kAfInet, kSockStream | kSockNonblock, 0);
  if (!fd) return -1;
  if (nodelay) (void)s.setsockopt_int(*fd, kSolTcp, kTcpNoDelay, 1);
  auto r = s.connect(*fd, SockAddrIn{kServerAddr, kPort});
  if (!r && r.error() != Errc::kInProgress) {
    (void)s.close(*fd);
    return -1;
  }
  return *fd;
}

// ---- bulk: the client writes 64 KiB at a time; the server reads and times the stream ----

class BulkClient final : public Side {
 public:
  explicit BulkClient(const WorkerArgs& a) : a_(a), buf_(kWriteSize, std::byte{'x'}) {}
  bool start(SocketApi& s) override {
    fd_ = open_client(s, false);
    end_ = SteadyClock::now() +
           std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(a_.seconds + 0.1));
    return fd_ >= 0;
  }
  void step(SocketApi& s) override {
    if (done()) return;
    for (;;) {
      bool enough = a_.bytes ? sent_ >= a_.bytes : SteadyClock::now() >= end_;
      if (enough) {
        (void)s.close(fd_);  // the rest drains from the orphan; the server sees the FIN
        finish();
        return;
      }
      size_t n = kWriteSize;
      if (a_.bytes) n = static_cast<size_t>(std::min<uint64_t>(n, a_.bytes - sent_));
      auto r = s.send(fd_, std::span(buf_.data(), n));
      if (!r) {
        if (r.error() != Errc::kAgain) fail("bulk send failed");
        return;
      }
      sent_ += *r;
    }
  }

 private:
  const WorkerArgs& a_;
  std::vector<std::byte> buf_;
  int fd_ = -1;
  uint64_t sent_ = 0;
  SteadyClock::time_point end_;
};

class BulkServer final : public Side {
 public:
  BulkServer() : buf_(kWriteSize) {}
  bool ends_by_itself() const override { return true; }
  bool start(SocketApi& s) override {
    lfd_ = open_listener(s, 16);
    return lfd_ >= 0;
  }
  void step(SocketApi& s) override {
    if (done()) return;
    if (fd_ < 0) {
      auto c = s.accept(lfd_, nullptr, kSockNonblock);
      if (!c) return;
      fd_ = *c;
    }
    for (;;) {
      auto r = s.recv(fd_, buf_);
      if (!r) {
        if (r.error() != Errc::kAgain) fail("bulk recv failed");
        return;
      }
      if (*r == 0) {
        t1_ = SteadyClock::now();
        cpu1_ = busy_cpu_seconds();
        (void)s.close(fd_);
        (void)s.close(lfd_);
        finish();
        return;
      }
      if (bytes_ == 0) {
        t0_ = SteadyClock::now();
        cpu0_ = busy_cpu_seconds();
      }
      bytes_ += *r;
    }
  }
  void report() const {
    double secs = std::chrono::duration<double>(t1_ - t0_).count();
    if (secs <= 0 || bytes_ == 0) return;
    print_result("gbps", double(bytes_) * 8 / secs / 1e9, "Gbit/s");
    print_result("cpu_s_per_gb", (cpu1_ - cpu0_) / (double(bytes_) / 1e9), "s/GB");
    print_result("bytes", double(bytes_), "B");
  }

 private:
  std::vector<std::byte> buf_;
  int lfd_ = -1, fd_ = -1;
  uint64_t bytes_ = 0;
  SteadyClock::time_point t0_, t1_;
  double cpu0_ = 0, cpu1_ = 0;
};

// ---- rr: one byte each way, the client times each round trip ----

class RrClient final : public Side {
 public:
  explicit RrClient(const WorkerArgs& a) : a_(a) {}
  bool start(SocketApi& s) override {
    fd_ = open_client(s, true);
    lat_ns_.reserve(4 << 20);
    return fd_ >= 0;
  }
  void step(SocketApi& s) override {
    if (done()) return;
    std::byte b{'q'};
    if (!waiting_) {
      auto r = s.send(fd_, std::span(&b, 1));
      if (!r) {
        if (r.error() != Errc::kAgain) fail("rr send failed");
        return;
      }
      sent_at_ = SteadyClock::now();
      if (!started_) {
        started_ = true;
        measure_from_ = sent_at_ + std::chrono::milliseconds(200);
        end_ = measure_from_ +
               std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(a_.seconds));
      }
      waiting_ = true;
    }
    auto r = s.recv(fd_, std::span(&b, 1));
    if (!r) {
      if (r.error() != Errc::kAgain) fail("rr recv failed");
      return;
    }
    if (*r == 0) return fail("rr: server closed");
    auto now = SteadyClock::now();
    waiting_ = false;
    if (now >= measure_from_ && lat_ns_.size() < lat_ns_.capacity())
      lat_ns_.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(now - sent_at_).count());
    if (now >= end_) {
      (void)s.close(fd_);
      finish();
    }
  }
  void report() {
    if (lat_ns_.empty()) return;
    auto pct = [this](double p) {
      size_t i = std::min(lat_ns_.size() - 1, static_cast<size_t>(p * double(lat_ns_.size())));
      std::nth_element(lat_ns_.begin(), lat_ns_.begin() + long(i), lat_ns_.end());
      return double(lat_ns_[i]) / 1e3;
    };
    print_result("p50_us", pct(0.50), "us");
    print_result("p99_us", pct(0.99), "us");
    print_result("round_trips", double(lat_ns_.size()), "count");
  }

 private:
  const WorkerArgs& a_;
  int fd_ = -1;
  bool waiting_ = false, started_ = false;
  SteadyClock::time_point sent_at_, measure_from_, end_;
  std::vector<int64_t> lat_ns_;
};

// Echoes every byte back (rr), or answers one byte and closes (crr); serves many connections at once.
class EchoServer final : public Side {
 public:
  explicit EchoServer(bool close_after_reply) : close_after_reply_(close_after_reply) {}
  bool start(SocketApi& s) override {
    lfd_ = open_listener(s, 1024);
    return lfd_ >= 0;
  }
  void step(SocketApi& s) override {
    for (;;) {
      auto c = s.accept(lfd_, nullptr, kSockNonblock);
      if (!c) break;
      (void)s.setsockopt_int(*c, kSolTcp, kTcpNoDelay, 1);
      conns_.push_back(*c);
    }
    std::byte buf[64];
    for (size_t i = 0; i < conns_.size();) {
      int fd = conns_[i];
      auto r = s.recv(fd, buf);
      bool drop = false;
      if (!r) {
        drop = r.error() != Errc::kAgain;
      } else if (*r == 0) {
        drop = true;
      } else {
        (void)s.send(fd, std::span(buf, *r));
        drop = close_after_reply_;
      }
      if (drop) {
        (void)s.close(fd);
        conns_[i] = conns_.back();
        conns_.pop_back();
      } else {
        ++i;
      }
    }
  }

 private:
  bool close_after_reply_;
  int lfd_ = -1;
  std::vector<int> conns_;
};

// ---- crr: connect, one byte each way, the server closes, the client reads the end and closes ----

class CrrClient final : public Side {
 public:
  explicit CrrClient(const WorkerArgs& a) : a_(a) {}
  bool start(SocketApi&) override {
    t0_ = SteadyClock::now();
    end_ = t0_ + std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(a_.seconds));
    return true;
  }
  void step(SocketApi& s) override {
    if (done()) return;
    std::byte b{'c'};
    switch (state_) {
      case State::kIdle:
        if (SteadyClock::now() >= end_) {
          t1_ = SteadyClock::now();
          finish();
          return;
        }
        fd_ = open_client(s, true);
        if (fd_ < 0) return fail("crr connect failed");
        state_ = State::kConnecting;
        [[fallthrough]];
      case State::kConnecting: {
        auto r = s.send(fd_, std::span(&b, 1));  // EAGAIN until the handshake completes
        if (!r) {
          if (r.error() != Errc::kAgain) return fail("crr send failed");
          return;
        }
        state_ = State::kAwaitReply;
        [[fallthrough]];
      }
      case State::kAwaitReply:
      case State::kAwaitEnd: {
        auto r = s.recv(fd_, std::span(&b, 1));
        if (!r) {
          if (r.error() != Errc::kAgain) return fail("crr recv failed");
          return;
        }
        if (*r == 1) {
          state_ = State::kAwaitEnd;
          return;
        }
        (void)s.close(fd_);
        ++count_;
        state_ = State::kIdle;
        return;
      }
    }
  }
  void report() const {
    double secs = std::chrono::duration<double>(t1_ - t0_).count();
    if (secs > 0) print_result("per_s", double(count_) / secs, "conn/s");
    print_result("connections", double(count_), "count");
  }

 private:
  enum class State { kIdle, kConnecting, kAwaitReply, kAwaitEnd };
  const WorkerArgs& a_;
  State state_ = State::kIdle;
  int fd_ = -1;
  uint64_t count_ = 0;
  SteadyClock::time_point t0_, t1_, end_;
};

// ---- drivers ----

// Polls the stack and runs the side until it is done or `stop` is set.
void spin(Endpoint& e, Side& side, const std::atomic<bool>* stop = nullptr) {
  while (!side.done() && !(stop && stop->load(std::memory_order_acquire))) {
    e.poll();
    side.step(e.s());
  }
}

struct Ring {
  uint32_t slots, frame_max;
};
// Slots of one MTU-sized frame, or of a 64 KiB TSO frame where bulk data moves with offloads.
Ring ring_for(const WorkerArgs& a) {
  uint32_t frame_max = a.mtu + 14;
  if (a.offload && a.test == "bulk") frame_max = std::max<uint32_t>(frame_max, 65535 + 14);
  return {frame_max > 9000 ? 64u : 1024u, frame_max};
}

// Client on CPU A, server on CPU B, one thread each.
bool run_two_threads(const WorkerArgs& a, Side& client, Side& server) {
  Ring r = ring_for(a);
  FrameRingPair rings(r.slots, r.frame_max);
  std::atomic<bool> client_done{false};
  std::atomic<int> server_state{0};  // 1 listening, -1 failed to start
  std::thread srv([&] {
    pin_to_cpu(a.cpu_server);
    Endpoint e(rings, 1, a);
    if (!server.start(e.s())) {
      server_state.store(-1);
      return;
    }
    server_state.store(1);
    spin(e, server, &client_done);
    // Keep the stack answering until the client has finished its last exchange.
    while (!client_done.load(std::memory_order_acquire)) e.poll();
  });
  pin_to_cpu(a.cpu_client);
  while (server_state.load() == 0) std::this_thread::yield();
  bool ok = server_state.load() == 1;
  if (ok) {
    Endpoint e(rings, 0, a);
    ok = client.start(e.s());
    if (ok) spin(e, client);
    // The client's stack stays up while the server still needs it (bulk: the data and FIN in flight).
    auto limit = SteadyClock::now() + std::chrono::seconds(30);
    while (ok && server.ends_by_itself() && !server.done() && SteadyClock::now() < limit) e.poll();
  }
  client_done.store(true, std::memory_order_release);
  srv.join();
  return ok && !client.failed() && !server.failed();
}

// Both stacks and both sides in this thread, on CPU A.
bool run_one_thread(const WorkerArgs& a, Side& client, Side& server) {
  pin_to_cpu(a.cpu_client);
  Ring r = ring_for(a);
  FrameRingPair rings(r.slots, r.frame_max);
  // One clock read per round for both stacks: the benchmark's own cost, not the stacks'.
  RoundClock clock;
  Endpoint se(rings, 1, a, &clock);
  Endpoint ce(rings, 0, a, &clock);
  if (!server.start(se.s()) || !client.start(ce.s())) return false;
  auto limit = SteadyClock::time_point::max();
  while (!client.done() || (server.ends_by_itself() && !server.done())) {
    clock.tick();
    ce.poll_ticked();
    se.poll_ticked();
    client.step(ce.s());
    server.step(se.s());
    if (client.done()) {
      if (limit == SteadyClock::time_point::max()) limit = SteadyClock::now() + std::chrono::seconds(30);
      if (SteadyClock::now() > limit) break;
    }
  }
  return !client.failed() && !server.failed();
}

// ---- idle: memory per established connection ----

int run_idle(const WorkerArgs& a) {
  Ring r = ring_for(a);
  FrameRingPair rings(r.slots, r.frame_max);
  Endpoint se(rings, 1, a);
  Endpoint ce(rings, 0, a);
  SocketApi& ss = se.s();
  SocketApi& cs = ce.s();
  int lfd = open_listener(ss, 4096);
  if (lfd < 0) return 1;
  auto drive = [&] {
    for (int i = 0; i < 4; ++i) {
      ce.poll();
      se.poll();
    }
  };
  // Warm up: ARP, pools and tables that do not grow per connection, such as the count of TIME_WAIT
  // connections per port that the first TIME_WAIT allocates. The connection is closed at both ends and
  // driven until its socks are gone (the client's into TIME_WAIT), so that none of it lands in the
  // measurement.
  {
    int fd = open_client(cs, false);
    Result<int> sfd = ss.accept(lfd, nullptr, kSockNonblock);
    while (!sfd) {
      drive();
      sfd = ss.accept(lfd, nullptr, kSockNonblock);
    }
    (void)cs.close(fd);
    (void)ss.close(*sfd);
    auto until = SteadyClock::now() + std::chrono::seconds(5);
    while ((ce.stack.tcp().sock_count() > 0 || se.stack.tcp().sock_count() > 1) && SteadyClock::now() < until)
      drive();
    for (int i = 0; i < 100; ++i) drive();
  }
  std::vector<int> clients, servers;
  clients.reserve(a.conns);
  servers.reserve(a.conns);
  size_t before = heap_in_use();
  auto deadline = SteadyClock::now() + std::chrono::seconds(60);
  while (servers.size() < a.conns && SteadyClock::now() < deadline) {
    // Keep a window of 64 handshakes in flight, as a client pool opening connections would and as the
    // lwIP worker does: what the stack keeps for a burst of handshakes is not per connection.
    while (clients.size() < a.conns && clients.size() < servers.size() + 64) {
      int fd = open_client(cs, false);
      if (fd < 0) break;
      clients.push_back(fd);
    }
    drive();
    for (;;) {
      auto c = ss.accept(lfd, nullptr, kSockNonblock);
      if (!c) break;
      servers.push_back(*c);
    }
  }
  for (int i = 0; i < 200; ++i) drive();
  size_t after = heap_in_use();
  if (servers.size() < a.conns) {
    std::fprintf(stderr, "ustack worker: only %zu of %u connections established\n", servers.size(), a.conns);
    return 1;
  }
  // The two vectors of descriptors are the benchmark's own, not the stack's.
  size_t own = (clients.capacity() + servers.capacity()) * sizeof(int);
  double per = (double(after) - double(before) - double(own)) / double(2 * a.conns);
  print_result("bytes_per_conn", per, "B");
  for (int fd : clients) (void)cs.close(fd);
  for (int fd : servers) (void)ss.close(fd);
  return 0;
}

}  // namespace

int run_ustack_worker(const WorkerArgs& args) {
  WorkerArgs a = args;
  bool one_core = a.system == "ustack_1core";
  if (a.system == "ustack_nooffload") {
    a.offload = false;  // as `ustack`, over rings that carry MTU-sized, checksummed frames
  } else if (!one_core && a.system != "ustack") {
    std::fprintf(stderr, "ustack worker: unknown system %s\n", a.system.c_str());
    return 1;
  }
  auto run = [&](Side& client, Side& server) {
    return one_core ? run_one_thread(a, client, server) : run_two_threads(a, client, server);
  };
  if (a.test == "bulk") {
    BulkClient client(a);
    BulkServer server;
    if (!run(client, server)) return 1;
    server.report();
    return 0;
  }
  if (a.test == "rr") {
    RrClient client(a);
    EchoServer server(false);
    if (!run(client, server)) return 1;
    client.report();
    return 0;
  }
  if (a.test == "crr") {
    CrrClient client(a);
    EchoServer server(true);
    if (!run(client, server)) return 1;
    client.report();
    return 0;
  }
  if (a.test == "idle") return run_idle(a);
  std::fprintf(stderr, "ustack worker: unknown test %s\n", a.test.c_str());
  return 1;
}

}  // namespace ustack::bench
