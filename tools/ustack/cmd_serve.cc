// ustack serve: a stack on a TAP interface answering ARP, ping and UDP echo until interrupted.
#include <csignal>
#include <cstdio>
#include <vector>

#include "apps.h"
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
  value_opts.insert({"--udp-echo", "--duration", "--echo", "--discard", "--http"});
  Options o(argc, argv, value_opts, {"--trace", "--no-offload"});
  long udp_echo = o.get_long("--udp-echo", 0);
  double duration = o.get_double("--duration", 0);
  long echo_port = o.get_long("--echo", 0), discard_port = o.get_long("--discard", 0),
       http_port = o.get_long("--http", 0);
  auto bad_port = [](long p) { return p < 0 || p > 65535; };
  if (!o.ok() || bad_port(udp_echo) || bad_port(echo_port) || bad_port(discard_port) || bad_port(http_port)) {
    std::fprintf(stderr, "ustack serve: %s\n", o.ok() ? "bad port" : o.error().c_str());
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
  AppServers apps(st.sockets());
  const std::pair<long, AppServers::Kind> services[] = {{echo_port, AppServers::Kind::kEcho},
                                                        {discard_port, AppServers::Kind::kDiscard},
                                                        {http_port, AppServers::Kind::kHttp}};
  for (auto [port, kind] : services) {
    if (port == 0) continue;
    if (Status s = apps.listen(kind, static_cast<uint16_t>(port)); !s) {
      std::fprintf(stderr, "ustack serve: listen on %ld: %s\n", port, errc_message(s.error()));
      return 2;
    }
  }
  host->set_on_step([&] { apps.service(); });
  g_host = host.get();
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::string what;
  if (udp_echo) what += ", udp echo on " + std::to_string(udp_echo);
  if (echo_port) what += ", tcp echo on " + std::to_string(echo_port);
  if (discard_port) what += ", discard on " + std::to_string(discard_port);
  if (http_port) what += ", http on " + std::to_string(http_port);
  std::printf("ustack serve: %s on %s%s; Ctrl-C to stop\n", o.get("--addr")->c_str(), o.get("--tap")->c_str(),
              what.c_str());
  std::fflush(stdout);
  Duration limit = duration > 0
                       ? std::chrono::duration_cast<Duration>(std::chrono::duration<double>(duration))
                       : Duration::max();
  host->run_until([] { return false; }, limit);
  for (auto& d : st.devs().devices())
    if (d->capture()) d->capture()->flush();
  std::printf("%s", st.counters_report().c_str());
  if (echo_port || discard_port || http_port) {
    std::printf(
        "TcpConnectionsAccepted       %llu\nTcpAppBytesIn                %llu\nTcpAppBytesOut               "
        "%llu\n",
        static_cast<unsigned long long>(apps.accepted()), static_cast<unsigned long long>(apps.bytes_in()),
        static_cast<unsigned long long>(apps.bytes_out()));
  }
  g_host = nullptr;
  return 0;
}

}  // namespace ustack::cli
