// MemWire: a point-to-point Ethernet cable between two stacks in one process, with a seeded impairment
// model (netem's): loss, duplication, reordering, delay with jitter, corruption and a bandwidth limit
// with a bounded queue. A frame in flight waits in the wire until its arrival time; whoever drives time
// (the simulation, or a real-time loop) calls deliver(). The same seed gives the same losses.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>

#include "core/clock.h"
#include "core/rand.h"
#include "dev/net_device.h"

namespace ustack {

struct Impairments {
  double loss = 0;       // probability a frame is lost
  double duplicate = 0;  // probability a frame arrives twice
  double reorder = 0;    // probability a frame is held back by `reorder_delay` extra
  double corrupt = 0;    // probability one byte of a frame is flipped
  Duration delay{0};     // one-way propagation delay
  Duration jitter{0};    // uniform extra delay in [0, jitter)
  Duration reorder_delay{1ms};
  uint64_t rate_bps = 0;               // 0: unlimited
  size_t queue_limit_bytes = 1 << 20;  // frames waiting for the link beyond this are tail-dropped
};

struct MemWireStats {
  uint64_t sent = 0, delivered = 0, lost = 0, duplicated = 0, reordered = 0, corrupted = 0, queue_drops = 0;
};

class MemWireEnd;

class MemWire {
 public:
  MemWire(const Clock& clock, uint64_t seed, Impairments imp = {});
  ~MemWire();
  MemWire(const MemWire&) = delete;
  MemWire& operator=(const MemWire&) = delete;

  // The device for side 0 or 1, to register with a stack. The wire must outlive neither end's use; each
  // side detaches cleanly if destroyed first.
  std::unique_ptr<NetDevice> make_end(int side, std::string name, MacAddr mac, uint32_t mtu = 1500);

  void set_impairments(Impairments imp) { imp_ = imp; }
  const Impairments& impairments() const { return imp_; }
  std::optional<TimePoint> next_deadline() const;
  // Hand every frame due by `now` to its receiving device. Returns how many.
  size_t deliver(TimePoint now);
  size_t in_flight() const { return dirs_[0].q.size() + dirs_[1].q.size(); }
  const MemWireStats& stats() const { return stats_; }

 private:
  friend class MemWireEnd;
  struct Direction {
    SkbQueue q;  // ordered by arrival time
    TimePoint busy_until{};
  };
  void transmit(int side, SkbPtr skb);
  void schedule(Direction& d, SkbPtr skb, TimePoint due);

  const Clock& clock_;
  Rng rng_;
  Impairments imp_;
  std::array<Direction, 2> dirs_;
  std::array<MemWireEnd*, 2> ends_{};
  MemWireStats stats_;
};

class MemWireEnd final : public NetDevice {
 public:
  MemWireEnd(MemWire* wire, int side, std::string name, MacAddr mac, uint32_t mtu)
      : NetDevice(std::move(name), mac, mtu, kIffBroadcast), wire_(wire), side_(side) {}
  ~MemWireEnd() override;
  XmitResult ndo_start_xmit(SkbPtr& skb) override;
  const char* driver() const override { return "mem_wire"; }

 private:
  friend class MemWire;
  MemWire* wire_;
  int side_;
};

}  // namespace ustack
