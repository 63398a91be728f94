// Small servers over the socket API, for `ustack serve` and `ustack demo`: echo (RFC 862), discard
// (RFC 863) and a minimal HTTP/1.1 server. Non-blocking; service() does whatever is possible now and is
// called from the stack's event loop after each round.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "socket/socket.h"

namespace ustack::cli {

// The body of GET /bytes/N: byte i is the letter 'a' + (i mod 26).
inline char http_bytes_at(uint64_t i) { return static_cast<char>('a' + i % 26); }

class AppServers {
 public:
  enum class Kind { kEcho, kDiscard, kHttp };
  explicit AppServers(SocketApi& api) : api_(api) {}
  ~AppServers();
  // Listen on `port` (all addresses) for the given service.
  Status listen(Kind kind, uint16_t port);
  // Accept, read and write as far as possible without blocking.
  void service();
  size_t connections() const { return conns_.size(); }
  uint64_t bytes_in() const { return bytes_in_; }
  uint64_t bytes_out() const { return bytes_out_; }
  uint64_t accepted() const { return accepted_; }

 private:
  struct Conn {
    int fd;
    Kind kind;
    std::string request;  // HTTP: bytes of the request being read
    std::vector<std::byte> out;
    size_t out_off = 0;
    uint64_t body_left = 0;  // HTTP /bytes/N: bytes still to generate
    uint64_t body_pos = 0;
    bool peer_eof = false;
    bool close_after = false;
  };
  bool service_conn(Conn& c);  // false: the connection is finished and closed
  void http_request(Conn& c);
  bool flush(Conn& c);
  SocketApi& api_;
  std::vector<std::pair<int, Kind>> listeners_;
  std::vector<std::unique_ptr<Conn>> conns_;
  uint64_t bytes_in_ = 0, bytes_out_ = 0, accepted_ = 0;
};

}  // namespace ustack::cli
