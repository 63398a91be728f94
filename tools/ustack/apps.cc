#include "apps.h"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace ustack::cli {

namespace {
constexpr size_t kMaxPending = 256 * 1024;  // stop reading while this much output waits
constexpr uint64_t kMaxHttpBytes = uint64_t{1} << 34;

void append(std::vector<std::byte>& v, std::string_view s) {
  auto b = reinterpret_cast<const std::byte*>(s.data());
  v.insert(v.end(), b, b + s.size());
}
}  // namespace

AppServers::~AppServers() {
  for (auto& c : conns_) (void)api_.close(c->fd);
  for (auto& [fd, k] : listeners_) (void)api_.close(fd);
}

Status AppServers::listen(Kind kind, uint16_t port) {
  auto fd = api_.socket(kAfInet, kSockStream | kSockNonblock);
  if (!fd) return make_error(fd.error());
  (void)api_.setsockopt_int(*fd, kSolSocket, kSoReuseAddr, 1);
  if (Status s = api_.bind(*fd, SockAddrIn{Ipv4Addr::any(), port}); !s) {
    (void)api_.close(*fd);
    return s;
  }
  if (Status s = api_.listen(*fd, 128); !s) {
    (void)api_.close(*fd);
    return s;
  }
  listeners_.emplace_back(*fd, kind);
  return {};
}

void AppServers::service() {
  for (auto& [lfd, kind] : listeners_) {
    for (;;) {
      auto fd = api_.accept(lfd, nullptr, kSockNonblock);
      if (!fd) break;
      ++accepted_;
      auto c = std::make_unique<Conn>();
      c->fd = *fd;
      c->kind = kind;
      conns_.push_back(std::move(c));
    }
  }
  std::erase_if(conns_, [this](const std::unique_ptr<Conn>& c) { return !service_conn(*c); });
}

bool AppServers::flush(Conn& c) {
  for (;;) {
    if (c.out_off == c.out.size() && c.body_left > 0) {
      // Generate the next piece of a /bytes/N body.
      c.out.clear();
      c.out_off = 0;
      size_t n = static_cast<size_t>(std::min<uint64_t>(c.body_left, 64 * 1024));
      c.out.resize(n);
      for (size_t i = 0; i < n; ++i) c.out[i] = std::byte(http_bytes_at(c.body_pos + i));
      c.body_pos += n;
      c.body_left -= n;
    }
    if (c.out_off == c.out.size()) {
      c.out.clear();
      c.out_off = 0;
      return true;
    }
    auto n = api_.send(c.fd, std::span(c.out).subspan(c.out_off));
    if (!n) return n.error() == Errc::kAgain;
    c.out_off += *n;
    bytes_out_ += *n;
  }
}

void AppServers::http_request(Conn& c) {
  size_t end = c.request.find("\r\n\r\n");
  if (end == std::string::npos) {
    if (c.request.size() > 16384) {
      append(
          c.out,
          "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      c.close_after = true;
    }
    return;
  }
  std::string head = c.request.substr(0, end);
  c.request.erase(0, end + 4);
  std::string line = head.substr(0, head.find("\r\n"));
  std::string lower = head;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char ch) { return std::tolower(ch); });
  bool http10 = line.size() >= 8 && line.compare(line.size() - 8, 8, "HTTP/1.0") == 0;
  c.close_after = http10 || lower.find("connection: close") != std::string::npos;
  const char* conn_hdr = c.close_after ? "Connection: close\r\n" : "";
  auto sp1 = line.find(' ');
  auto sp2 = line.find(' ', sp1 == std::string::npos ? 0 : sp1 + 1);
  std::string method = line.substr(0, sp1);
  std::string path = sp1 == std::string::npos ? "" : line.substr(sp1 + 1, sp2 - sp1 - 1);
  auto respond = [&](const char* status, const char* type, std::string_view body, uint64_t generated = 0) {
    uint64_t len = body.size() + generated;
    append(c.out, std::string("HTTP/1.1 ") + status + "\r\nServer: ustack\r\nContent-Type: " + type +
                      "\r\nContent-Length: " + std::to_string(len) + "\r\n" + conn_hdr + "\r\n");
    if (method != "HEAD") {
      append(c.out, body);
      c.body_left = generated;
      c.body_pos = 0;
    }
  };
  if (method != "GET" && method != "HEAD") {
    respond("405 Method Not Allowed", "text/plain", "only GET and HEAD\n");
  } else if (path == "/") {
    respond(
        "200 OK", "text/html",
        "<!doctype html>\n<html><head><title>ustack</title></head>\n"
        "<body><h1>Hello from ustack</h1><p>A user-space TCP/IP stack. Try /bytes/N.</p></body></html>\n");
  } else if (path.rfind("/bytes/", 0) == 0) {
    uint64_t n = 0;
    auto digits = std::string_view(path).substr(7);
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (ec != std::errc() || p != digits.data() + digits.size() || n > kMaxHttpBytes) {
      respond("400 Bad Request", "text/plain", "bad byte count\n");
    } else {
      respond("200 OK", "application/octet-stream", "", n);
    }
  } else {
    respond("404 Not Found", "text/plain", "not found\n");
  }
}

bool AppServers::service_conn(Conn& c) {
  std::byte buf[65536];
  for (;;) {
    if (!flush(c)) break;
    if (c.out.size() - c.out_off + (c.body_left ? kMaxPending : 0) >= kMaxPending) break;
    if (c.peer_eof || (c.kind == Kind::kHttp && c.close_after && (c.out_off < c.out.size() || c.body_left)))
      break;
    auto n = api_.recv(c.fd, buf);
    if (!n) {
      if (n.error() == Errc::kAgain) break;
      (void)api_.close(c.fd);  // reset or error
      return false;
    }
    if (*n == 0) {
      c.peer_eof = true;
      break;
    }
    bytes_in_ += *n;
    switch (c.kind) {
      case Kind::kEcho:
        c.out.insert(c.out.end(), buf, buf + *n);
        break;
      case Kind::kDiscard:
        break;
      case Kind::kHttp:
        c.request.append(reinterpret_cast<const char*>(buf), *n);
        if (c.out_off == c.out.size() && c.body_left == 0) http_request(c);
        break;
    }
  }
  if (c.kind == Kind::kHttp && c.out_off == c.out.size() && c.body_left == 0 && !c.request.empty() &&
      !c.close_after) {
    http_request(c);
    (void)flush(c);
  }
  bool drained = c.out_off == c.out.size() && c.body_left == 0;
  if (drained && (c.peer_eof || (c.kind == Kind::kHttp && c.close_after))) {
    (void)api_.close(c.fd);
    return false;
  }
  return true;
}

}  // namespace ustack::cli
