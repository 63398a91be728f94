// An lwIP network interface whose wire is a pair of FrameRings (src/drivers/frame_ring.h), the lwIP
// counterpart of ustack's RingDevice, plus the wire impairments of the benchmark (--loss, --delay-us).
// lwIP runs here without its tcpip thread: one thread owns the stack and drives it by calling poll()
// and sys_check_timeouts() in a spinning loop, so every lwIP call happens on that thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

#include "drivers/frame_ring.h"
#include "lwip/netif.h"

namespace ustack::bench::lwip {

// Nanoseconds on the monotonic clock.
uint64_t now_ns();

// Random loss and a fixed delay applied to frames in one direction.
class Impairment {
 public:
  Impairment() = default;
  Impairment(double loss_pct, uint32_t delay_us, uint64_t seed);
  bool active() const { return loss_ != 0 || delay_ns_ != 0; }
  bool drop();
  uint64_t delay_ns() const { return delay_ns_; }
  uint64_t frames() const { return frames_; }
  uint64_t dropped() const { return dropped_; }

 private:
  uint64_t loss_ = 0;  // drop when a 64-bit random number is below this
  uint64_t delay_ns_ = 0;
  uint64_t state_ = 1;
  uint64_t frames_ = 0, dropped_ = 0;
};

// Frames held back until their due time; delivered in order, since the delay is the same for all.
class DelayLine {
 public:
  void hold(uint64_t due_ns, const std::byte* data, size_t len);
  bool empty() const { return q_.empty(); }
  // Calls fn(const std::byte*, size_t) for each frame due by `now`, oldest first, while fn returns true.
  template <class Fn>
  size_t release(uint64_t now, Fn&& fn) {
    size_t n = 0;
    while (!q_.empty() && q_.front().due_ns <= now) {
      if (!fn(q_.front().bytes.data(), q_.front().bytes.size())) break;
      q_.pop_front();
      ++n;
    }
    return n;
  }

 private:
  struct Frame {
    uint64_t due_ns;
    std::vector<std::byte> bytes;
  };
  std::deque<Frame> q_;
};

struct RingNetifConfig {
  FrameRing* tx = nullptr;
  FrameRing* rx = nullptr;
  std::array<uint8_t, 6> mac{};
  uint32_t mtu = 1500;
  std::array<uint8_t, 4> addr{};
  uint8_t prefix_len = 24;
  // Applied to frames this side receives, and to frames it transmits (the latter when the far side
  // cannot impair its own receive path).
  Impairment rx_impair, tx_impair;
};

class RingNetif {
 public:
  // Adds the interface to lwIP (lwip_init() must have run), up and the default route.
  bool attach(const RingNetifConfig& cfg);
  // Hands up to `budget` arrived frames to lwIP and transmits delayed frames that are due. Returns the
  // number of frames moved.
  size_t poll(size_t budget = 64);
  uint64_t tx_ring_full_drops() const { return tx_full_drops_; }
  const Impairment& rx_impairment() const { return cfg_.rx_impair; }
  const Impairment& tx_impairment() const { return cfg_.tx_impair; }

 private:
  static err_t init_cb(struct netif* nif);
  static err_t linkoutput_cb(struct netif* nif, struct pbuf* p);
  void input(const std::byte* data, size_t len);
  bool push_tx(const std::byte* data, size_t len, bool wait);

  RingNetifConfig cfg_;
  struct netif nif_ {};
  DelayLine rx_delay_, tx_delay_;
  std::vector<std::byte> scratch_;
  uint64_t tx_full_drops_ = 0;
};

}  // namespace ustack::bench::lwip
