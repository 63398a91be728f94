#include "drivers/ring_device.h"

#include <algorithm>

#include "dev/dev.h"
#include "dev/gso.h"

namespace ustack {

namespace {
constexpr uint32_t kPublishBatch = 16;
}  // namespace

XmitResult RingDevice::ndo_start_xmit(SkbPtr& skb) {
  if (skb->len() > tx_.frame_max()) {
    ++stats.tx_dropped;
    skb.reset();
    return XmitResult::kOk;
  }
  std::byte* slot = tx_.reserve();
  if (!slot) {
    blocked_ = true;
    return XmitResult::kBusy;
  }
  blocked_ = false;
  std::memcpy(slot, skb->data(), skb->len());
  FrameDesc d{static_cast<uint32_t>(skb->len())};
  if (skb->ip_summed == CsumState::kPartial) {
    d.flags = kFrameCsumPartial;
    d.csum_offset = skb->csum_offset;
  }
  d.gso_size = skb->gso_size;
  // Published by ndo_flush at the end of the queue run, or here every so often so that a long run keeps
  // the far side busy.
  tx_.stage(d);
  if (tx_.staged() >= kPublishBatch) tx_.publish();
  skb.reset();
  return XmitResult::kOk;
}

namespace {
struct DelayCb {
  int64_t due_ns;
};
}  // namespace

void RingDevice::set_rx_impairment(const Clock& clock, RingImpairment imp) {
  clock_ = &clock;
  imp_ = imp;
  rng_.reseed(imp.seed);
}

void RingDevice::set_offloads(bool on) {
  constexpr uint32_t kOffloads = kNetifHwCsum | kNetifTso;
  features_ = on ? (features_ | kOffloads) : (features_ & ~kOffloads);
  // A TSO frame is the IP datagram and the link header; no larger than an IP datagram can be.
  gso_max_size_ = std::min<uint32_t>(65535, tx_.frame_max() - hard_header_len());
}

size_t RingDevice::poll(size_t budget) {
  // A frame the consumer on the far side took frees a slot: let the qdisc try again.
  if (blocked_ && tx_.reserve()) blocked_ = false;
  if (clock_) deliver_delayed();
  return rx_.consume(budget, [this](std::span<const std::byte> frame, const FrameDesc& d) {
    SkbPtr skb = SkBuff::alloc(64, frame.size());
    (void)skb->put_data(frame);
    // A partial checksum belongs to the IPv4 transport header, where the frame's own IP header says.
    if (size_t l4 = ipv4_transport_offset(frame);
        (d.flags & kFrameCsumPartial) && l4 && l4 + d.csum_offset + 2u <= frame.size()) {
      skb->ip_summed = CsumState::kPartial;
      skb->csum_offset = d.csum_offset;
      skb->set_transport_header(l4);
    }
    if (d.gso_size && !gso_metadata_ok(frame, d.gso_size)) {
      ++stats.rx_errors;  // segment counts claimed for what is no TCP segment
      return;
    }
    skb->gso_size = d.gso_size;
    if (!clock_) {
      core()->netif_rx(std::move(skb), *this);
      return;
    }
    if (!skb->is_gso()) {
      impair(std::move(skb));
      return;
    }
    // The wire in between is MTU-sized: each segment of the train meets loss on its own.
    SkbQueue segs = skb_gso_segment(*skb, hard_header_len());
    if (segs.empty()) ++stats.rx_errors;
    while (!segs.empty()) impair(segs.pop_front());
  });
}

void RingDevice::impair(SkbPtr skb) {
  if (rng_.chance(imp_.loss)) {
    ++stats.rx_dropped;
    return;
  }
  skb->cb<DelayCb>().due_ns = (clock_->now() + imp_.delay).time_since_epoch().count();
  delayed_.push_back(std::move(skb));
}

void RingDevice::deliver_delayed() {
  // One fixed delay keeps the queue in arrival order: only its head can be due.
  int64_t now = clock_->now().time_since_epoch().count();
  while (!delayed_.empty() && delayed_.front()->cb<DelayCb>().due_ns <= now) {
    SkbPtr skb = delayed_.pop_front();
    skb->clear_cb();
    core()->netif_rx(std::move(skb), *this);
  }
}

FrameRingPair::FrameRingPair(uint32_t slots, uint32_t frame_max)
    : FrameRingPair(::operator new(bytes_needed(slots, frame_max), std::align_val_t(64)), slots, frame_max) {
  owned_.reset(rings_[0]);
}

FrameRingPair::FrameRingPair(void* mem, uint32_t slots, uint32_t frame_max) {
  auto* p = static_cast<std::byte*>(mem);
  rings_[0] = FrameRing::create(p, slots, frame_max);
  rings_[1] = FrameRing::create(p + FrameRing::bytes_needed(slots, frame_max), slots, frame_max);
}

std::unique_ptr<NetDevice> FrameRingPair::make_end(int side, std::string name, MacAddr mac, uint32_t mtu) {
  return std::make_unique<RingDevice>(*rings_[side], *rings_[1 - side], std::move(name), mac, mtu);
}

}  // namespace ustack
