// The benchmark's worker protocol. `ustack bench` (the orchestrator, bench.cc) runs every measurement as
// a separate worker process, so that systems never share a heap, a namespace or a warm cache, and so
// that one can be pinned, timed or run under callgrind on its own:
//
//   ustack bench-worker SYSTEM TEST [options]      SYSTEM: ustack, ustack_1core, linux_veth,
//                                                  linux_veth_nooffload, linux_lo
//   ustack-bench-lwip   SYSTEM TEST [options]      SYSTEM: lwip (two processes over a shared ring),
//                                                  lwip_ustack (lwIP and ustack in one process)
//
// TEST is one of
//   bulk   one connection, the client writes 64 KiB at a time for --seconds (or exactly --bytes), the
//          server reads and discards. Prints `gbps` (payload) and `cpu_s_per_gb`.
//   rr     1-byte request, 1-byte response, spinning, --seconds after a warm-up. Prints `p50_us`, `p99_us`.
//   crr    connect, accept, 1-byte request and response, close, for --seconds. Prints `per_s`.
//   idle   open --conns connections, measure memory, close them. Prints `bytes_per_conn`: the growth of
//          the heap (user-space stacks: mallinfo2 uordblks + hblkhd) or of kernel slab (Linux: Slab in
//          /proc/meminfo) divided by the number of established sockets (both ends count).
// options
//   --seconds S     measuring time (default 2)
//   --bytes N       bulk: move exactly N bytes instead (the callgrind mode uses this)
//   --mtu N         link MTU (default 1500; 65535 for the 64 KiB-frame run)
//   --loss PCT      random loss on the wire, in percent, each direction
//   --delay-us US   one-way delay on the wire
//   --conns N       idle: connections (default 10000)
//   --cpus A,B      the client side runs on CPU A, the server side on CPU B (one-core systems use A)
//
// Output: one line per figure on stdout, `RESULT <key> <value> <unit>`; anything else on stdout is
// ignored, diagnostics go to stderr; exit status 0 on success, 2 when the system cannot run here (for
// example no root for namespaces), with the reason on stderr, and 1 on failure.
// CPU time (cpu_s_per_gb) is the machine's busy time from /proc/stat over the measurement, so kernel
// softirq work counts for Linux as the stack threads' spinning counts for the user-space stacks.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace ustack::bench {

struct WorkerArgs {
  std::string system, test;
  double seconds = 2;
  uint64_t bytes = 0;  // 0: run for `seconds`
  uint32_t mtu = 1500;
  double loss_pct = 0;
  uint32_t delay_us = 0;
  uint32_t conns = 10000;
  int cpu_client = 0, cpu_server = 1;
  // ustack on its rings: checksum offload and TSO between the two ends, as veth gives two kernel
  // namespaces (--no-offload: every frame MTU-sized and checksummed).
  bool offload = true;
};

// Parses argv[first..]; on error prints the reason and returns false.
bool parse_worker_args(int argc, char** argv, int first, WorkerArgs& out);

inline void print_result(const char* key, double value, const char* unit) {
  std::printf("RESULT %s %.6g %s\n", key, value, unit);
  std::fflush(stdout);
}

// Pins the calling thread to one CPU (ignored if the CPU does not exist).
void pin_to_cpu(int cpu);

// Machine-wide busy CPU seconds so far (user + nice + system + irq + softirq over every CPU).
double busy_cpu_seconds();

// Heap bytes in use, mapped blocks included (mallinfo2 uordblks + hblkhd).
size_t heap_in_use();

// Exit status for "this system cannot run here".
inline constexpr int kWorkerUnavailable = 2;

// The workers in the ustack binary: SYSTEM ustack / ustack_1core (worker_ustack.cc) and linux_*
// (worker_linux.cc). Each returns the process exit status.
int run_ustack_worker(const WorkerArgs& a);
int run_linux_worker(const WorkerArgs& a);

}  // namespace ustack::bench
