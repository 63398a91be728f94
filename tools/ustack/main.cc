// ustack: the command-line tool.
#include <cstdio>
#include <cstring>
#include <string_view>

#include "bench.h"
#include "commands.h"
#include "worker.h"

namespace {

constexpr const char* kUsage = R"(ustack - a user-space TCP/IP stack

usage: ustack COMMAND [OPTIONS]

commands:
  ping [-c N] [-s SIZE] [-i SECONDS] [-W SECONDS] [-t TTL] [-q] [--trace] [ADDR]
      Send ICMP echo requests and print the replies and an RTT summary, as iputils ping does
      (default: 4 requests of 56 bytes, 1 s apart). Exit status 0 if replies came back.
      Without --tap: two stacks on a memory wire in this process, in virtual time (no root needed);
      this host is 198.18.0.1/24 and the peer, pinged when ADDR is left out, is 198.18.0.2/24.
      --loss PERCENT and --delay MS (one way, default 0.1) shape the wire.
  demo [--bytes N] [--loss PERCENT] [--delay MS] [--pcap FILE] [--quiet]
      The main job: two stacks on a memory wire in virtual time. A server does socket, bind,
      listen, accept; a client socket, connect, send, recv, close. Prints the traced connect path
      (socket() and connect() down to the driver, and the SYN-ACK back up to the woken caller),
      echoes N bytes (default 1 MiB), closes, prints a summary and writes FILE (ustack-demo.pcap).
  serve --tap IFNAME --addr A.B.C.D/PREFIX [--gateway G] [--udp-echo PORT] [--echo PORT]
        [--discard PORT] [--http PORT] [--duration SECONDS]
      A stack on a TAP interface answering ARP and ping, with UDP echo, TCP echo (RFC 862),
      discard (RFC 863) and a small HTTP/1.1 server: GET / answers a short page, GET /bytes/N
      answers N bytes whose byte i is the letter 'a' + (i mod 26). Runs until interrupted (or for
      --duration seconds) and prints its counters on exit.
  connect [--tap IFNAME --addr A.B.C.D/PREFIX [--gateway G]] HOST PORT
      Like netcat: standard input to the connection, the connection to standard output; end of
      input half-closes. Without --tap, talks to an echo server on the memory-wire peer.

  drill [--json] [--profile linux|rfc] SCRIPT.pkt|DIR...
      Run packetdrill scripts against ustack in this process, in virtual time: the runner is the
      remote host (192.0.2.1; ustack is 192.168.0.1). One line per script (PASS, FAIL with the
      script line and expected against actual, SKIP with the reason) and a closing line
      "N passed, N failed, N skipped"; --json for machines. --profile rfc compares flags, seq/ack,
      SACK blocks and payload but not windows, option order or timestamps (FreeBSD's scripts).
      Exit status 1 if any script failed. See docs/conformance.md.

  bench [--quick] [--reps N] [--seconds S] [--json FILE] [--plot FILE.png] [--systems A,B,...]
        [--metrics M,N,...] [--cpus A,B] [--no-callgrind]
      Measure ustack side by side with lwIP and the Linux kernel on this machine: first the
      machine's ceilings (memcpy and checksum bandwidth, a cross-core cache-line round trip), then
      every metric for every system, interleaved (A B C A B C ...), N repetitions (default 5),
      reporting median, min and max. Systems: ustack (one thread per stack on CPUs A and B,
      frame rings between them, checksum offload and TSO on the rings as veth has them),
      ustack_1core (both stacks on CPU A), ustack_nooffload (ustack with MTU-sized, checksummed
      frames on the rings), lwip (lwIP 2.1.3 from
      liblwip-dev, two processes), linux_veth, linux_veth_nooffload (namespaces joined by a veth
      pair, needs root), linux_lo. Metrics: bulk_mtu1500_gbps, bulk_64k_gbps, rr_1byte_p50_us,
      rr_1byte_p99_us, crr_per_s, idle_conn_bytes, bulk_mtu1500_loss1pct_gbps,
      instructions_per_byte (under callgrind). --quick: one repetition of short runs (under two
      minutes). Prints a table with the ratio of ustack to each peer (above 1: ustack ahead).
      See docs/BENCHMARKS.md.

options for every command:
  --tap IFNAME            attach to this TAP interface (created if absent) instead of the memory wire
  --addr A.B.C.D/PREFIX   our address on the TAP interface
  --gateway A.B.C.D       default route via this gateway
  --mac XX:XX:XX:XX:XX:XX our MAC on the TAP interface (default: random, locally administered)
  --no-offload            plain frames on the TAP interface: no virtio-net header, so no TSO, GRO or
                          checksum offload between ustack and the kernel (serve, connect, ping)
  --pcap FILE             capture our interface's frames to FILE (pcap, for tcpdump/Wireshark/tshark)
  --seed N                seed for everything random (default 1)
  --trace                 print each step of the data path with the Linux function it mirrors
  -h, --help              this text
)";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "--help") ||
      !std::strcmp(argv[1], "help")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  std::string_view cmd = argv[1];
  for (int i = 2; i < argc; ++i) {
    if (!std::strcmp(argv[i], "-h") || !std::strcmp(argv[i], "--help")) {
      std::fputs(kUsage, stdout);
      return 0;
    }
  }
  if (cmd == "ping") return ustack::cli::cmd_ping(argc - 2, argv + 2);
  if (cmd == "serve") return ustack::cli::cmd_serve(argc - 2, argv + 2);
  if (cmd == "demo") return ustack::cli::cmd_demo(argc - 2, argv + 2);
  if (cmd == "connect") return ustack::cli::cmd_connect(argc - 2, argv + 2);
  if (cmd == "drill") return ustack::cli::cmd_drill(argc - 2, argv + 2);
  if (cmd == "bench") return ustack::bench::run_bench(argc, argv, 2);
  if (cmd == "bench-worker") {
    // One measurement of one system (tools/bench/worker.h); `ustack bench` runs these.
    ustack::bench::WorkerArgs a;
    if (!ustack::bench::parse_worker_args(argc, argv, 2, a)) return 1;
    if (a.system.rfind("linux", 0) == 0) return ustack::bench::run_linux_worker(a);
    return ustack::bench::run_ustack_worker(a);
  }
  std::fprintf(stderr, "ustack: unknown command '%s' (see ustack --help)\n", argv[1]);
  return 2;
}
