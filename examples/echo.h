// Shared by the two examples: a TCP echo server (RFC 862) that never blocks, and a client that makes one
// round trip with blocking calls.
#pragma once

#include <ustack/ustack.h>

#include <cstdio>
#include <span>
#include <string>
#include <string_view>
#include <vector>

// step() accepts waiting connections and echoes what has arrived without ever blocking, so it can run
// from Host::set_on_step while the same thread makes blocking calls elsewhere.
class EchoServer {
 public:
  explicit EchoServer(ustack::Host& host) : host_(host) {}

  ustack::Status listen(uint16_t port) {
    auto fd = host_.socket(ustack::kAfInet, ustack::kSockStream | ustack::kSockNonblock);
    if (!fd) return ustack::make_error(fd.error());
    listener_ = *fd;
    (void)host_.setsockopt_int(listener_, ustack::kSolSocket, ustack::kSoReuseAddr, 1);
    if (auto s = host_.bind(listener_, {ustack::Ipv4Addr::any(), port}); !s) return s;
    return host_.listen(listener_, 16);
  }

  void step() {
    ustack::SockAddrIn peer;
    while (auto fd = host_.accept(listener_, &peer, ustack::kSockNonblock)) {
      std::printf("server: connection from %s\n", peer.to_string().c_str());
      conns_.push_back(Conn{*fd, peer, "", 0});
    }
    for (Conn& c : conns_) echo(c);
    std::erase_if(conns_, [](const Conn& c) { return c.fd < 0; });
  }

 private:
  struct Conn {
    int fd;
    ustack::SockAddrIn peer;
    std::string unsent;  // read but not yet sent back
    size_t echoed = 0;
  };

  void echo(Conn& c) {
    char buf[4096];
    for (;;) {
      if (!c.unsent.empty()) {
        auto n = host_.send(c.fd, c.unsent);
        if (!n) {
          if (n.error() != ustack::Errc::kAgain) finish(c);  // kAgain: the send buffer is full
          return;
        }
        c.unsent.erase(0, *n);
        c.echoed += *n;
        continue;
      }
      auto n = host_.recv(c.fd, std::as_writable_bytes(std::span(buf)));
      if (!n) {
        if (n.error() != ustack::Errc::kAgain) finish(c);  // kAgain: nothing more has arrived
        return;
      }
      if (*n == 0) return finish(c);  // the client has sent everything
      c.unsent.assign(buf, *n);
    }
  }

  void finish(Conn& c) {
    std::printf("server: %s done, %zu bytes echoed\n", c.peer.to_string().c_str(), c.echoed);
    (void)host_.close(c.fd);
    c.fd = -1;
  }

  ustack::Host& host_;
  int listener_ = -1;
  std::vector<Conn> conns_;
};

// Connects, sends `message`, closes the sending side and reads the echo until the server closes. Each
// call blocks, and while it waits it runs the stack: no event loop is needed.
inline ustack::Result<std::string> echo_once(ustack::Host& host, const ustack::SockAddrIn& server,
                                             std::string_view message) {
  auto fd = host.socket(ustack::kAfInet, ustack::kSockStream);
  if (!fd) return ustack::make_error(fd.error());
  auto fail = [&](ustack::Errc e) {
    (void)host.close(*fd);
    return ustack::Result<std::string>(ustack::make_error(e));
  };
  ustack::Timeval timeout{10, 0};  // give up on a silent server after 10 s
  (void)host.setsockopt(*fd, ustack::kSolSocket, ustack::kSoRcvTimeo, std::as_bytes(std::span(&timeout, 1)));
  if (auto s = host.connect(*fd, server); !s) return fail(s.error());
  if (auto n = host.send(*fd, message); !n) return fail(n.error());
  (void)host.shutdown(*fd, ustack::kShutWr);
  std::string reply;
  char buf[4096];
  for (;;) {
    auto n = host.recv(*fd, std::as_writable_bytes(std::span(buf)));
    if (!n) return fail(n.error());
    if (*n == 0) break;
    reply.append(buf, *n);
  }
  (void)host.close(*fd);
  return reply;
}
