#include <malloc.h>
#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "worker.h"

namespace ustack::bench {

bool parse_worker_args(int argc, char** argv, int first, WorkerArgs& out) {
  if (argc - first < 2) {
    std::fprintf(stderr,
                 "usage: SYSTEM TEST [--seconds S] [--bytes N] [--mtu N] [--loss PCT] [--delay-us US] "
                 "[--conns N] [--cpus A,B] [--no-offload]\n");
    return false;
  }
  out.system = argv[first];
  out.test = argv[first + 1];
  for (int i = first + 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--no-offload") {
      out.offload = false;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "option %s needs a value\n", a.c_str());
      return false;
    }
    const char* v = argv[++i];
    if (a == "--seconds") {
      out.seconds = std::atof(v);
    } else if (a == "--bytes") {
      out.bytes = std::strtoull(v, nullptr, 10);
    } else if (a == "--mtu") {
      out.mtu = static_cast<uint32_t>(std::strtoul(v, nullptr, 10));
    } else if (a == "--loss") {
      out.loss_pct = std::atof(v);
    } else if (a == "--delay-us") {
      out.delay_us = static_cast<uint32_t>(std::strtoul(v, nullptr, 10));
    } else if (a == "--conns") {
      out.conns = static_cast<uint32_t>(std::strtoul(v, nullptr, 10));
    } else if (a == "--cpus") {
      if (std::sscanf(v, "%d,%d", &out.cpu_client, &out.cpu_server) != 2) {
        std::fprintf(stderr, "--cpus wants A,B\n");
        return false;
      }
    } else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return false;
    }
  }
  return true;
}

void pin_to_cpu(int cpu) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  if (cpu < 0 || cpu >= n) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  (void)sched_setaffinity(0, sizeof set, &set);
}

double busy_cpu_seconds() {
  std::ifstream f("/proc/stat");
  std::string line;
  if (!std::getline(f, line)) return 0;
  std::istringstream in(line);
  std::string cpu;
  unsigned long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0;
  in >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq;
  return double(user + nice + system + irq + softirq) / double(sysconf(_SC_CLK_TCK));
}

size_t heap_in_use() {
  // uordblks leaves out blocks of 128 KiB and more, which glibc maps on their own (hblkhd): a growing
  // table would vanish from the count.
  struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

}  // namespace ustack::bench
