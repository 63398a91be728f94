// echo_client: one round trip to a TCP echo server.
//
//   echo_client [MESSAGE]
//       The default, no privileges needed: two stacks in this process on a memory wire, in virtual time.
//       The peer, 198.18.0.2, runs the echo server; this host is 198.18.0.1.
//   echo_client --tap IFNAME --addr A.B.C.D/PREFIX [--gateway A.B.C.D] --server A.B.C.D[:PORT] [MESSAGE]
//       This host on a TAP interface, against a real server (port 7 unless given).
#include <ustack/ustack.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "echo.h"

int main(int argc, char** argv) {
  ustack::TapConfig tap;
  std::string server_arg;
  std::string message = "hello, ustack";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    bool has_value = i + 1 < argc;
    if (a == "--tap" && has_value) {
      tap.ifname = argv[++i];
    } else if (a == "--addr" && has_value) {
      tap.address = ustack::Ipv4Cidr::parse(argv[++i]).value_or(ustack::Ipv4Cidr{});
    } else if (a == "--gateway" && has_value) {
      tap.gateway = ustack::Ipv4Addr::parse(argv[++i]);
    } else if (a == "--server" && has_value) {
      server_arg = argv[++i];
    } else if (a.starts_with("-")) {
      std::fprintf(
          stderr,
          "usage: echo_client [--tap IF --addr A.B.C.D/N [--gateway G] --server A.B.C.D[:PORT]] [MESSAGE]\n");
      return 2;
    } else {
      message = a;
    }
  }

  std::unique_ptr<ustack::Host> client;
  std::unique_ptr<ustack::Host> peer;  // the memory wire's other end
  std::unique_ptr<EchoServer> server;
  ustack::SockAddrIn to;
  if (!tap.ifname.empty()) {
    auto colon = server_arg.find(':');
    auto addr = ustack::Ipv4Addr::parse(server_arg.substr(0, colon));
    if (!addr || tap.address.addr.is_any()) {
      std::fprintf(stderr, "echo_client: --tap needs --addr A.B.C.D/N and --server A.B.C.D[:PORT]\n");
      return 2;
    }
    to = {*addr, uint16_t(colon == std::string::npos ? 7 : std::atoi(server_arg.c_str() + colon + 1))};
    auto host = ustack::Host::tap(tap);
    if (!host) {
      std::fprintf(stderr, "echo_client: cannot open %s: %s\n", tap.ifname.c_str(),
                   ustack::errc_message(host.error()));
      return 1;
    }
    client = std::move(*host);
  } else {
    auto pair = ustack::Host::memory_pair();
    if (!pair) return 1;
    client = std::move(pair->a);
    peer = std::move(pair->b);
    server = std::make_unique<EchoServer>(*peer);
    if (auto s = server->listen(7); !s) {
      std::fprintf(stderr, "echo_client: server: %s\n", ustack::errc_message(s.error()));
      return 1;
    }
    // The server runs whenever the stacks have done a round of work, also while the client's calls wait.
    peer->set_on_step([&] { server->step(); });
    to = {peer->address().addr, 7};
  }

  auto start = client->now();
  auto reply = echo_once(*client, to, message);
  if (!reply) {
    std::fprintf(stderr, "echo_client: %s: %s\n", to.to_string().c_str(),
                 ustack::errc_message(reply.error()));
    return 1;
  }
  double ms = std::chrono::duration<double, std::milli>(client->now() - start).count();
  std::printf("client: sent %zu bytes to %s, received \"%s\" in %.3f ms (%s time)\n", message.size(),
              to.to_string().c_str(), reply->c_str(), ms, client->virtual_time() ? "virtual" : "real");
  return *reply == message ? 0 : 1;
}
