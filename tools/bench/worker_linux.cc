// The Linux kernel as a benchmark peer (SYSTEM linux_veth, linux_veth_nooffload, linux_lo).
//
// Every invocation builds its own network: for linux_veth* two fresh namespaces joined by a veth pair, for
// linux_lo one fresh namespace with only its loopback, so nothing is shared with the machine's own
// interfaces, sysctls or sockets, and a concurrent run (names carry the process id) never collides. The
// server runs in namespace A, the client in namespace B (both in A for linux_lo), each a child process
// pinned to its CPU; this process only supervises and always tears the network down: on return, on
// SIGINT/SIGTERM/SIGHUP, and on a watchdog alarm, so a wedged run cannot hang the orchestrator.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "worker.h"

extern char** environ;

namespace ustack::bench {
namespace {

// ---- state the signal handlers need: plain arrays, written before the handlers are installed ----

constexpr int kMaxNs = 2;
char g_ip_path[256];
char g_ns_name[kMaxNs][64];
volatile sig_atomic_t g_ns_count = 0;  // namespaces still named under /var/run/netns
volatile pid_t g_child[2] = {0, 0};

void say(const char* s) { (void)!write(2, s, strlen(s)); }

// Deletes the named namespaces and kills the children. Only async-signal-safe calls (kill, waitpid, fork,
// execve, open, dup2), because the signal handlers and the watchdog run it too.
void teardown() {
  for (int i = 1; i >= 0; --i) {  // the client first, so it does not report the server's end as an error
    pid_t p = g_child[i];
    if (p > 0) {
      kill(p, SIGKILL);
      while (waitpid(p, nullptr, 0) < 0 && errno == EINTR) {
      }
      g_child[i] = 0;
    }
  }
  int n = g_ns_count;
  g_ns_count = 0;
  for (int i = 0; i < n; ++i) {
    pid_t p = fork();
    if (p == 0) {
      int devnull = open("/dev/null", O_WRONLY);
      if (devnull >= 0) {
        dup2(devnull, 1);
        dup2(devnull, 2);
      }
      char arg0[] = "ip", arg1[] = "netns", arg2[] = "del";
      char* argv[] = {arg0, arg1, arg2, g_ns_name[i], nullptr};
      execve(g_ip_path, argv, environ);
      _exit(127);
    }
    if (p > 0) {
      while (waitpid(p, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
  }
}

void on_signal(int sig) {
  say(sig == SIGALRM ? "linux worker: watchdog expired, tearing down\n"
                     : "linux worker: interrupted, tearing down\n");
  teardown();
  _exit(sig == SIGALRM ? 1 : 128 + sig);
}

constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGALRM};

void install_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  for (int s : kSignals) sigaddset(&sa.sa_mask, s);  // one teardown at a time
  for (int s : kSignals) sigaction(s, &sa, nullptr);
}

void block_handlers(bool block) {
  sigset_t set;
  sigemptyset(&set);
  for (int s : kSignals) sigaddset(&set, s);
  sigprocmask(block ? SIG_BLOCK : SIG_UNBLOCK, &set, nullptr);
}

// ---- helpers ----

std::string find_program(const char* name) {
  std::string path = getenv("PATH") ? getenv("PATH") : "";
  path += ":/usr/sbin:/sbin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    if (!dir.empty()) {
      std::string full = dir;
      full += '/';
      full += name;
      if (access(full.c_str(), X_OK) == 0) return full;
    }
    start = end + 1;
  }
  return {};
}

// How a command's output is treated: stdout carries only RESULT lines, so a command's stdout goes to our
// stderr (kShow), or away (kErrors: ethtool's list of changed features is noise), or both away (kQuiet).
enum class Output { kShow, kErrors, kQuiet };

// Runs a command. Returns its exit status, or -1 if it could not start.
int run(const std::vector<std::string>& args, Output out = Output::kShow) {
  // Resolved as find_program does, so that sbin directories count even when PATH lacks them.
  std::string prog = args[0].find('/') == std::string::npos ? find_program(args[0].c_str()) : args[0];
  if (prog.empty()) return -1;
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (out == Output::kShow) {
    posix_spawn_file_actions_adddup2(&fa, 2, 1);
  } else {
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  }
  if (out == Output::kQuiet) posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  int rc = posix_spawn(&pid, prog.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return -1;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string join(const std::vector<std::string>& args) {
  std::string s;
  for (const auto& a : args) {
    if (!s.empty()) s += ' ';
    s += a;
  }
  return s;
}

bool must(const std::vector<std::string>& args, Output out = Output::kShow) {
  if (run(args, out) == 0) return true;
  std::fprintf(stderr, "linux worker: failed: %s\n", join(args).c_str());
  return false;
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

uint64_t now_ns() {
  return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::steady_clock::now().time_since_epoch())
                      .count());
}

long slab_kb() {
  std::ifstream f("/proc/meminfo");
  std::string key;
  long value = 0;
  std::string unit;
  while (f >> key >> value) {
    std::getline(f, unit);
    if (key == "Slab:") return value;
  }
  return -1;
}

// ---- what the two children share (an anonymous shared mapping made before fork) ----

struct Shared {
  std::atomic<int> entered{0};    // children that have joined their namespace
  std::atomic<int> go{0};         // the supervisor has finished setting up
  std::atomic<int> listening{0};  // the server is listening
  std::atomic<int> done{0};       // the client has finished measuring
  std::atomic<int> failed{0};     // either side gave up
  std::atomic<uint32_t> accepted{0};
  std::atomic<uint64_t> server_bytes{0};
  std::atomic<int> server_counted{0};
};

struct Plan {
  const WorkerArgs* a;
  Shared* sh;
  std::string server_ns, client_ns;
  const char* server_ip;
  uint16_t port = 5001;
};

[[noreturn]] void child_fail(const Plan& p, const char* side, const char* what) {
  std::fprintf(stderr, "linux worker (%s): %s: %s\n", side, what, strerror(errno));
  p.sh->failed.store(1);
  std::fflush(stderr);
  _exit(1);
}

// Waits for a flag, giving up if the other side fails; polling is fine here (setup only, never measured).
bool wait_for(const Plan& p, const std::atomic<int>& flag) {
  while (flag.load(std::memory_order_acquire) == 0) {
    if (p.sh->failed.load()) return false;
    usleep(200);
  }
  return true;
}

bool write_sysctl(const char* path, const char* value) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = write(fd, value, strlen(value)) == ssize_t(strlen(value));
  close(fd);
  return ok;
}

void set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

void set_nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

sockaddr_in server_addr(const Plan& p) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(p.port);
  inet_pton(AF_INET, p.server_ip, &sa.sin_addr);
  return sa;
}

bool raise_nofile(rlim_t need) {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur >= need) return true;
  rl.rlim_cur = need;
  if (rl.rlim_max < need) rl.rlim_max = need;
  return setrlimit(RLIMIT_NOFILE, &rl) == 0;
}

// Sends all of buf (a blocking socket).
bool send_all(int fd, const char* buf, size_t len) {
  while (len > 0) {
    ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    buf += n;
    len -= size_t(n);
  }
  return true;
}

// Receives one byte, spinning on a non-blocking socket. Returns 1, 0 at end of stream, -1 on error.
int spin_recv1(int fd, char* b) {
  for (;;) {
    ssize_t n = recv(fd, b, 1, MSG_DONTWAIT);
    if (n >= 0) return int(n);
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return -1;
  }
}

// ---- the server (namespace A) ----

[[noreturn]] void server_main(const Plan& p) {
  const WorkerArgs& a = *p.a;
  const char* side = "server";
  if (a.test == "idle" && !raise_nofile(rlim_t(a.conns) + 64)) child_fail(p, side, "RLIMIT_NOFILE");
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (ls < 0) child_fail(p, side, "socket");
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa = server_addr(p);
  if (bind(ls, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) child_fail(p, side, "bind");
  if (listen(ls, 65535) < 0) child_fail(p, side, "listen");
  p.sh->listening.store(1, std::memory_order_release);

  if (a.test == "bulk") {
    int fd = accept(ls, nullptr, nullptr);
    if (fd < 0) child_fail(p, side, "accept");
    std::vector<char> buf(128 * 1024);
    uint64_t total = 0;
    for (;;) {
      ssize_t n = recv(fd, buf.data(), buf.size(), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) child_fail(p, side, "recv");
      if (n == 0) break;
      total += uint64_t(n);
    }
    p.sh->server_bytes.store(total);
    p.sh->server_counted.store(1, std::memory_order_release);
    close(fd);
  } else if (a.test == "rr") {
    int fd = accept(ls, nullptr, nullptr);
    if (fd < 0) child_fail(p, side, "accept");
    set_nodelay(fd);
    set_nonblocking(fd);
    char b;
    for (;;) {
      int r = spin_recv1(fd, &b);
      if (r < 0) child_fail(p, side, "recv");
      if (r == 0) break;
      if (send(fd, &b, 1, MSG_NOSIGNAL) != 1) child_fail(p, side, "send");
    }
    close(fd);
  } else if (a.test == "crr") {
    // One connection at a time, like the client: accept, answer the byte, and close when the client has
    // closed (so the client's side holds TIME_WAIT, see client_crr). Spinning, as in rr.
    set_nonblocking(ls);
    while (!p.sh->done.load(std::memory_order_acquire)) {
      int fd = accept4(ls, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED) continue;
        child_fail(p, side, "accept");
      }
      set_nodelay(fd);
      char b;
      if (spin_recv1(fd, &b) == 1 && send(fd, &b, 1, MSG_NOSIGNAL) == 1) {
        while (spin_recv1(fd, &b) > 0) {
        }
      }
      close(fd);
    }
  } else if (a.test == "idle") {
    std::vector<int> fds;
    fds.reserve(a.conns);
    while (fds.size() < a.conns) {
      int fd = accept(ls, nullptr, nullptr);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        child_fail(p, side, "accept");
      }
      fds.push_back(fd);
      p.sh->accepted.fetch_add(1, std::memory_order_release);
    }
    wait_for(p, p.sh->done);
    for (int fd : fds) close(fd);
  }
  close(ls);
  _exit(0);
}

// ---- the client (namespace B) ----

int connect_server(const Plan& p, bool nodelay) {
  sockaddr_in sa = server_addr(p);
  for (int attempt = 0;; ++attempt) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (nodelay) set_nodelay(fd);
    if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) return fd;
    int e = errno;
    close(fd);
    // Out of local ports for a moment (TIME_WAIT not yet reusable): wait and retry a little.
    if ((e != EADDRNOTAVAIL && e != EINTR) || attempt >= 1000) {
      errno = e;
      return -1;
    }
    usleep(1000);
  }
}

void client_bulk(const Plan& p) {
  const WorkerArgs& a = *p.a;
  const char* side = "client";
  int fd = connect_server(p, false);
  if (fd < 0) child_fail(p, side, "connect");
  std::vector<char> buf(64 * 1024, 'x');
  uint64_t sent = 0;
  double cpu0 = busy_cpu_seconds();
  double t0 = now_s(), end = t0 + a.seconds;
  if (a.bytes > 0) {
    while (sent < a.bytes) {
      size_t len = size_t(std::min<uint64_t>(buf.size(), a.bytes - sent));
      if (!send_all(fd, buf.data(), len)) child_fail(p, side, "send");
      sent += len;
    }
  } else {
    while (now_s() < end) {
      if (!send_all(fd, buf.data(), buf.size())) child_fail(p, side, "send");
      sent += buf.size();
    }
  }
  // The measurement ends when the server has read everything: it closes on our end of stream.
  shutdown(fd, SHUT_WR);
  char b;
  while (recv(fd, &b, 1, 0) > 0) {
  }
  double t1 = now_s();
  double cpu1 = busy_cpu_seconds();
  close(fd);
  if (!wait_for(p, p.sh->server_counted)) _exit(1);
  uint64_t got = p.sh->server_bytes.load();
  if (got != sent) {
    std::fprintf(stderr, "linux worker: sent %llu bytes but the server read %llu\n", (unsigned long long)sent,
                 (unsigned long long)got);
    _exit(1);
  }
  double secs = t1 - t0, gb = double(sent) / 1e9;
  std::fprintf(stderr, "linux worker: %llu bytes in %.3f s, %.2f busy CPU s\n", (unsigned long long)sent,
               secs, cpu1 - cpu0);
  print_result("gbps", gb * 8 / secs, "Gbit/s");
  print_result("cpu_s_per_gb", (cpu1 - cpu0) / gb, "s/GB");
}

void client_rr(const Plan& p) {
  const WorkerArgs& a = *p.a;
  const char* side = "client";
  int fd = connect_server(p, true);
  if (fd < 0) child_fail(p, side, "connect");
  set_nonblocking(fd);
  std::vector<uint32_t> samples;
  samples.reserve(1 << 20);
  uint64_t start = now_ns();
  uint64_t measure_from = start + 200'000'000, end = measure_from + uint64_t(a.seconds * 1e9);
  char b = 'r';
  for (;;) {
    uint64_t t0 = now_ns();
    if (t0 >= end) break;
    if (send(fd, &b, 1, MSG_NOSIGNAL) != 1) child_fail(p, side, "send");
    int r = spin_recv1(fd, &b);
    if (r <= 0) child_fail(p, side, "recv");
    uint64_t t1 = now_ns();
    if (t0 >= measure_from) samples.push_back(uint32_t(std::min<uint64_t>(t1 - t0, UINT32_MAX)));
  }
  close(fd);
  if (samples.empty()) {
    std::fprintf(stderr, "linux worker: no round trip completed\n");
    _exit(1);
  }
  std::sort(samples.begin(), samples.end());
  auto pct = [&](double q) {
    return samples[std::min(samples.size() - 1, size_t(q * double(samples.size())))];
  };
  std::fprintf(stderr, "linux worker: %zu round trips measured\n", samples.size());
  print_result("p50_us", pct(0.50) / 1e3, "us");
  print_result("p99_us", pct(0.99) / 1e3, "us");
}

// Each iteration is a full connection lifetime: handshake, one byte each way, and an orderly close (FIN
// both ways), no SO_LINGER reset, so the figure is the cost of connection setup and teardown as an
// application sees it. The client closes first, so TIME_WAIT stays on the client, as with an HTTP client;
// its namespace has tcp_tw_reuse=1 and the widest port range so that ports run out neither within the run
// nor for longer runs (a TIME_WAIT port is reused after one second). Both sides spin on non-blocking
// calls (connect itself completes within the SYN's softirq on veth and lo), as in rr and as the user-space
// stacks do, so the figure is the stack's work and not the scheduler's wake-up latency between two cores.
void client_crr(const Plan& p) {
  const WorkerArgs& a = *p.a;
  const char* side = "client";
  uint64_t n = 0;
  double t0 = now_s(), end = t0 + a.seconds, t1 = t0;
  char b = 'c';
  while ((t1 = now_s()) < end) {
    int fd = connect_server(p, true);
    if (fd < 0) child_fail(p, side, "connect");
    set_nonblocking(fd);
    if (send(fd, &b, 1, MSG_NOSIGNAL) != 1) child_fail(p, side, "send");
    if (spin_recv1(fd, &b) != 1) child_fail(p, side, "recv");
    close(fd);
    ++n;
  }
  p.sh->done.store(1, std::memory_order_release);
  print_result("per_s", double(n) / (t1 - t0), "1/s");
}

void client_idle(const Plan& p) {
  const WorkerArgs& a = *p.a;
  const char* side = "client";
  if (!raise_nofile(rlim_t(a.conns) + 64)) child_fail(p, side, "RLIMIT_NOFILE");
  // Let the setup's own slab churn (namespace creation, deferred frees) settle before the baseline.
  usleep(500'000);
  long before = slab_kb();
  std::vector<int> fds;
  fds.reserve(a.conns);
  for (uint32_t i = 0; i < a.conns; ++i) {
    int fd = connect_server(p, false);
    if (fd < 0) child_fail(p, side, "connect");
    fds.push_back(fd);
  }
  while (p.sh->accepted.load(std::memory_order_acquire) < a.conns) {
    if (p.sh->failed.load()) _exit(1);
    usleep(1000);
  }
  usleep(1'000'000);  // settled: no handshake in flight, deferred work done
  long after = slab_kb();
  p.sh->done.store(1, std::memory_order_release);
  for (int fd : fds) close(fd);
  if (before < 0 || after < 0) {
    std::fprintf(stderr, "linux worker: no Slab in /proc/meminfo\n");
    _exit(1);
  }
  std::fprintf(stderr, "linux worker: Slab %ld kB -> %ld kB for %u connections (%u sockets)\n", before, after,
               a.conns, 2 * a.conns);
  print_result("bytes_per_conn", double(after - before) * 1024 / (2.0 * a.conns), "B");
}

[[noreturn]] void client_main(const Plan& p) {
  if (!wait_for(p, p.sh->listening)) _exit(1);
  const std::string& t = p.a->test;
  if (t == "bulk") client_bulk(p);
  if (t == "rr") client_rr(p);
  if (t == "crr") client_crr(p);
  if (t == "idle") client_idle(p);
  std::fflush(stdout);
  _exit(0);
}

// Becomes the server or the client: joins the namespace, sets its sysctls, waits for the supervisor,
// pins itself and runs.
[[noreturn]] void child_main(const Plan& p, bool server) {
  for (int s : kSignals) signal(s, SIG_DFL);
  block_handlers(false);
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the supervisor
  const char* side = server ? "server" : "client";
  std::string path = "/var/run/netns/";
  path += server ? p.server_ns : p.client_ns;
  int nsfd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (nsfd < 0) child_fail(p, side, path.c_str());
  if (setns(nsfd, CLONE_NEWNET) < 0) child_fail(p, side, "setns");
  close(nsfd);
  // /proc/sys/net is the namespace of whoever opens it, so these touch only our fresh namespace.
  bool ok = true;
  if (server) {
    ok = write_sysctl("/proc/sys/net/core/somaxconn", "65535") &&
         write_sysctl("/proc/sys/net/ipv4/tcp_max_syn_backlog", "65535");
  } else {
    ok = write_sysctl("/proc/sys/net/ipv4/tcp_tw_reuse", "1") &&
         write_sysctl("/proc/sys/net/ipv4/ip_local_port_range", "1024 65535");
  }
  if (!ok) child_fail(p, side, "sysctl");
  p.sh->entered.fetch_add(1);
  if (!wait_for(p, p.sh->go)) _exit(1);
  pin_to_cpu(server ? p.a->cpu_server : p.a->cpu_client);
  if (server) server_main(p);
  client_main(p);
}

// ---- setup ----

int unavailable(const char* why) {
  std::fprintf(stderr, "linux worker: %s\n", why);
  return kWorkerUnavailable;
}

// Builds the network. Returns 0, 1 (failure) or kWorkerUnavailable.
int build_network(const WorkerArgs& a, const Plan& p, bool veth) {
  const std::string& A = p.server_ns;
  const std::string& B = p.client_ns;
  std::string mtu = std::to_string(a.mtu);
  std::vector<std::pair<std::string, std::string>> ends;  // (namespace, device) carrying the traffic
  if (veth) {
    if (!must({"ip", "-n", A, "link", "add", "ustb0", "type", "veth", "peer", "name", "ustb1", "netns", B}) ||
        !must({"ip", "-n", A, "addr", "add", "198.18.100.1/24", "dev", "ustb0"}) ||
        !must({"ip", "-n", B, "addr", "add", "198.18.100.2/24", "dev", "ustb1"}) ||
        !must({"ip", "-n", A, "link", "set", "ustb0", "mtu", mtu, "up"}) ||
        !must({"ip", "-n", B, "link", "set", "ustb1", "mtu", mtu, "up"}) ||
        !must({"ip", "-n", A, "link", "set", "lo", "up"}) ||
        !must({"ip", "-n", B, "link", "set", "lo", "up"}))
      return 1;
    ends = {{A, "ustb0"}, {B, "ustb1"}};
  } else {
    if (!must({"ip", "-n", A, "link", "set", "lo", "mtu", mtu, "up"})) return 1;
    ends = {{A, "lo"}};
  }
  if (a.system == "linux_veth_nooffload") {
    std::string ethtool = find_program("ethtool");  // a full path: `ip netns exec` searches only PATH
    if (ethtool.empty()) return unavailable("no ethtool command (needed to turn offloads off)");
    for (const auto& [ns, dev] : ends) {
      if (!must({"ip", "netns", "exec", ns, ethtool, "-K", dev, "tso", "off", "gso", "off", "gro", "off",
                 "tx", "off", "rx", "off"},
                Output::kErrors))
        return 1;
    }
  }
  if (a.loss_pct > 0 || a.delay_us > 0) {
    for (const auto& [ns, dev] : ends) {
      std::vector<std::string> cmd = {"tc", "-n", ns, "qdisc", "add", "dev", dev, "root", "netem"};
      if (a.loss_pct > 0) {
        char pct[32];
        std::snprintf(pct, sizeof pct, "%g%%", a.loss_pct);
        cmd.insert(cmd.end(), {"loss", pct});
      }
      if (a.delay_us > 0) cmd.insert(cmd.end(), {"delay", std::to_string(a.delay_us) + "us"});
      if (run(cmd, Output::kQuiet) == 0) continue;
      // sch_netem may be a module that is not loaded yet.
      run({"modprobe", "sch_netem"}, Output::kQuiet);
      // Quiet, so that the reason below is the first line of stderr (the orchestrator shows that line).
      if (run(cmd, Output::kQuiet) != 0)
        return unavailable("netem is not available here: `tc qdisc add ... netem` fails (no sch_netem?)");
    }
  }
  return 0;
}

int supervise(const WorkerArgs& a) {
  bool veth = a.system != "linux_lo";
  Plan plan;
  plan.a = &a;
  std::string base = "ustb-";
  base += std::to_string(getpid());
  plan.server_ns = base + "-a";
  plan.client_ns = veth ? base + "-b" : plan.server_ns;
  plan.server_ip = veth ? "198.18.100.1" : "127.0.0.1";

  void* mem = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    std::perror("linux worker: mmap");
    return 1;
  }
  plan.sh = new (mem) Shared;

  // The names go to the handlers' arrays first, so that a signal during creation deletes what exists.
  std::vector<std::string> names = {plan.server_ns};
  if (veth) names.push_back(plan.client_ns);
  for (size_t i = 0; i < names.size(); ++i)
    std::snprintf(g_ns_name[i], sizeof g_ns_name[i], "%s", names[i].c_str());
  double limit = 60 + 3 * a.seconds + a.conns / 200.0 + double(a.bytes) / 1e8;
  alarm(unsigned(std::min(limit, 3600.0)));
  install_handlers();
  for (const auto& n : names) {
    g_ns_count = g_ns_count + 1;
    if (!must({"ip", "netns", "add", n})) return 1;
  }
  if (int rc = build_network(a, plan, veth); rc != 0) return rc;

  std::fflush(stdout);
  std::fflush(stderr);
  for (int i = 0; i < 2; ++i) {
    block_handlers(true);  // the child resets them before it can receive one
    pid_t pid = fork();
    if (pid == 0) child_main(plan, i == 0);
    g_child[i] = pid;
    block_handlers(false);
    if (pid < 0) {
      std::perror("linux worker: fork");
      return 1;
    }
  }
  // Once both children are inside, the names are no longer needed: deleting them now means even a
  // SIGKILL of this process leaves nothing behind (the children die with it, and the namespaces with them).
  while (plan.sh->entered.load() < 2) {
    bool gone = plan.sh->failed.load();
    for (int i = 0; i < 2 && !gone; ++i) {
      int status = 0;
      if (waitpid(g_child[i], &status, WNOHANG) != 0) {
        g_child[i] = 0;  // reaped (or not ours to wait for)
        gone = true;
      }
    }
    if (gone) {
      std::fprintf(stderr, "linux worker: a side failed while joining its namespace\n");
      return 1;
    }
    usleep(200);
  }
  block_handlers(true);
  int named = g_ns_count;
  g_ns_count = 0;
  for (int i = 0; i < named; ++i) run({g_ip_path, "netns", "del", g_ns_name[i]});
  block_handlers(false);
  plan.sh->go.store(1, std::memory_order_release);

  // Wait for both; if one fails, the other cannot finish, so stop it.
  int rc[2] = {0, 0};
  for (int left = 2; left > 0; --left) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) {
        ++left;
        continue;
      }
      break;
    }
    int i = pid == g_child[0] ? 0 : 1;
    g_child[i] = 0;
    rc[i] = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    if (rc[i] != 0) {
      plan.sh->failed.store(1);
      if (g_child[1 - i] > 0) kill(g_child[1 - i], SIGKILL);
    } else if (g_child[1 - i] > 0) {
      // The other side finishes within moments of this one; the watchdog stops waiting after 10 s.
      unsigned left_s = alarm(0);
      alarm(left_s == 0 || left_s > 10 ? 10 : left_s);
    }
  }
  return rc[1] != 0 ? rc[1] : rc[0];
}

}  // namespace

int run_linux_worker(const WorkerArgs& a) {
  if (a.system != "linux_veth" && a.system != "linux_veth_nooffload" && a.system != "linux_lo") {
    std::fprintf(stderr, "linux worker: unknown system %s\n", a.system.c_str());
    return 1;
  }
  if (a.test != "bulk" && a.test != "rr" && a.test != "crr" && a.test != "idle") {
    std::fprintf(stderr, "linux worker: unknown test %s\n", a.test.c_str());
    return 1;
  }
  if (a.system != "linux_lo" && a.mtu > 1500)
    return unavailable("frames above MTU 1500 are measured on linux_lo (loopback), not on veth");
  if (a.test == "idle" && a.conns == 0) {
    std::fprintf(stderr, "linux worker: idle needs --conns above 0\n");
    return 1;
  }
  if (geteuid() != 0) return unavailable("needs root to create network namespaces");
  std::string ip = find_program("ip");
  if (ip.empty()) return unavailable("no ip command (iproute2)");
  if ((a.loss_pct > 0 || a.delay_us > 0) && find_program("tc").empty())
    return unavailable("no tc command (iproute2) for netem");
  std::snprintf(g_ip_path, sizeof g_ip_path, "%s", ip.c_str());
  int rc = supervise(a);
  block_handlers(true);
  alarm(0);
  teardown();
  block_handlers(false);
  return rc;
}

}  // namespace ustack::bench
