// ustack: the command-line tool.
#include <cstdio>
#include <cstring>
#include <string_view>

#include "commands.h"

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
  serve --tap IFNAME --addr A.B.C.D/PREFIX [--gateway G] [--udp-echo PORT] [--duration SECONDS]
      A stack on a TAP interface answering ARP, ping and (with --udp-echo) UDP echo until
      interrupted (or for --duration); prints its counters on exit.

options for every command:
  --tap IFNAME            attach to this TAP interface (created if absent) instead of the memory wire
  --addr A.B.C.D/PREFIX   our address on the TAP interface
  --gateway A.B.C.D       default route via this gateway
  --mac XX:XX:XX:XX:XX:XX our MAC on the TAP interface (default: random, locally administered)
  --pcap FILE             capture our interface's frames to FILE (pcap, for tcpdump/Wireshark/tshark)
  --seed N                seed for everything random (default 1)
  --trace                 print each step of the data path with the Linux function it mirrors
  -h, --help              this text
)";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "help")) {
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
  std::fprintf(stderr, "ustack: unknown command '%s' (see ustack --help)\n", argv[1]);
  return 2;
}
