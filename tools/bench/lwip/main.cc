// ustack-bench-lwip: the benchmark worker (tools/bench/worker.h) for lwIP, as a program of its own so
// that lwIP's C library and its global state stay out of the ustack binary.
//
//   lwip         an lwIP client and an lwIP server, one stack per process, over two FrameRings in a
//                shared mapping made before fork(). The child serves; the parent runs the test and
//                prints the results.
//   lwip_ustack  an lwIP client and a ustack server in one process, each on its own thread.
//
// lwIP runs without its tcpip thread (lwip_init(), not tcpip_init()): the thread that owns a stack
// spins over the ring and sys_check_timeouts(), as the ustack worker spins over its stack, and calls
// the raw TCP API directly. lwIP is used as Debian ships it (lwipopts.h is its configuration); only
// per-connection settings the API offers are touched (tcp_nagle_disable for rr and crr).
#include <malloc.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "control.h"
#include "drivers/ring_device.h"  // before lwIP: its macros collide with ustack names
#include "lwip/init.h"
#include "lwip/ip.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "ring_netif.h"
#include "ustack_server.h"
#include "worker.h"

namespace ustack::bench::lwip {
namespace {

double seconds_since(uint64_t t0) { return double(now_ns() - t0) / 1e9; }

void print_lwip_settings(const WorkerArgs& a) {
  std::printf("INFO lwip version %s (Debian liblwip, lwipopts.h as shipped), raw TCP API, no tcpip thread\n",
              LWIP_VERSION_STRING);
  std::printf(
      "INFO lwip TCP_MSS %d TCP_WND %d TCP_SND_BUF %d LWIP_WND_SCALE %d TCP_RCV_SCALE %d "
      "TCP_SND_QUEUELEN %d\n",
      int(TCP_MSS), int(TCP_WND), int(TCP_SND_BUF), int(LWIP_WND_SCALE), int(TCP_RCV_SCALE),
      int(TCP_SND_QUEUELEN));
  std::printf("INFO lwip netif mtu %u (segments stay at most TCP_MSS %d bytes)\n",
              unsigned(std::min(a.mtu, 65535u)), int(TCP_MSS));
  std::fflush(stdout);
}

// One lwIP stack in this process, on one ring end.
class LwipHost {
 public:
  bool init(const RingNetifConfig& cfg) {
    lwip_init();
    return netif_.attach(cfg);
  }
  void spin() {
    netif_.poll();
    sys_check_timeouts();
    if (also_) also_();
  }
  // Work to do on every spin: the other stack, when one thread drives both.
  void set_also(std::function<void()> f) { also_ = std::move(f); }
  RingNetif& netif() { return netif_; }

 private:
  std::function<void()> also_;
  RingNetif netif_;
};

// ---------------------------------------------------------------------------------------------------
// lwIP server: discards (bulk) or echoes (rr, crr) what it receives; closes when the client does.

class LwipServer {
 public:
  LwipServer(LwipHost& host, Control& ctl, bool echo) : host_(host), ctl_(ctl), echo_(echo) {}

  bool listen() {
    tcp_pcb* pcb = tcp_new();
    if (!pcb) return false;
    if (tcp_bind(pcb, IP_ADDR_ANY, kPort) != ERR_OK) {
      tcp_close(pcb);
      return false;
    }
    listen_ = tcp_listen(pcb);
    if (!listen_) return false;
    tcp_arg(listen_, this);
    tcp_accept(listen_, &LwipServer::accept_cb);
    return true;
  }

  // Until the client says stop. The baseline for idle's heap growth is taken here, after listen().
  void run() {
    size_t base = heap_in_use();
    while (!ctl_.stop.load(std::memory_order_relaxed)) {
      host_.spin();
      if (ctl_.measure.load(std::memory_order_relaxed) && !ctl_.measured.load(std::memory_order_relaxed)) {
        ctl_.server_heap_delta.store(int64_t(heap_in_use()) - int64_t(base));
        ctl_.measured.store(1, std::memory_order_release);
      }
    }
  }

 private:
  static err_t accept_cb(void* arg, tcp_pcb* pcb, err_t err) {
    auto* self = static_cast<LwipServer*>(arg);
    if (err != ERR_OK || !pcb) return ERR_VAL;
    tcp_arg(pcb, self);
    tcp_recv(pcb, &LwipServer::recv_cb);
    if (self->echo_) tcp_nagle_disable(pcb);
    self->ctl_.accepted.fetch_add(1, std::memory_order_relaxed);
    return ERR_OK;
  }

  static err_t recv_cb(void* arg, tcp_pcb* pcb, pbuf* p, err_t err) {
    auto* self = static_cast<LwipServer*>(arg);
    if (!p) {  // the client closed
      tcp_arg(pcb, nullptr);
      tcp_recv(pcb, nullptr);
      if (tcp_close(pcb) != ERR_OK) {
        tcp_abort(pcb);
        return ERR_ABRT;
      }
      return ERR_OK;
    }
    if (err != ERR_OK) {
      pbuf_free(p);
      return err;
    }
    if (self->echo_) {
      for (pbuf* q = p; q; q = q->next) (void)tcp_write(pcb, q->payload, q->len, TCP_WRITE_FLAG_COPY);
    }
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    if (self->echo_) tcp_output(pcb);
    return ERR_OK;
  }

  LwipHost& host_;
  Control& ctl_;
  bool echo_;
  tcp_pcb* listen_ = nullptr;
};

// ---------------------------------------------------------------------------------------------------
// lwIP client: the tests.

class LwipClient {
 public:
  LwipClient(LwipHost& host, Control& ctl, const WorkerArgs& a) : host_(host), ctl_(ctl), a_(a) {
    IP_ADDR4(&server_, kServerAddr[0], kServerAddr[1], kServerAddr[2], kServerAddr[3]);
    buf_.resize(kChunk);
    for (size_t i = 0; i < buf_.size(); ++i) buf_[i] = std::byte(i * 7);
  }

  int run() {
    int rc = run_test();
    const Impairment& rx = host_.netif().rx_impairment();
    const Impairment& tx = host_.netif().tx_impairment();
    if (rx.active() || tx.active()) {
      std::printf("INFO lwip client wire: received %llu frames, dropped %llu; sent %llu, dropped %llu\n",
                  (unsigned long long)rx.frames(), (unsigned long long)rx.dropped(),
                  (unsigned long long)tx.frames(), (unsigned long long)tx.dropped());
    }
    return rc;
  }

 private:
  int run_test() {
    if (!wait_for([&] { return ctl_.server_ready.load(std::memory_order_acquire) != 0; }, 10)) {
      std::fprintf(stderr, "lwip: the server did not start\n");
      return 1;
    }
    if (a_.test == "bulk") return bulk();
    if (a_.test == "rr") return rr();
    if (a_.test == "crr") return crr();
    return idle();
  }

  // Spins lwIP until pred() holds; false on timeout or when the server failed.
  template <class Pred>
  bool wait_for(Pred&& pred, double timeout_s) {
    uint64_t deadline = now_ns() + uint64_t(timeout_s * 1e9);
    uint32_t n = 0;
    while (!pred()) {
      host_.spin();
      if ((++n & 1023) == 0) {
        if (ctl_.server_failed.load(std::memory_order_relaxed)) return false;
        if (now_ns() > deadline) return false;
      }
    }
    return true;
  }

  // A new connection from the next client port. Ports are chosen here rather than by lwIP because lwIP
  // keeps closed connections in TIME_WAIT for 2*MSL (two minutes) and its ephemeral range holds only
  // 16384 ports, fewer than crr opens in a run; SOF_REUSEADDR lets the bind skip ports whose old
  // connections are in TIME_WAIT, and tcp_connect still refuses a 4-tuple that one of them holds.
  tcp_pcb* open() {
    for (int tries = 0; tries < 65536; ++tries) {
      tcp_pcb* pcb = tcp_new();
      if (!pcb) return nullptr;
      ip_set_option(pcb, SOF_REUSEADDR);
      uint16_t port = next_port_;
      next_port_ = next_port_ == 65535 ? 10000 : uint16_t(next_port_ + 1);
      if (tcp_bind(pcb, IP_ADDR_ANY, port) == ERR_OK) {
        tcp_arg(pcb, this);
        tcp_err(pcb, &LwipClient::err_cb);
        tcp_recv(pcb, &LwipClient::recv_cb);
        tcp_sent(pcb, &LwipClient::sent_cb);
        err_t e = tcp_connect(pcb, &server_, kPort, &LwipClient::connected_cb);
        if (e == ERR_OK) return pcb;
        if (e != ERR_USE) {
          tcp_abort(pcb);
          return nullptr;
        }
      }
      tcp_arg(pcb, nullptr);
      tcp_err(pcb, nullptr);
      tcp_close(pcb);
    }
    return nullptr;
  }

  // Closes and forgets a connection: lwIP's default handlers deal with what still arrives for it.
  static void close(tcp_pcb* pcb) {
    tcp_arg(pcb, nullptr);
    tcp_err(pcb, nullptr);
    tcp_recv(pcb, nullptr);
    tcp_sent(pcb, nullptr);
    if (tcp_close(pcb) != ERR_OK) tcp_abort(pcb);
  }

  static err_t connected_cb(void* arg, tcp_pcb*, err_t err) {
    auto* self = static_cast<LwipClient*>(arg);
    if (err == ERR_OK) ++self->connected_;
    return ERR_OK;
  }
  static err_t recv_cb(void* arg, tcp_pcb* pcb, pbuf* p, err_t) {
    auto* self = static_cast<LwipClient*>(arg);
    if (!p) {
      self->peer_closed_ = true;
      return ERR_OK;
    }
    self->rx_ += p->tot_len;
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    return ERR_OK;
  }
  static err_t sent_cb(void* arg, tcp_pcb*, u16_t len) {
    static_cast<LwipClient*>(arg)->acked_ += len;
    return ERR_OK;
  }
  static void err_cb(void* arg, err_t err) {
    auto* self = static_cast<LwipClient*>(arg);
    if (!self) return;
    ++self->failed_;
    self->last_err_ = err;
  }

  tcp_pcb* connect_one() {
    uint64_t before = connected_, failed = failed_;
    tcp_pcb* pcb = open();
    if (!pcb) {
      std::fprintf(stderr, "lwip: cannot open a connection\n");
      return nullptr;
    }
    if (!wait_for([&] { return connected_ != before || failed_ != failed; }, 10) || failed_ != failed) {
      std::fprintf(stderr, "lwip: connect failed (%s)\n", lwip_strerr(last_err_));
      if (failed_ == failed) tcp_abort(pcb);
      return nullptr;
    }
    return pcb;
  }

  // Queues as much of the byte stream as lwIP's send buffer takes, in the application's 64 KiB writes
  // (a write larger than the free send buffer is accepted in part, as a non-blocking send() would).
  void fill(tcp_pcb* pcb, uint64_t limit) {
    bool wrote = false;
    while (written_ < limit) {
      uint32_t room = tcp_sndbuf(pcb);
      if (room == 0) break;
      size_t off = size_t(written_ % kChunk);
      uint64_t n = std::min<uint64_t>({room, kChunk - off, limit - written_, 0xffff});
      if (tcp_write(pcb, buf_.data() + off, u16_t(n), TCP_WRITE_FLAG_COPY) != ERR_OK) break;
      written_ += n;
      wrote = true;
    }
    if (wrote) tcp_output(pcb);
  }

  int bulk() {
    tcp_pcb* pcb = connect_one();
    if (!pcb) return 1;
    const uint64_t limit = a_.bytes ? a_.bytes : ~uint64_t{0};
    uint64_t t0 = now_ns(), a0 = 0;
    double c0 = busy_cpu_seconds();
    if (!a_.bytes) {
      // Past slow start before measuring.
      uint64_t warm_end = t0 + uint64_t(std::min(0.2, a_.seconds / 10) * 1e9);
      while (now_ns() < warm_end && !failed_) {
        fill(pcb, limit);
        host_.spin();
      }
      t0 = now_ns();
      a0 = acked_;
      c0 = busy_cpu_seconds();
    }
    const uint64_t end = t0 + uint64_t(a_.seconds * 1e9);
    const uint64_t deadline = t0 + uint64_t((a_.seconds * 3 + 20) * 1e9);
    uint32_t n = 0;
    for (;;) {
      fill(pcb, limit);
      host_.spin();
      if (failed_) break;
      if (a_.bytes ? acked_ >= a_.bytes : (++n & 255) == 0 && now_ns() >= end) break;
      if ((n & 1023) == 0 && now_ns() > deadline) break;
    }
    double secs = seconds_since(t0);
    double cpu = busy_cpu_seconds() - c0;
    uint64_t bytes = acked_ - a0;
    if (failed_ || (a_.bytes && acked_ < a_.bytes)) {
      std::fprintf(stderr, "lwip: bulk failed after %llu bytes (%s)\n", (unsigned long long)acked_,
                   failed_ ? lwip_strerr(last_err_) : "timeout");
      return 1;
    }
    close(pcb);
    double gb = double(bytes) / 1e9;
    print_result("gbps", gb * 8 / secs, "Gbit/s");
    print_result("cpu_s_per_gb", gb > 0 ? cpu / gb : 0, "s/GB");
    std::printf("INFO lwip bulk %llu bytes in %.3f s, tx ring full drops %llu\n", (unsigned long long)bytes,
                secs, (unsigned long long)host_.netif().tx_ring_full_drops());
    return 0;
  }

  // One 1-byte request and its 1-byte response; returns its round-trip time in ns, 0 on failure.
  uint64_t transact(tcp_pcb* pcb) {
    uint64_t want = rx_ + 1;
    uint64_t t = now_ns();
    if (tcp_write(pcb, buf_.data(), 1, TCP_WRITE_FLAG_COPY) != ERR_OK) return 0;
    tcp_output(pcb);
    if (!wait_for([&] { return rx_ >= want || failed_; }, 10) || failed_) return 0;
    return now_ns() - t;
  }

  int rr() {
    tcp_pcb* pcb = connect_one();
    if (!pcb) return 1;
    tcp_nagle_disable(pcb);
    std::vector<uint32_t> samples;
    samples.reserve(1 << 22);
    uint64_t warm_end = now_ns() + uint64_t(std::min(0.5, std::max(0.1, a_.seconds / 10)) * 1e9);
    while (now_ns() < warm_end) {
      if (!transact(pcb)) return rr_failed();
    }
    uint64_t end = now_ns() + uint64_t(a_.seconds * 1e9);
    while (now_ns() < end) {
      uint64_t rtt = transact(pcb);
      if (!rtt) return rr_failed();
      if (samples.size() < samples.capacity()) samples.push_back(uint32_t(std::min<uint64_t>(rtt, ~0u)));
    }
    close(pcb);
    if (samples.empty()) return 1;
    auto pct = [&](double q) {
      size_t k = std::min(samples.size() - 1, size_t(q * double(samples.size())));
      std::nth_element(samples.begin(), samples.begin() + long(k), samples.end());
      return double(samples[k]) / 1000.0;
    };
    double p50 = pct(0.50), p99 = pct(0.99);
    print_result("p50_us", p50, "us");
    print_result("p99_us", p99, "us");
    std::printf("INFO lwip rr %zu transactions\n", samples.size());
    return 0;
  }
  int rr_failed() {
    std::fprintf(stderr, "lwip: request/response failed (%s)\n",
                 failed_ ? lwip_strerr(last_err_) : "timeout");
    return 1;
  }

  int crr() {
    uint64_t t0 = now_ns(), end = t0 + uint64_t(a_.seconds * 1e9);
    uint64_t done = 0;
    while (now_ns() < end) {
      tcp_pcb* pcb = connect_one();
      if (!pcb) return 1;
      tcp_nagle_disable(pcb);
      if (!transact(pcb)) return rr_failed();
      close(pcb);
      ++done;
    }
    double secs = seconds_since(t0);
    print_result("per_s", double(done) / secs, "conn/s");
    // The client closes first, so its connections wait in TIME_WAIT for 2*MSL (two minutes). lwIP keeps
    // them on a linked list that every tcp_connect() walks, so the rate falls as a run goes on.
    std::printf("INFO lwip crr %llu connections in %.3f s (each connect walks the TIME_WAIT list)\n",
                (unsigned long long)done, secs);
    return 0;
  }

  int idle() {
    const uint32_t n = a_.conns;
    std::vector<tcp_pcb*> pcbs;
    pcbs.reserve(n);
    // Connections stay idle: what they keep is what is measured, so nothing per connection is allocated
    // here beyond lwIP's own state (pcbs was sized above, before the baseline).
    size_t base = heap_in_use();
    uint64_t deadline = now_ns() + uint64_t((60 + n / 200.0) * 1e9);
    uint32_t spins = 0;
    while (connected_ < n) {
      while (pcbs.size() < n && pcbs.size() - connected_ < 64) {
        tcp_pcb* pcb = open();
        if (!pcb) {
          std::fprintf(stderr, "lwip: cannot open connection %zu\n", pcbs.size());
          return 1;
        }
        pcbs.push_back(pcb);
      }
      host_.spin();
      if (failed_) {
        std::fprintf(stderr, "lwip: connection failed (%s)\n", lwip_strerr(last_err_));
        return 1;
      }
      if ((++spins & 1023) == 0 && now_ns() > deadline) {
        std::fprintf(stderr, "lwip: %llu of %u connections after the deadline\n",
                     (unsigned long long)connected_, n);
        return 1;
      }
    }
    if (!wait_for([&] { return ctl_.accepted.load(std::memory_order_relaxed) >= n; }, 30)) {
      std::fprintf(stderr, "lwip: the server accepted %llu of %u\n", (unsigned long long)ctl_.accepted.load(),
                   n);
      return 1;
    }
    int64_t client_delta = int64_t(heap_in_use()) - int64_t(base);
    ctl_.measure.store(1, std::memory_order_release);
    if (!wait_for([&] { return ctl_.measured.load(std::memory_order_acquire) != 0; }, 10)) return 1;
    int64_t server_delta = ctl_.server_heap_delta.load();
    print_result("bytes_per_conn", double(client_delta + server_delta) / (2.0 * n), "B");
    std::printf("INFO lwip idle %u connections: client heap +%lld B, server heap +%lld B\n", n,
                (long long)client_delta, (long long)server_delta);
    for (tcp_pcb* pcb : pcbs) close(pcb);
    uint64_t settle = now_ns() + 200000000;
    while (now_ns() < settle) host_.spin();
    return 0;
  }

  LwipHost& host_;
  Control& ctl_;
  const WorkerArgs& a_;
  ip_addr_t server_{};
  std::vector<std::byte> buf_;
  uint16_t next_port_ = 10000;
  uint64_t connected_ = 0, failed_ = 0, rx_ = 0, acked_ = 0, written_ = 0;
  bool peer_closed_ = false;
  err_t last_err_ = ERR_OK;
};

// ---------------------------------------------------------------------------------------------------

struct RingGeometry {
  uint32_t slots, frame_max;
};
RingGeometry ring_geometry(const WorkerArgs& a) {
  uint32_t frame_max = std::min(a.mtu, 65535u) + 14;
  // Enough slots for lwIP's whole window (45 full segments) and the acknowledgements going back.
  return {frame_max > 9100 ? 128u : 1024u, frame_max};
}

RingNetifConfig client_netif(FrameRingPair& rings, const WorkerArgs& a, bool impair_tx) {
  RingNetifConfig c;
  c.tx = &rings.ring(0);
  c.rx = &rings.ring(1);
  c.mac = kClientMac;
  c.mtu = a.mtu;
  c.addr = kClientAddr;
  c.rx_impair = Impairment(a.loss_pct, a.delay_us, 0x9e3779b97f4a7c15ull);
  if (impair_tx) c.tx_impair = Impairment(a.loss_pct, a.delay_us, 0xd1b54a32d192ed03ull);
  return c;
}

volatile pid_t g_child = 0;

void on_watchdog(int) {
  static const char msg[] = "ustack-bench-lwip: watchdog expired\n";
  (void)!write(2, msg, sizeof msg - 1);
  if (g_child > 0) kill(g_child, SIGKILL);
  _exit(1);
}

void arm_watchdog(const WorkerArgs& a) {
  signal(SIGALRM, on_watchdog);
  double secs = a.seconds * 3 + 30 + (a.test == "idle" ? a.conns / 200.0 : 0);
  alarm(unsigned(secs));
}

int run_server_child(FrameRingPair& rings, Control& ctl, const WorkerArgs& a) {
  pin_to_cpu(a.cpu_server);
  RingNetifConfig c;
  c.tx = &rings.ring(1);
  c.rx = &rings.ring(0);
  c.mac = kServerMac;
  c.mtu = a.mtu;
  c.addr = kServerAddr;
  c.rx_impair = Impairment(a.loss_pct, a.delay_us, 0xbf58476d1ce4e5b9ull);
  LwipHost host;
  LwipServer server(host, ctl, echo_test(a.test));
  if (!host.init(c) || !server.listen()) {
    std::fprintf(stderr, "lwip server: cannot listen\n");
    ctl.server_failed.store(1);
    return 1;
  }
  ctl.server_ready.store(1, std::memory_order_release);
  server.run();
  return 0;
}

int run_two_processes(const WorkerArgs& a) {
  RingGeometry g = ring_geometry(a);
  size_t ctl_bytes = (sizeof(Control) + 63) & ~size_t(63);
  size_t bytes = ctl_bytes + FrameRingPair::bytes_needed(g.slots, g.frame_max);
  void* mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    std::perror("mmap");
    return 1;
  }
  auto* ctl = new (mem) Control;
  FrameRingPair rings(static_cast<std::byte*>(mem) + ctl_bytes, g.slots, g.frame_max);

  print_lwip_settings(a);
  std::fflush(nullptr);
  pid_t parent = getpid();
  pid_t child = fork();
  if (child < 0) {
    std::perror("fork");
    return 1;
  }
  if (child == 0) {
    // The server never outlives the client, whatever happens to the client.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    signal(SIGALRM, SIG_DFL);
    alarm(unsigned(a.seconds * 3 + 60 + (a.test == "idle" ? a.conns / 100.0 : 0)));
    _exit(run_server_child(rings, *ctl, a));
  }
  g_child = child;
  arm_watchdog(a);
  pin_to_cpu(a.cpu_client);

  int rc = 1;
  LwipHost host;
  if (host.init(client_netif(rings, a, false))) {
    LwipClient client(host, *ctl, a);
    rc = client.run();
  } else {
    std::fprintf(stderr, "lwip client: cannot add the interface\n");
  }
  ctl->stop.store(1);
  // The server exits at once when told; if it does not within a few seconds, it is killed.
  int status = 0;
  uint64_t deadline = now_ns() + 5000000000ull;
  for (;;) {
    pid_t r = waitpid(child, &status, WNOHANG);
    if (r == child) break;
    if (r < 0) {
      status = 0;
      break;
    }
    if (now_ns() > deadline) {
      kill(child, SIGKILL);
      (void)waitpid(child, &status, 0);
      break;
    }
    usleep(1000);
  }
  g_child = 0;
  if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
    std::fprintf(stderr, "lwip server process failed (status %d)\n", status);
    rc = 1;
  }
  return rc;
}

// Valgrind preloads its own library into the programs it runs (and, with --trace-children, their
// children); this needs no valgrind headers at build time.
bool on_valgrind() {
  const char* p = std::getenv("LD_PRELOAD");
  return p && std::strstr(p, "vgpreload");
}

int run_with_ustack(const WorkerArgs& a) {
  arm_watchdog(a);
  RingGeometry g = ring_geometry(a);
  FrameRingPair rings(g.slots, g.frame_max);
  Control ctl;
  print_lwip_settings(a);
  // One thread drives both stacks when both sides are given the same CPU, and under valgrind, which
  // runs a process's threads one at a time: two threads spinning on each other would crawl there.
  const bool one_thread = a.cpu_client == a.cpu_server || on_valgrind();
  std::printf("INFO lwip_ustack %s\n", one_thread ? "one thread drives both stacks" : "one thread per stack");
  pin_to_cpu(a.cpu_client);
  std::unique_ptr<UstackServer> inline_server;
  std::thread server_thread;
  if (one_thread) {
    inline_server = std::make_unique<UstackServer>(rings, 1, a, ctl);
    if (!inline_server->start()) return 1;
  } else {
    server_thread = std::thread([&] {
      pin_to_cpu(a.cpu_server);
      UstackServer s(rings, 1, a, ctl);
      if (s.start()) s.run();
    });
  }
  int rc = 1;
  {
    LwipHost host;
    if (inline_server) host.set_also([&] { inline_server->step(); });
    if (host.init(client_netif(rings, a, true))) {
      LwipClient client(host, ctl, a);
      rc = client.run();
    }
  }
  ctl.stop.store(1);
  if (server_thread.joinable()) server_thread.join();
  return rc;
}

}  // namespace
}  // namespace ustack::bench::lwip

int main(int argc, char** argv) {
  using namespace ustack::bench;
  WorkerArgs a;
  if (!parse_worker_args(argc, argv, 1, a)) return 1;
  if (a.test != "bulk" && a.test != "rr" && a.test != "crr" && a.test != "idle") {
    std::fprintf(stderr, "ustack-bench-lwip: unknown test %s (bulk, rr, crr, idle)\n", a.test.c_str());
    return 1;
  }
  if (a.system == "lwip") return lwip::run_two_processes(a);
  if (a.system == "lwip_ustack") return lwip::run_with_ustack(a);
  std::fprintf(stderr, "ustack-bench-lwip: unknown system %s (lwip, lwip_ustack)\n", a.system.c_str());
  return 1;
}
