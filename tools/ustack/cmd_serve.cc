// ustack serve: a stack on a TAP interface answering ARP, ping and UDP echo until interrupted.
#include <csignal>
#include <cstdio>
#include <vector>

#include "commands.h"
#include "dev/pcap.h"
#include "host.h"

namespace ustack::cli {

namespace {
Host* g_host = nullptr;
void on_signal(int) {
  if (g_host) g_host->stop();
}
}  // namespace

int cmd_serve(int argc, char** argv) {
  auto value_opts = kHostOptions;
  value_opts.insert({"--udp-echo", "--duration"});
  Options o(argc, argv, value_opts, {"--trace"});
  long udp_echo = o.get_long("--udp-echo", 0);
  double duration = o.get_double("--duration", 0);
  if (!o.ok() || udp_echo < 0 || udp_echo > 65535) {
    std::fprintf(stderr, "ustack serve: %s\n", o.ok() ? "bad --udp-echo port" : o.error().c_str());
    return 2;
  }
  if (!o.has("--tap")) {
    std::fprintf(stderr, "ustack serve: needs --tap IFNAME --addr A.B.C.D/PREFIX\n");
    return 2;
  }
  auto host = make_host(o);
  if (!host) return 2;
  Stack& st = host->stack();
  if (o.has("--trace")) enable_trace(st, "");

  std::unique_ptr<UdpSock> echo;
  std::vector<std::byte> buf(65536);
  if (udp_echo) {
    echo = st.udp().socket();
    if (Status s = echo->bind(SockAddrIn{Ipv4Addr::any(), static_cast<uint16_t>(udp_echo)}); !s) {
      std::fprintf(stderr, "ustack serve: bind udp %ld: %s\n", udp_echo, errc_message(s.error()));
      return 2;
    }
    echo->set_data_ready([&] {
      SockAddrIn from;
      for (;;) {
        auto n = echo->recvfrom(buf, &from);
        if (!n) {
          if (n.error() == Errc::kAgain) break;
          continue;  // a reported error: nothing to echo
        }
        (void)echo->sendto(std::span(buf.data(), *n), from);
      }
    });
  }
  g_host = host.get();
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::printf("ustack serve: %s on %s%s%s; Ctrl-C to stop\n", o.get("--addr")->c_str(), o.get("--tap")->c_str(),
              udp_echo ? ", udp echo on port " : "", udp_echo ? std::to_string(udp_echo).c_str() : "");
  std::fflush(stdout);
  Duration limit = duration > 0 ? std::chrono::duration_cast<Duration>(std::chrono::duration<double>(duration))
                                : Duration::max();
  host->run_until([] { return false; }, limit);
  for (auto& d : st.devs().devices())
    if (d->capture()) d->capture()->flush();
  std::printf("%s", st.counters_report().c_str());
  g_host = nullptr;
  return 0;
}

}  // namespace ustack::cli
