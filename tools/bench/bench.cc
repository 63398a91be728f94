// `ustack bench`: the orchestrator. It measures the machine's ceilings, then runs one worker process
// (worker.h) per measurement, every system in turn for each metric and repetition (A B C A B C ...), so
// that a disturbance on the machine spreads over all systems instead of landing on one. Each figure is
// the median of the repetitions, with min and max.
#include "bench.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/checksum.h"
#include "worker.h"

namespace ustack::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

struct Options {
  bool quick = false;
  int reps = 5;
  double seconds = 2;
  uint32_t conns = 10000;
  std::string json, plot;
  std::vector<std::string> systems = {"ustack",     "ustack_1core",         "ustack_nooffload", "lwip",
                                      "linux_veth", "linux_veth_nooffload", "linux_lo"};
  std::set<std::string> metrics;  // empty: all
  int cpu_a = 0, cpu_b = 1;
  bool callgrind = true;
};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, sep);)
    if (!item.empty()) out.push_back(item);
  return out;
}

// ---- the machine's ceilings ----

struct Machine {
  double memcpy_cached_gbytes = 0;  // 64 KiB blocks, the size of an application write
  double memcpy_dram_gbytes = 0;    // 256 MiB, beyond any cache
  double csum_gbytes = 0;           // the stack's Internet checksum over 64 KiB
  double cacheline_rtt_ns = 0;      // one cache line bounced to the other CPU and back
  int cpus = 0;
};

template <class Fn>
double gbytes_per_s(size_t bytes_per_call, Fn&& fn) {
  fn();  // warm
  size_t calls = 0;
  auto t0 = SteadyClock::now();
  auto t1 = t0;
  while (t1 - t0 < std::chrono::milliseconds(200)) {
    for (int i = 0; i < 16; ++i) fn();
    calls += 16;
    t1 = SteadyClock::now();
  }
  return double(calls * bytes_per_call) / std::chrono::duration<double>(t1 - t0).count() / 1e9;
}

Machine measure_machine(const Options& o) {
  Machine m;
  m.cpus = int(sysconf(_SC_NPROCESSORS_ONLN));
  {
    std::vector<std::byte> a(64 * 1024, std::byte{1}), b(64 * 1024);
    m.memcpy_cached_gbytes = gbytes_per_s(a.size(), [&] {
      std::memcpy(b.data(), a.data(), a.size());
      asm volatile("" ::"r"(b.data()) : "memory");
    });
    volatile uint32_t sink = 0;
    m.csum_gbytes = gbytes_per_s(a.size(), [&] { sink = sink + csum_partial(std::span(a), 0); });
  }
  {
    size_t n = 256u << 20;
    std::vector<std::byte> a(n, std::byte{1}), b(n);
    m.memcpy_dram_gbytes = gbytes_per_s(n, [&] {
      std::memcpy(b.data(), a.data(), n);
      asm volatile("" ::"r"(b.data()) : "memory");
    });
  }
  {
    alignas(64) std::atomic<uint64_t> line{0};
    const uint64_t rounds = o.quick ? 200000 : 1000000;
    std::thread peer([&] {
      pin_to_cpu(o.cpu_b);
      for (uint64_t i = 0; i < rounds; ++i) {
        while (line.load(std::memory_order_acquire) != 2 * i + 1) {
        }
        line.store(2 * i + 2, std::memory_order_release);
      }
    });
    pin_to_cpu(o.cpu_a);
    auto t0 = SteadyClock::now();
    for (uint64_t i = 0; i < rounds; ++i) {
      line.store(2 * i + 1, std::memory_order_release);
      while (line.load(std::memory_order_acquire) != 2 * i + 2) {
      }
    }
    auto t1 = SteadyClock::now();
    peer.join();
    m.cacheline_rtt_ns = std::chrono::duration<double, std::nano>(t1 - t0).count() / double(rounds);
    // Back to every CPU: workers pin themselves.
    cpu_set_t all;
    CPU_ZERO(&all);
    for (int c = 0; c < m.cpus; ++c) CPU_SET(c, &all);
    (void)sched_setaffinity(0, sizeof all, &all);
  }
  return m;
}

// ---- running one worker ----

struct Outcome {
  int status = -1;  // exit status; -1 killed (timeout or signal)
  std::map<std::string, double> results;
  std::string out, err;
};

// This program, and the directory it is in (where ustack-bench-lwip is built).
std::string self_exe() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, size_t(n)) : std::string("ustack");
}
std::string self_dir() {
  std::string p = self_exe();
  auto slash = p.rfind('/');
  return slash == std::string::npos ? "." : p.substr(0, slash);
}

bool is_lwip(const std::string& system) { return system.rfind("lwip", 0) == 0; }

// Runs argv with a timeout, collecting stdout and stderr.
Outcome run_process(const std::vector<std::string>& argv, double timeout_s) {
  Outcome oc;
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) return oc;
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);  // its own group, so that a timeout kills its children too
    dup2(out[1], 1);
    dup2(err[1], 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    std::fprintf(stderr, "cannot run %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  auto deadline = SteadyClock::now() +
                  std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(timeout_s));
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open_fds = 2;
  bool killed = false;
  while (open_fds > 0) {
    int left =
        int(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now()).count());
    if (left <= 0) {
      kill(-pid, SIGKILL);
      killed = true;
      break;
    }
    if (::poll(fds, 2, std::min(left, 1000)) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[4096];
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      } else {
        (i == 0 ? oc.out : oc.err).append(buf, size_t(n));
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) close(f.fd);
  int st = 0;
  waitpid(pid, &st, 0);
  oc.status = (!killed && WIFEXITED(st)) ? WEXITSTATUS(st) : -1;
  std::istringstream lines(oc.out);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream in(line);
    std::string tag, key;
    double v;
    if (in >> tag >> key >> v && tag == "RESULT") oc.results[key] = v;
  }
  return oc;
}

std::vector<std::string> worker_argv(const std::string& system, const std::string& test,
                                     const std::vector<std::string>& extra, const Options& o) {
  std::vector<std::string> argv;
  if (is_lwip(system)) {
    argv.push_back(self_dir() + "/ustack-bench-lwip");
  } else {
    argv.push_back(self_exe());
    argv.push_back("bench-worker");
  }
  argv.push_back(system);
  argv.push_back(test);
  argv.push_back("--cpus");
  argv.push_back(std::to_string(o.cpu_a) + "," + std::to_string(o.cpu_b));
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

// First line of a worker's stderr: why it could not run.
std::string first_line(const std::string& s) {
  auto nl = s.find('\n');
  std::string l = s.substr(0, nl);
  return l.empty() ? "no reason given" : l;
}

// ---- the plan ----

// A kind of run and the metrics it yields: metric name <- the worker's key.
struct Test {
  std::string name;  // for the progress line
  std::string test;
  std::vector<std::string> extra;
  std::vector<std::pair<std::string, std::string>> metrics;
};

struct MetricInfo {
  std::string unit;
  bool higher_is_better;
};

const std::map<std::string, MetricInfo>& metric_info() {
  static const std::map<std::string, MetricInfo> m = {
      {"bulk_mtu1500_gbps", {"Gbit/s", true}},
      {"bulk_mtu1500_cpu_s_per_gb", {"CPU s/GB", false}},
      {"bulk_64k_gbps", {"Gbit/s", true}},
      {"rr_1byte_p50_us", {"us", false}},
      {"rr_1byte_p99_us", {"us", false}},
      {"crr_per_s", {"conn/s", true}},
      {"idle_conn_bytes", {"B", false}},
      {"bulk_mtu1500_loss1pct_gbps", {"Gbit/s", true}},
      {"instructions_per_byte", {"instr/B", false}},
  };
  return m;
}

// The table's row order.
const std::vector<std::string> kMetricOrder = {"bulk_mtu1500_gbps",    "bulk_mtu1500_cpu_s_per_gb",
                                               "bulk_64k_gbps",        "rr_1byte_p50_us",
                                               "rr_1byte_p99_us",      "crr_per_s",
                                               "idle_conn_bytes",      "bulk_mtu1500_loss1pct_gbps",
                                               "instructions_per_byte"};

std::vector<Test> plan(const Options& o) {
  std::string secs = std::to_string(o.seconds);
  std::vector<Test> tests = {
      {"bulk mtu 1500",
       "bulk",
       {"--seconds", secs, "--mtu", "1500"},
       {{"bulk_mtu1500_gbps", "gbps"}, {"bulk_mtu1500_cpu_s_per_gb", "cpu_s_per_gb"}}},
      {"bulk 64k frames", "bulk", {"--seconds", secs, "--mtu", "65535"}, {{"bulk_64k_gbps", "gbps"}}},
      {"rr 1 byte",
       "rr",
       {"--seconds", secs},
       {{"rr_1byte_p50_us", "p50_us"}, {"rr_1byte_p99_us", "p99_us"}}},
      {"crr", "crr", {"--seconds", secs}, {{"crr_per_s", "per_s"}}},
      {"idle conns", "idle", {"--conns", std::to_string(o.conns)}, {{"idle_conn_bytes", "bytes_per_conn"}}},
      {"bulk 1% loss 1 ms rtt",
       "bulk",
       {"--seconds", secs, "--mtu", "1500", "--loss", "1", "--delay-us", "500"},
       {{"bulk_mtu1500_loss1pct_gbps", "gbps"}}},
  };
  if (o.metrics.empty()) return tests;
  std::vector<Test> chosen;
  for (auto& t : tests) {
    bool want = false;
    for (auto& m : t.metrics) want |= o.metrics.count(m.first) > 0;
    if (want) chosen.push_back(t);
  }
  return chosen;
}

// ---- results ----

struct Series {
  std::vector<double> v;
  double median() const {
    auto s = v;
    std::sort(s.begin(), s.end());
    size_t n = s.size();
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  }
  double min() const { return *std::min_element(v.begin(), v.end()); }
  double max() const { return *std::max_element(v.begin(), v.end()); }
};

struct Results {
  std::map<std::pair<std::string, std::string>, Series> by;  // (metric, system)
  std::map<std::pair<std::string, std::string>, std::string> unavailable;
  bool has(const std::string& metric, const std::string& system) const {
    auto it = by.find({metric, system});
    return it != by.end() && !it->second.v.empty();
  }
};

// instructions_per_byte: callgrind counts every instruction of the worker (both stacks, the test
// programs, and for two processes both of them); two runs of different lengths cancel the fixed cost.
// valgrind runs a process's threads one at a time, so two stack threads spinning on each other would
// crawl: `ustack` is counted as `ustack_1core` (the same code, both stacks in one thread).
void measure_instructions(const Options& o, const std::vector<std::string>& systems, Results& r) {
  const std::string metric = "instructions_per_byte";
  if (system("valgrind --version >/dev/null 2>&1") != 0) {
    for (auto& s : systems) r.unavailable[{metric, s}] = "valgrind not installed";
    return;
  }
  uint64_t n1 = o.quick ? (4u << 20) : (16u << 20), n2 = o.quick ? (20u << 20) : (80u << 20);
  std::map<std::string, std::optional<double>> measured;  // by the system actually run
  for (const auto& sys : systems) {
    if (sys.rfind("linux", 0) == 0) continue;
    // The two-thread systems are counted in their one-thread form; `ustack_nooffload` keeps its flag.
    bool nooffload = sys == "ustack_nooffload";
    std::string run_as = sys == "ustack" || nooffload ? "ustack_1core" : sys;
    std::string key = run_as + (nooffload ? " --no-offload" : "");
    if (!measured.count(key)) {
      double counts[2] = {0, 0};
      bool ok = true;
      for (int i = 0; i < 2 && ok; ++i) {
        uint64_t bytes = i == 0 ? n1 : n2;
        std::fprintf(stderr, "\r\033[K  %s %s (%llu bytes under callgrind)", metric.c_str(), run_as.c_str(),
                     static_cast<unsigned long long>(bytes));
        std::vector<std::string> extra = {"--bytes", std::to_string(bytes), "--mtu", "1500"};
        if (nooffload) extra.push_back("--no-offload");
        auto w = worker_argv(run_as, "bulk", extra, o);
        // valgrind counts each iteration of `rep movsb` as an instruction, and glibc's memcpy uses it
        // for large copies: a 64 KiB copy would count as 65,536 instructions where the vector loop it
        // otherwise takes counts about 2,000. The tunable keeps every system on the vector loop, so that
        // the figure compares work done rather than how memcpy was entered.
        std::vector<std::string> argv = {"/usr/bin/env",
                                         "GLIBC_TUNABLES=glibc.cpu.x86_rep_movsb_threshold=4294967295",
                                         "/usr/bin/valgrind",
                                         "--tool=callgrind",
                                         "--callgrind-out-file=/dev/null",
                                         "--trace-children=yes"};
        argv.insert(argv.end(), w.begin(), w.end());
        Outcome oc = run_process(argv, o.quick ? 120 : 600);
        if (oc.status != 0) {
          r.unavailable[{metric, sys}] = oc.status == kWorkerUnavailable ? first_line(oc.err)
                                         : oc.status < 0                 ? "timed out under callgrind"
                                                                         : "worker failed under callgrind";
          ok = false;
          break;
        }
        // "==PID== Collected : N" once per process.
        std::istringstream lines(oc.err);
        for (std::string line; std::getline(lines, line);) {
          auto at = line.find("Collected : ");
          if (at != std::string::npos) counts[i] += std::atof(line.c_str() + at + 12);
        }
      }
      measured[key] = ok && counts[1] > counts[0] ? std::optional((counts[1] - counts[0]) / double(n2 - n1))
                                                  : std::nullopt;
    }
    if (measured[key]) r.by[{metric, sys}].v.push_back(*measured[key]);
  }
  std::fprintf(stderr, "\r\033[K");
}

std::string fmt(double v) {
  char buf[32];
  if (v >= 1000)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else if (v >= 10)
    std::snprintf(buf, sizeof buf, "%.1f", v);
  else
    std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

void print_table(const Machine& m, const Options& o, const Results& r,
                 const std::vector<std::string>& systems) {
  std::printf(
      "\nmachine: %d CPUs; memcpy %.1f GB/s (64 KiB, cached), %.1f GB/s (256 MiB); checksum %.1f GB/s; "
      "cache line round trip CPU %d <-> %d: %.0f ns\n",
      m.cpus, m.memcpy_cached_gbytes, m.memcpy_dram_gbytes, m.csum_gbytes, o.cpu_a, o.cpu_b,
      m.cacheline_rtt_ns);
  std::printf("median of %d run%s (min-max in --json)\n\n", o.reps, o.reps == 1 ? "" : "s");
  std::vector<std::string> peers;
  for (auto& s : systems)
    if (s.rfind("ustack", 0) != 0) peers.push_back(s);
  std::printf("%-28s %-9s", "metric", "unit");
  for (auto& s : systems) std::printf(" %12.12s", s.c_str());
  for (auto& p : peers) std::printf(" %9.9s", ("x" + p).c_str());
  std::printf("\n");
  for (const auto& metric : kMetricOrder) {
    bool any = false;
    for (auto& s : systems) any |= r.has(metric, s) || r.unavailable.count({metric, s});
    if (!any) continue;
    const MetricInfo& info = metric_info().at(metric);
    std::printf("%-28s %-9s", metric.c_str(), info.unit.c_str());
    for (auto& s : systems)
      std::printf(" %12s", r.has(metric, s) ? fmt(r.by.at({metric, s}).median()).c_str() : "n/a");
    for (auto& p : peers) {
      if (!r.has(metric, "ustack") || !r.has(metric, p)) {
        std::printf(" %9s", "-");
        continue;
      }
      double u = r.by.at({metric, "ustack"}).median(), v = r.by.at({metric, p}).median();
      double ratio = info.higher_is_better ? u / v : v / u;
      std::printf(" %8.2fx", ratio);
    }
    std::printf("\n");
  }
  std::printf("\nx<peer>: ustack against that peer, oriented so that above 1 means ustack is ahead.\n");
  std::set<std::string> said;
  for (auto& [k, why] : r.unavailable) {
    std::string line = k.second + ": " + why;
    if (said.insert(line).second) std::printf("n/a %s (%s)\n", k.first.c_str(), line.c_str());
  }
}

std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) o += c;
  }
  return o;
}

bool write_json(const std::string& path, const Machine& m, const Options& o, const Results& r) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) return false;
  std::fprintf(
      f,
      "{\n  \"machine\": {\"cpus\": %d, \"memcpy_cached_gbytes_per_s\": %.3f, "
      "\"memcpy_dram_gbytes_per_s\": %.3f, \"checksum_gbytes_per_s\": %.3f, \"cacheline_rtt_ns\": %.1f, "
      "\"cpu_client\": %d, \"cpu_server\": %d},\n",
      m.cpus, m.memcpy_cached_gbytes, m.memcpy_dram_gbytes, m.csum_gbytes, m.cacheline_rtt_ns, o.cpu_a,
      o.cpu_b);
  std::fprintf(f, "  \"settings\": {\"reps\": %d, \"seconds\": %.3f, \"idle_conns\": %u, \"quick\": %s},\n",
               o.reps, o.seconds, o.conns, o.quick ? "true" : "false");
  std::fprintf(f, "  \"results\": [");
  bool first = true;
  for (const auto& metric : kMetricOrder) {
    for (auto& [k, s] : r.by) {
      if (k.first != metric || s.v.empty()) continue;
      std::fprintf(
          f,
          "%s\n    {\"metric\": \"%s\", \"system\": \"%s\", \"median\": %.6g, \"min\": %.6g, \"max\": %.6g, "
          "\"unit\": \"%s\", \"runs\": %zu}",
          first ? "" : ",", metric.c_str(), k.second.c_str(), s.median(), s.min(), s.max(),
          metric_info().at(metric).unit.c_str(), s.v.size());
      first = false;
    }
  }
  std::fprintf(f, "\n  ],\n  \"unavailable\": [");
  first = true;
  for (auto& [k, why] : r.unavailable) {
    std::fprintf(f, "%s\n    {\"metric\": \"%s\", \"system\": \"%s\", \"reason\": \"%s\"}", first ? "" : ",",
                 k.first.c_str(), k.second.c_str(), json_escape(why).c_str());
    first = false;
  }
  std::fprintf(f, "\n  ]\n}\n");
  return std::fclose(f) == 0;
}

// Bars per metric, one panel each, drawn by matplotlib from the JSON.
constexpr const char* kPlotScript = R"PY(
import json, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
data = json.load(open(sys.argv[1]))
metrics = []
for r in data["results"]:
    if r["metric"] not in metrics:
        metrics.append(r["metric"])
cols = 3
rows = (len(metrics) + cols - 1) // cols
fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.6 * rows), squeeze=False)
for ax, m in zip(axes.flat, metrics):
    rs = [r for r in data["results"] if r["metric"] == m]
    names = [r["system"] for r in rs]
    med = [r["median"] for r in rs]
    lo = [r["median"] - r["min"] for r in rs]
    hi = [r["max"] - r["median"] for r in rs]
    colors = ["tab:orange" if n.startswith("ustack") else "tab:blue" for n in names]
    ax.bar(range(len(rs)), med, yerr=[lo, hi], color=colors, capsize=3)
    ax.set_xticks(range(len(rs)))
    ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
    ax.set_title("%s (%s)" % (m, rs[0]["unit"]), fontsize=9)
for ax in list(axes.flat)[len(metrics):]:
    ax.axis("off")
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=100)
)PY";

bool write_plot(const std::string& json_path, const std::string& png) {
  char tmpl[] = "/tmp/ustack-bench-plot-XXXXXX";
  int fd = mkstemp(tmpl);
  if (fd < 0) return false;
  bool ok = write(fd, kPlotScript, std::strlen(kPlotScript)) == ssize_t(std::strlen(kPlotScript));
  close(fd);
  if (ok) {
    Outcome oc = run_process({"/usr/bin/python3", tmpl, json_path, png}, 120);
    ok = oc.status == 0;
    if (!ok) std::fprintf(stderr, "ustack bench: plotting failed: %s\n", first_line(oc.err).c_str());
  }
  unlink(tmpl);
  return ok;
}

bool parse_options(int argc, char** argv, int first, Options& o) {
  bool reps_given = false, secs_given = false, conns_given = false;
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "ustack bench: %s needs a value\n", a.c_str());
        return nullptr;
      }
      return argv[++i];
    };
    const char* v = nullptr;
    if (a == "--quick") {
      o.quick = true;
    } else if (a == "--no-callgrind") {
      o.callgrind = false;
    } else if (a == "--reps" || a == "--seconds" || a == "--json" || a == "--plot" || a == "--systems" ||
               a == "--metrics" || a == "--cpus" || a == "--conns") {
      if (!(v = value())) return false;
      if (a == "--reps") o.reps = std::max(1, std::atoi(v)), reps_given = true;
      if (a == "--seconds") o.seconds = std::atof(v), secs_given = true;
      if (a == "--conns") o.conns = uint32_t(std::atoi(v)), conns_given = true;
      if (a == "--json") o.json = v;
      if (a == "--plot") o.plot = v;
      if (a == "--systems") o.systems = split(v, ',');
      if (a == "--metrics")
        for (auto& m : split(v, ',')) o.metrics.insert(m);
      if (a == "--cpus" && std::sscanf(v, "%d,%d", &o.cpu_a, &o.cpu_b) != 2) {
        std::fprintf(stderr, "ustack bench: --cpus wants A,B\n");
        return false;
      }
    } else {
      std::fprintf(stderr, "ustack bench: unknown option %s (see ustack --help)\n", a.c_str());
      return false;
    }
  }
  for (auto& m : o.metrics)
    if (!metric_info().count(m)) {
      std::fprintf(stderr, "ustack bench: unknown metric %s\n", m.c_str());
      return false;
    }
  if (o.quick) {
    if (!reps_given) o.reps = 1;
    if (!secs_given) o.seconds = 0.5;
    if (!conns_given) o.conns = 2000;
  }
  if (!o.plot.empty() && o.json.empty()) o.json = o.plot + ".json";
  return true;
}

}  // namespace

int run_bench(int argc, char** argv, int first) {
  Options o;
  if (!parse_options(argc, argv, first, o)) return 2;
  auto t_start = SteadyClock::now();
  std::fprintf(stderr, "ustack bench: measuring the machine's ceilings\n");
  Machine m = measure_machine(o);

  Results r;
  std::vector<Test> tests = plan(o);
  size_t total = tests.size() * o.systems.size() * size_t(o.reps), done = 0;
  for (int rep = 0; rep < o.reps; ++rep) {
    for (const Test& t : tests) {
      for (const auto& sys : o.systems) {
        ++done;
        // A system that could not run once will not run the next time either.
        if (r.unavailable.count({t.metrics[0].first, sys})) continue;
        std::fprintf(stderr, "\r\033[K[%zu/%zu] rep %d/%d  %-22s %s", done, total, rep + 1, o.reps,
                     t.name.c_str(), sys.c_str());
        double timeout = t.test == "idle" ? 300 : o.seconds * 10 + 60;
        Outcome oc = run_process(worker_argv(sys, t.test, t.extra, o), timeout);
        if (oc.status != 0) {
          std::string why = oc.status == kWorkerUnavailable ? first_line(oc.err)
                            : oc.status < 0                 ? "worker timed out"
                                                            : "worker failed: " + first_line(oc.err);
          for (auto& [metric, key] : t.metrics) r.unavailable[{metric, sys}] = why;
          continue;
        }
        for (auto& [metric, key] : t.metrics) {
          auto it = oc.results.find(key);
          if (it != oc.results.end())
            r.by[{metric, sys}].v.push_back(it->second);
          else
            r.unavailable[{metric, sys}] = "worker reported no " + key;
        }
      }
    }
  }
  // A metric that failed in one repetition but succeeded in another keeps its figures.
  for (auto it = r.unavailable.begin(); it != r.unavailable.end();)
    it = r.has(it->first.first, it->first.second) ? r.unavailable.erase(it) : std::next(it);
  if (o.callgrind && (o.metrics.empty() || o.metrics.count("instructions_per_byte")))
    measure_instructions(o, o.systems, r);
  std::fprintf(stderr, "\r\033[K");

  print_table(m, o, r, o.systems);
  double took = std::chrono::duration<double>(SteadyClock::now() - t_start).count();
  std::printf("\n%zu runs in %.0f s\n", total, took);
  int status = 0;
  if (!o.json.empty()) {
    if (write_json(o.json, m, o, r)) {
      std::printf("wrote %s\n", o.json.c_str());
    } else {
      std::fprintf(stderr, "ustack bench: cannot write %s\n", o.json.c_str());
      status = 1;
    }
  }
  if (!o.plot.empty()) {
    if (write_plot(o.json, o.plot))
      std::printf("wrote %s\n", o.plot.c_str());
    else
      status = 1;
  }
  // The benchmark itself must work: ustack's own figures are never missing.
  for (const auto& t : tests)
    for (auto& [metric, key] : t.metrics)
      if (std::find(o.systems.begin(), o.systems.end(), "ustack") != o.systems.end() &&
          !r.has(metric, "ustack")) {
        std::fprintf(stderr, "ustack bench: no figure for ustack %s\n", metric.c_str());
        status = 1;
      }
  return status;
}

}  // namespace ustack::bench
