// UDP (RFC 768; Linux net/ipv4/udp.c) with a minimal socket handle: bind, connect, sendto, recvfrom,
// readiness and SO_ERROR. The full socket layer (struct socket over struct sock) wraps this later.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "ipv4/ip.h"

namespace ustack {

class Udp;

class UdpSock {
 public:
  ~UdpSock();
  UdpSock(const UdpSock&) = delete;
  UdpSock& operator=(const UdpSock&) = delete;

  // bind: port 0 picks an ephemeral port; the address must be ours or any.
  Status bind(SockAddrIn local);
  // connect: fixes the peer (and binds if needed). A peer of any:0 disconnects (AF_UNSPEC).
  Status connect(SockAddrIn peer);
  // sendto: `to` may be omitted on a connected socket. Datagrams over the path MTU are fragmented unless
  // set_pmtudisc(kDo), which gives EMSGSIZE instead.
  Result<size_t> sendto(std::span<const std::byte> data, std::optional<SockAddrIn> to = std::nullopt);
  Result<size_t> send(std::span<const std::byte> data) { return sendto(data); }
  // recvfrom: one datagram, truncated to the buffer; EAGAIN when none is queued. A pending error
  // (ICMP port unreachable on a connected socket) is returned first, once.
  Result<size_t> recvfrom(std::span<std::byte> buf, SockAddrIn* from = nullptr);

  bool readable() const { return !rx_.empty() || err_ != Errc::kOk; }
  size_t queued_datagrams() const { return rx_.size(); }
  // SO_ERROR: read and clear.
  Errc sock_error() { return std::exchange(err_, Errc::kOk); }
  SockAddrIn local() const { return local_; }
  std::optional<SockAddrIn> peer() const { return connected_ ? std::optional(peer_) : std::nullopt; }
  void set_rcvbuf(size_t bytes) { rcvbuf_ = bytes; }
  void set_broadcast(bool on) { broadcast_ = on; }
  void set_pmtudisc(PmtuDisc m) { pmtudisc_ = m; }
  void set_ttl(uint8_t ttl) { ttl_ = ttl; }
  // sk_data_ready / sk_error_report.
  void set_data_ready(std::function<void()> f) { data_ready_ = std::move(f); }

 private:
  friend class Udp;
  explicit UdpSock(Udp& udp) : udp_(udp) {}
  Udp& udp_;
  SockAddrIn local_;
  SockAddrIn peer_;
  bool connected_ = false;
  bool bound_ = false;
  bool broadcast_ = false;
  PmtuDisc pmtudisc_ = PmtuDisc::kWant;
  uint8_t ttl_ = 0;
  SkbQueue rx_;
  size_t rcvbuf_ = 212992;  // net.core.rmem_default
  Errc err_ = Errc::kOk;
  std::function<void()> data_ready_;
};

class Udp {
 public:
  explicit Udp(Ipv4& ip);
  std::unique_ptr<UdpSock> socket() { return std::unique_ptr<UdpSock>(new UdpSock(*this)); }
  Ipv4& ip() { return ip_; }
  // net.ipv4.ip_local_port_range.
  void set_local_port_range(uint16_t lo, uint16_t hi) { port_lo_ = lo; port_hi_ = hi; }

 private:
  friend class UdpSock;
  void udp_rcv(SkbPtr skb);
  void udp_err(const IcmpErrInfo& e);
  // __udp4_lib_lookup: the best-scoring socket for a datagram (exact matches beat wildcards).
  UdpSock* lookup(Ipv4Addr saddr, uint16_t sport, Ipv4Addr daddr, uint16_t dport) const;
  Status hash(UdpSock& s, SockAddrIn local);
  void unhash(UdpSock& s);

  Ipv4& ip_;
  std::unordered_map<uint16_t, std::vector<UdpSock*>> ports_;
  uint16_t port_lo_ = 32768, port_hi_ = 60999;
};

}  // namespace ustack
