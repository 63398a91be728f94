// Queueing disciplines (Linux net/sched). A device's transmit queue holds packets that the driver cannot
// take yet; dev_queue_xmit() enqueues and qdisc_run() feeds the driver until it pushes back.
#pragma once

#include <array>
#include <cstdint>

#include "core/skbuff.h"

namespace ustack {

struct QdiscStats {
  uint64_t enqueued = 0;
  uint64_t drops = 0;
  uint64_t requeues = 0;
  uint64_t backlog_max = 0;
};

class Qdisc {
 public:
  virtual ~Qdisc() = default;
  // Takes the skb, or hands it back when the queue is full (the caller drops it with QDISC_DROP).
  virtual SkbPtr enqueue(SkbPtr skb) = 0;
  virtual SkbPtr dequeue() = 0;
  // A packet the driver refused goes back to the head of its band.
  virtual void requeue(SkbPtr skb) = 0;
  virtual size_t qlen() const = 0;
  virtual void set_limit(size_t packets) = 0;
  virtual const char* kind() const = 0;
  // TCQ_F_CAN_BYPASS: would enqueue() and then dequeue() hand this packet straight back (an empty
  // work-conserving FIFO with room)? Then the device layer gives it to the driver directly, counts it with
  // bypassed(), and requeue()s it if the driver is busy, as if it had gone through the queue.
  virtual bool can_bypass() const { return false; }
  void bypassed() {
    ++stats.enqueued;
    if (stats.backlog_max == 0) stats.backlog_max = 1;
  }
  QdiscStats stats;
};

// pfifo_fast: three FIFO bands, band 0 drained first; the packet limit (txqueuelen) covers all bands.
class PfifoFast final : public Qdisc {
 public:
  static constexpr size_t kBands = 3;
  explicit PfifoFast(size_t limit = 1000) : limit_(limit) {}
  SkbPtr enqueue(SkbPtr skb) override;
  SkbPtr dequeue() override;
  void requeue(SkbPtr skb) override;
  size_t qlen() const override { return qlen_; }
  void set_limit(size_t packets) override { limit_ = packets; }
  const char* kind() const override { return "pfifo_fast"; }
  bool can_bypass() const override { return qlen_ == 0 && limit_ > 0; }
  size_t band_len(size_t band) const { return bands_[band].size(); }

 private:
  std::array<SkbQueue, kBands> bands_;
  size_t qlen_ = 0;  // all bands together
  size_t limit_;
};

}  // namespace ustack
