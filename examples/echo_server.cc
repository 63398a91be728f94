// echo_server: a TCP echo server (RFC 862).
//
//   echo_server --tap IFNAME --addr A.B.C.D/PREFIX [--gateway A.B.C.D] [--port N]
//       Serves on a TAP interface until interrupted (Ctrl-C), then prints the stack's counters.
//   echo_server [--port N]
//       The default, no privileges needed: serves on 198.18.0.2, one of two stacks in this process on a
//       memory wire, and has the other stack, 198.18.0.1, make three round trips to it.
#include <ustack/ustack.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "echo.h"

namespace {
ustack::Host* g_host = nullptr;
}

int main(int argc, char** argv) {
  ustack::TapConfig tap;
  uint16_t port = 7;
  for (int i = 1; i < argc; i += 2) {
    std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : "";
    if (a == "--tap") {
      tap.ifname = v;
    } else if (a == "--addr") {
      tap.address = ustack::Ipv4Cidr::parse(v).value_or(ustack::Ipv4Cidr{});
    } else if (a == "--gateway") {
      tap.gateway = ustack::Ipv4Addr::parse(v);
    } else if (a == "--port") {
      port = static_cast<uint16_t>(std::atoi(v));
    } else {
      std::fprintf(stderr, "usage: echo_server [--tap IF --addr A.B.C.D/N [--gateway G]] [--port N]\n");
      return 2;
    }
  }

  if (!tap.ifname.empty()) {
    auto host = ustack::Host::tap(tap);
    if (!host) {
      std::fprintf(stderr, "echo_server: cannot open %s: %s\n", tap.ifname.c_str(),
                   ustack::errc_message(host.error()));
      return 1;
    }
    EchoServer server(**host);
    if (auto s = server.listen(port); !s) {
      std::fprintf(stderr, "echo_server: port %u: %s\n", port, ustack::errc_message(s.error()));
      return 1;
    }
    std::printf("server: listening on %s port %u\n", tap.address.to_string().c_str(), port);
    std::fflush(stdout);
    g_host = host->get();
    std::signal(SIGINT, [](int) { g_host->stop(); });  // stop() is safe in a signal handler
    std::signal(SIGTERM, [](int) { g_host->stop(); });
    (*host)->set_on_step([&] { server.step(); });
    (*host)->run();  // until stop()
    std::printf("%s", (*host)->counters().c_str());
    return 0;
  }

  auto pair = ustack::Host::memory_pair();
  if (!pair) return 1;
  ustack::Host& host = *pair->b;
  EchoServer server(host);
  if (auto s = server.listen(port); !s) {
    std::fprintf(stderr, "echo_server: port %u: %s\n", port, ustack::errc_message(s.error()));
    return 1;
  }
  std::printf("server: listening on %s port %u\n", host.address().to_string().c_str(), port);
  host.set_on_step([&] { server.step(); });
  // The client's blocking calls run both stacks, and with them the server's step().
  for (std::string msg : {"one", "two", "three"}) {
    auto reply = echo_once(*pair->a, {host.address().addr, port}, msg);
    if (!reply || *reply != msg) {
      std::fprintf(stderr, "echo_server: round trip \"%s\" failed\n", msg.c_str());
      return 1;
    }
    std::printf("client: \"%s\" came back\n", reply->c_str());
  }
  return 0;
}
