#include "drivers/mem_wire.h"

#include "dev/dev.h"

namespace ustack {

namespace {
struct WireCb {
  int64_t due_ns;
};
TimePoint due_of(SkBuff* skb) { return TimePoint(Duration(skb->cb<WireCb>().due_ns)); }
}  // namespace

MemWire::MemWire(const Clock& clock, uint64_t seed, Impairments imp) : clock_(clock), rng_(seed), imp_(imp) {}

MemWire::~MemWire() {
  for (MemWireEnd* e : ends_)
    if (e) e->wire_ = nullptr;
}

std::unique_ptr<NetDevice> MemWire::make_end(int side, std::string name, MacAddr mac, uint32_t mtu) {
  NET_ASSERT((side == 0 || side == 1) && ends_[side] == nullptr);
  auto end = std::make_unique<MemWireEnd>(this, side, std::move(name), mac, mtu);
  ends_[side] = end.get();
  return end;
}

MemWireEnd::~MemWireEnd() {
  if (wire_) wire_->ends_[side_] = nullptr;
}

XmitResult MemWireEnd::ndo_start_xmit(SkbPtr& skb) {
  if (wire_) {
    wire_->transmit(side_, std::move(skb));
  } else {
    ++stats.tx_dropped;
    skb.reset();
  }
  return XmitResult::kOk;
}

void MemWire::transmit(int side, SkbPtr skb) {
  ++stats_.sent;
  Direction& d = dirs_[side];
  TimePoint now = clock_.now();
  if (rng_.chance(imp_.loss)) {
    ++stats_.lost;
    return;
  }
  // Serialisation at the link rate: a frame leaves once the frames before it have.
  TimePoint start = std::max(now, d.busy_until);
  if (imp_.rate_bps > 0) {
    size_t queued_bytes = static_cast<size_t>(to_seconds(start - now) * double(imp_.rate_bps) / 8);
    if (queued_bytes > imp_.queue_limit_bytes) {
      ++stats_.queue_drops;
      return;
    }
    auto tx_time = Duration(static_cast<int64_t>(double(skb->len() + 24) * 8e9 / double(imp_.rate_bps)));
    d.busy_until = start + tx_time;  // 24: preamble, FCS and inter-frame gap
    start = d.busy_until;
  }
  TimePoint due = start + imp_.delay;
  if (imp_.jitter.count() > 0)
    due += Duration(rng_.below(static_cast<uint32_t>(std::min<int64_t>(imp_.jitter.count(), UINT32_MAX))));
  if (rng_.chance(imp_.reorder)) {
    ++stats_.reordered;
    due += imp_.reorder_delay;
  }
  if (rng_.chance(imp_.corrupt) && skb->len() > 0) {
    ++stats_.corrupted;
    skb->unshare();
    size_t at = rng_.below(static_cast<uint32_t>(skb->len()));
    skb->data()[at] ^= std::byte{static_cast<uint8_t>(1u << rng_.below(8))};
  }
  if (rng_.chance(imp_.duplicate)) {
    ++stats_.duplicated;
    schedule(d, skb->clone(), due);
  }
  schedule(d, std::move(skb), due);
}

void MemWire::schedule(Direction& d, SkbPtr skb, TimePoint due) {
  skb->cb<WireCb>().due_ns = due.time_since_epoch().count();
  // Frames mostly arrive in order: walk back from the tail to the insertion point.
  SkBuff* pos = d.q.back();
  while (pos && due_of(pos) > due) pos = SkbQueue::prev(pos);
  d.q.insert_before(pos ? SkbQueue::next(pos) : d.q.front(), std::move(skb));
}

std::optional<TimePoint> MemWire::next_deadline() const {
  std::optional<TimePoint> t;
  for (auto& d : dirs_) {
    if (d.q.empty()) continue;
    TimePoint due = due_of(d.q.front());
    if (!t || due < *t) t = due;
  }
  return t;
}

size_t MemWire::deliver(TimePoint now) {
  size_t n = 0;
  for (int side = 0; side < 2; ++side) {
    Direction& d = dirs_[side];
    MemWireEnd* rx = ends_[1 - side];
    while (!d.q.empty() && due_of(d.q.front()) <= now) {
      SkbPtr skb = d.q.pop_front();
      if (!rx || !rx->core()) continue;
      skb->clear_cb();
      ++stats_.delivered;
      ++n;
      rx->core()->netif_rx(std::move(skb), *rx);
    }
  }
  return n;
}

}  // namespace ustack
