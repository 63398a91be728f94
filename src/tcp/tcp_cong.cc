// Congestion control registry and Reno (Linux net/ipv4/tcp_cong.c): RFC 5681 slow start and congestion
// avoidance, counted in segments as the kernel does.
#include "tcp/tcp_cong.h"

#include <algorithm>

#include "tcp/tcp.h"

namespace ustack {

const char* ca_state_name(CaState s) {
  switch (s) {
    case CaState::kOpen:
      return "Open";
    case CaState::kDisorder:
      return "Disorder";
    case CaState::kCwr:
      return "CWR";
    case CaState::kRecovery:
      return "Recovery";
    case CaState::kLoss:
      return "Loss";
  }
  return "?";
}

uint32_t TcpCongestionOps::undo_cwnd(const TcpSock& tp) const {
  return std::max(tp.snd_cwnd, tp.active().prior_cwnd);
}

// tcp_slow_start: grow by one segment per segment acknowledged, up to ssthresh; returns what is left.
uint32_t tcp_slow_start(TcpSock& tp, uint32_t acked) {
  uint32_t cwnd = std::min(tp.snd_cwnd + acked, tp.snd_ssthresh);
  acked -= cwnd - tp.snd_cwnd;
  tp.snd_cwnd = cwnd;
  return acked;
}

// tcp_cong_avoid_ai: one segment per window of `w` segments acknowledged.
void tcp_cong_avoid_ai(TcpSock& tp, uint32_t w, uint32_t acked) {
  if (tp.snd_cwnd_cnt >= w) {
    tp.snd_cwnd_cnt = 0;
    ++tp.snd_cwnd;
  }
  tp.snd_cwnd_cnt += acked;
  if (tp.snd_cwnd_cnt >= w) {
    tp.snd_cwnd += tp.snd_cwnd_cnt / w;
    tp.snd_cwnd_cnt -= tp.snd_cwnd_cnt / w * w;
  }
}

namespace {

class Reno final : public TcpCongestionOps {
 public:
  const char* name() const override { return "reno"; }
  // RFC 5681 (4): ssthresh = max(FlightSize / 2, 2 * SMSS), in segments.
  uint32_t ssthresh(const TcpSock& tp) const override { return std::max(tp.snd_cwnd >> 1, 2u); }
  void cong_avoid(TcpSock& tp, uint32_t acked) const override {
    if (tp.snd_cwnd < tp.snd_ssthresh) {
      acked = tcp_slow_start(tp, acked);
      if (!acked) return;
    }
    tcp_cong_avoid_ai(tp, tp.snd_cwnd, acked);
  }
};

// Reno keeps no state of its own: every connection shares this one.
constexpr Reno tcp_reno;

}  // namespace

const std::array<const TcpCongestionOps*, 1> tcp_ca_list = {&tcp_reno};

std::optional<uint8_t> tcp_ca_find(std::string_view name) {
  for (size_t i = 0; i < tcp_ca_list.size(); ++i)
    if (name == tcp_ca_list[i]->name()) return static_cast<uint8_t>(i);
  return std::nullopt;
}

std::vector<std::string> tcp_ca_available() {
  std::vector<std::string> names;
  for (const TcpCongestionOps* ca : tcp_ca_list) names.emplace_back(ca->name());
  return names;
}

}  // namespace ustack
