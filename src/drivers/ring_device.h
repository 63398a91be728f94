// RingDevice: an Ethernet device whose wire is a pair of FrameRings, one per direction, in memory that
// the two ends share (two threads of one process, or two processes). Transmit copies the frame into the
// next free slot and frees the skb at once, as a NIC does after DMA; poll() copies arrived frames into
// pooled skbs. A full ring pushes back (kBusy) and the frame waits in the qdisc. Frames are handed over
// in batches: at the end of each poll round of the stack (ndo_flush) and every 16 frames; a frame sent
// outside a round (by the application) goes at once.
//
// With offloads on (both ends must agree, as two virtio-net ends do), the ring carries what veth carries
// between two kernel namespaces: TCP segments up to 64 KiB that stand for a train of MTU-sized ones
// (TSO out, the same frame read as a GRO'd one in), and checksums left to the ring, which cannot corrupt
// a frame. An end that impairs the wire cuts such a frame into its segments first, so that loss strikes
// segments as it would on a real link.
#pragma once

#include <memory>
#include <string>

#include "core/clock.h"
#include "core/rand.h"
#include "dev/net_device.h"
#include "drivers/frame_ring.h"

namespace ustack {

// Impairment applied by the receiving end (netem on ingress): random loss and a fixed delay.
struct RingImpairment {
  double loss = 0;    // probability a frame is dropped
  Duration delay{0};  // held this long after it is taken from the ring
  uint64_t seed = 1;
};

class RingDevice final : public NetDevice {
 public:
  RingDevice(FrameRing& tx, FrameRing& rx, std::string name, MacAddr mac, uint32_t mtu)
      : NetDevice(std::move(name), mac, mtu, kIffBroadcast), tx_(tx), rx_(rx) {}

  XmitResult ndo_start_xmit(SkbPtr& skb) override;
  void ndo_flush() override { tx_.publish(); }
  size_t poll(size_t budget) override;
  bool tx_blocked() const override { return blocked_; }
  const char* driver() const override { return "frame_ring"; }
  void set_rx_impairment(const Clock& clock, RingImpairment imp);
  // NETIF_F_HW_CSUM and NETIF_F_TSO: frames up to the ring's frame size carry TCP segments of many MSS.
  void set_offloads(bool on);

 private:
  void deliver_delayed();
  void impair(SkbPtr skb);

  FrameRing& tx_;
  FrameRing& rx_;
  bool blocked_ = false;
  // Only with an impairment: the clock, the loss dice and the frames still in their delay.
  const Clock* clock_ = nullptr;
  RingImpairment imp_;
  Rng rng_;
  SkbQueue delayed_;
};

// The memory for a ring in each direction, for ends in one process. Side 0 transmits on ring 0.
class FrameRingPair {
 public:
  FrameRingPair(uint32_t slots, uint32_t frame_max);
  // Over caller-provided memory of at least bytes_needed(), 64-byte aligned: a MAP_SHARED mapping made
  // before fork() gives both processes the same rings.
  FrameRingPair(void* mem, uint32_t slots, uint32_t frame_max);
  static size_t bytes_needed(uint32_t slots, uint32_t frame_max) {
    return 2 * FrameRing::bytes_needed(slots, frame_max);
  }

  FrameRing& ring(int side) { return *rings_[side]; }
  std::unique_ptr<NetDevice> make_end(int side, std::string name, MacAddr mac, uint32_t mtu);

 private:
  struct Free {
    void operator()(void* p) const { ::operator delete(p, std::align_val_t(64)); }
  };
  std::unique_ptr<void, Free> owned_;
  FrameRing* rings_[2] = {nullptr, nullptr};
};

}  // namespace ustack
