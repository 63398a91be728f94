// UDP (RFC 768; Linux net/ipv4/udp.c). UdpSock is the protocol's sock (struct udp_sock); Udp is
// udp_prot. Sockets come either from the socket layer (socket(AF_INET, SOCK_DGRAM, 0)) or, for code
// inside the stack, straight from Udp::socket() as an owned handle.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "ipv4/ip.h"
#include "sock/sock.h"

namespace ustack {

class Udp;

class UdpSock : public Sock {
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

  bool readable() const { return !rx_.empty() || sk_err != Errc::kOk; }
  size_t queued_datagrams() const { return rx_.size(); }
  SockAddrIn local() const { return local_; }
  std::optional<SockAddrIn> peer() const { return connected_ ? std::optional(peer_) : std::nullopt; }
  void set_rcvbuf(size_t bytes) { extra().sk_rcvbuf = static_cast<uint32_t>(bytes); }
  void set_broadcast(bool on) { sk_broadcast = on; }
  void set_pmtudisc(PmtuDisc m) { pmtudisc_ = m; }
  void set_ttl(uint8_t ttl) { uc_ttl = ttl; }
  // Called when a datagram (or an error) arrives, for users of the sock without a socket layer above.
  void set_data_ready(std::function<void()> f) { data_ready_cb_ = std::move(f); }

  // sock_def_readable, and the callback of a user without a socket layer.
  void data_ready() {
    Sock::data_ready();
    if (data_ready_cb_) data_ready_cb_();
  }

 private:
  friend class Udp;
  explicit UdpSock(Udp& udp);
  std::function<void()> data_ready_cb_;
  Udp& udp_;
  SockAddrIn local_;
  SockAddrIn peer_;
  bool connected_ = false;
  bool bound_ = false;
  PmtuDisc pmtudisc_ = PmtuDisc::kWant;
  SkbQueue rx_;
};

class Udp final : public Proto {
 public:
  explicit Udp(Ipv4& ip);
  ~Udp() override;
  std::unique_ptr<UdpSock> socket() { return std::unique_ptr<UdpSock>(new UdpSock(*this)); }

  // --- struct proto (udp_prot) ---
  const char* name() const override { return "UDP"; }
  Sock* create() override;
  Status bind(Sock& sk, SockAddrIn addr) override { return static_cast<UdpSock&>(sk).bind(addr); }
  Status connect(Sock& sk, SockAddrIn addr) override { return static_cast<UdpSock&>(sk).connect(addr); }
  Status disconnect(Sock& sk) override { return static_cast<UdpSock&>(sk).connect(SockAddrIn{}); }
  Status listen(Sock&, int) override { return make_error(Errc::kOpNotSupp); }
  Result<Sock*> accept(Sock&) override { return make_error(Errc::kOpNotSupp); }
  Result<size_t> sendmsg(Sock& sk, std::span<const std::byte> data, int flags,
                         const std::optional<SockAddrIn>& to) override;
  Result<size_t> recvmsg(Sock& sk, std::span<std::byte> buf, int flags, SockAddrIn* from) override;
  Status shutdown(Sock& sk, int how) override;
  void close(Sock& sk) override;
  Status setsockopt(Sock& sk, int level, int name, std::span<const std::byte> val) override;
  Result<size_t> getsockopt(Sock&, int, int, std::span<std::byte>) override {
    return make_error(Errc::kNoProtoOpt);
  }
  uint16_t poll(const Sock& sk) const override;
  uint32_t default_rcvbuf() const final { return 212992; }  // net.core.rmem_default
  uint32_t default_sndbuf() const final { return 212992; }  // net.core.wmem_default
  Ipv4& ip() { return ip_; }
  // net.ipv4.ip_local_port_range.
  void set_local_port_range(uint16_t lo, uint16_t hi) {
    port_lo_ = lo;
    port_hi_ = hi;
  }

 private:
  friend class UdpSock;
  void udp_rcv(SkbPtr skb);
  void udp_err(const IcmpErrInfo& e);
  // __udp4_lib_lookup: the best-scoring socket for a datagram (exact matches beat wildcards).
  UdpSock* lookup(Ipv4Addr saddr, uint16_t sport, Ipv4Addr daddr, uint16_t dport) const;
  Status hash(UdpSock& s, SockAddrIn local);
  void unhash(UdpSock& s);

  Ipv4& ip_;
  std::unordered_map<UdpSock*, std::unique_ptr<UdpSock>> owned_;  // created through the socket layer
  std::unordered_map<uint16_t, std::vector<UdpSock*>> ports_;
  uint16_t port_lo_ = 32768, port_hi_ = 60999;
};

}  // namespace ustack
