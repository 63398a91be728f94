// ustack connect: like netcat. Standard input goes to the connection, the connection to standard output;
// end of input half-closes (shutdown(SHUT_WR)) and the command ends when the peer closes.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <vector>

#include "apps.h"
#include "commands.h"
#include "host.h"

namespace ustack::cli {

namespace {
Host* g_host = nullptr;
void on_signal(int) {
  if (g_host) g_host->stop();
}

bool write_all(int fd, const std::byte* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        pollfd pfd{fd, POLLOUT, 0};
        (void)::poll(&pfd, 1, 100);
        continue;
      }
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}
}  // namespace

int cmd_connect(int argc, char** argv) {
  Options o(argc, argv, kHostOptions, {"--trace", "--no-offload"});
  if (!o.ok() || o.positional().size() != 2) {
    std::fprintf(stderr,
                 "usage: ustack connect [--tap IFNAME --addr A.B.C.D/PREFIX [--gateway G]] HOST PORT\n");
    return 2;
  }
  auto host_addr = Ipv4Addr::parse(o.positional()[0]);
  char* end = nullptr;
  long port = std::strtol(o.positional()[1].c_str(), &end, 10);
  if (!host_addr || *end != '\0' || port < 1 || port > 65535) {
    std::fprintf(stderr, "ustack connect: bad address or port\n");
    return 2;
  }
  auto host = make_host(o);
  if (!host) return 2;
  Stack& st = host->stack();
  // On the memory wire, the peer runs an echo server on the port.
  std::unique_ptr<AppServers> peer_apps;
  if (Stack* peer = host->peer()) {
    peer_apps = std::make_unique<AppServers>(peer->sockets());
    if (!peer_apps->listen(AppServers::Kind::kEcho, static_cast<uint16_t>(port))) return 2;
    host->set_on_step([&] { peer_apps->service(); });
  }
  if (o.has("--trace")) enable_trace(st, "");
  g_host = host.get();
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGPIPE, SIG_IGN);

  SocketApi& api = st.sockets();
  int fd = *api.socket(kAfInet, kSockStream);
  if (Status s = api.connect(fd, SockAddrIn{*host_addr, static_cast<uint16_t>(port)}); !s) {
    std::fprintf(stderr, "ustack connect: connect to %s:%ld: %s\n", host_addr->to_string().c_str(), port,
                 errc_message(s.error()));
    return 1;
  }
  (void)api.set_nonblock(fd, true);
  ::fcntl(0, F_SETFL, ::fcntl(0, F_GETFL) | O_NONBLOCK);
  if (host->loop()) host->loop()->watch_fd(0);

  std::vector<std::byte> in(65536), out;
  size_t out_off = 0;
  bool stdin_eof = false, shut = false, peer_eof = false;
  Errc failure = Errc::kOk;
  auto step = [&] {
    // Standard input to the connection, keeping at most one buffer pending.
    if (!stdin_eof && out_off == out.size()) {
      ssize_t n = ::read(0, in.data(), in.size());
      if (n > 0) {
        out.assign(in.begin(), in.begin() + n);
        out_off = 0;
      } else if (n == 0) {
        stdin_eof = true;
      } else if (errno != EAGAIN && errno != EINTR) {
        stdin_eof = true;
      } else if (host->virtual_time()) {
        pollfd pfd{0, POLLIN, 0};
        (void)::poll(&pfd, 1, 10);  // virtual time moves in 10 ms slices while input is awaited
      }
    }
    while (out_off < out.size()) {
      auto n = api.send(fd, std::span(out).subspan(out_off));
      if (!n) {
        if (n.error() != Errc::kAgain) failure = n.error();
        break;
      }
      out_off += *n;
    }
    if (stdin_eof && out_off == out.size() && !shut) {
      (void)api.shutdown(fd, 1);
      shut = true;
    }
    // The connection to standard output.
    std::byte buf[65536];
    for (;;) {
      auto n = api.recv(fd, buf);
      if (!n) {
        if (n.error() != Errc::kAgain) failure = n.error();
        break;
      }
      if (*n == 0) {
        peer_eof = true;
        break;
      }
      if (!write_all(1, buf, *n)) failure = Errc::kPipe;
    }
    return peer_eof || failure != Errc::kOk;
  };
  host->run_until(step, Duration::max());
  (void)api.close(fd);
  host->run_until([] { return false; }, host->virtual_time() ? Duration(2s) : Duration(200ms));
  g_host = nullptr;
  if (failure != Errc::kOk) {
    std::fprintf(stderr, "ustack connect: %s\n", errc_message(failure));
    return 1;
  }
  return 0;
}

}  // namespace ustack::cli
