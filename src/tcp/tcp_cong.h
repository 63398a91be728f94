// Congestion control behind a pluggable interface, after Linux's struct tcp_congestion_ops. The stack
// owns loss detection and recovery (RFC 5681, RFC 6582 NewReno); an algorithm decides how the window
// grows (cong_avoid) and where it falls to on loss (ssthresh).
//
// As in the kernel, an algorithm is one shared, immutable instance and a connection only names it:
// whatever per-connection state an algorithm needs lives in the TcpSock (Linux's icsk_ca_priv), so that
// choosing one allocates nothing.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ustack {

class TcpSock;

enum class CaState : uint8_t { kOpen, kDisorder, kCwr, kRecovery, kLoss };
const char* ca_state_name(CaState s);

class TcpCongestionOps {
 public:
  virtual const char* name() const = 0;
  // The slow-start threshold after a loss, in segments.
  virtual uint32_t ssthresh(const TcpSock& tp) const = 0;
  // `acked` segments were newly acknowledged in the open state: grow the window.
  virtual void cong_avoid(TcpSock& tp, uint32_t acked) const = 0;
  virtual void set_state(TcpSock& /*tp*/, CaState /*s*/) const {}
  // The window after recovery ends (undo hooks are for later algorithms).
  virtual uint32_t undo_cwnd(const TcpSock& tp) const;

 protected:
  ~TcpCongestionOps() = default;  // the instances are static: never deleted through this interface
};

// The registered algorithms, numbered: a connection keeps its algorithm's number, a byte, where Linux
// keeps icsk_ca_ops, a pointer. Number 0 is "reno", always there.
extern const std::array<const TcpCongestionOps*, 1> tcp_ca_list;
inline const TcpCongestionOps& tcp_ca_get(uint8_t key) { return *tcp_ca_list[key]; }
// tcp_ca_find: the number of the registered algorithm of that name.
std::optional<uint8_t> tcp_ca_find(std::string_view name);
std::vector<std::string> tcp_ca_available();

// Slow start and additive increase as Linux's tcp_slow_start / tcp_cong_avoid_ai, for algorithms to use.
uint32_t tcp_slow_start(TcpSock& tp, uint32_t acked);
void tcp_cong_avoid_ai(TcpSock& tp, uint32_t w, uint32_t acked);

}  // namespace ustack
