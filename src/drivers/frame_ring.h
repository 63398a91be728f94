// FrameRing: a single-producer single-consumer ring of Ethernet frames in one block of memory, the
// software counterpart of a NIC's descriptor ring. It contains no pointers, so the block may be shared
// between threads or between processes (a MAP_SHARED mapping made before fork, or a memfd).
//
// Each side keeps a private copy of the other side's index and reads the shared one only when its copy
// says the ring is full (producer) or empty (consumer): in steady state a frame costs one copy and one
// release store, and the two cores exchange a cache line per batch, not per frame.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <span>
#include <type_traits>

namespace ustack {

// What the ring carries in front of each frame, as virtio-net's header does: its length and the
// offloads the frame relies on.
struct FrameDesc {
  uint32_t len = 0;
  uint16_t gso_size = 0;    // nonzero: a TCP segment to be read as segments of this many payload bytes
  uint8_t flags = 0;        // FrameFlags
  uint8_t csum_offset = 0;  // kFrameCsumPartial: the checksum field's offset in the transport header
};
enum FrameFlags : uint8_t {
  // The transport checksum field holds only the pseudo-header sum (CHECKSUM_PARTIAL); the data is
  // known good (VIRTIO_NET_HDR_F_NEEDS_CSUM).
  kFrameCsumPartial = 1,
};

class FrameRing {
 public:
  // Bytes of memory a ring of `slots` (a power of two) frames of at most `frame_max` bytes needs.
  static size_t bytes_needed(uint32_t slots, uint32_t frame_max) {
    return sizeof(FrameRing) + size_t(slots) * slot_stride(frame_max);
  }
  // Builds an empty ring in `mem` (at least bytes_needed(), 64-byte aligned).
  static FrameRing* create(void* mem, uint32_t slots, uint32_t frame_max) {
    return new (mem) FrameRing(slots, frame_max);
  }

  uint32_t frame_max() const { return frame_max_; }
  uint32_t slots() const { return slots_; }

  // Producer: a slot to write a frame of up to frame_max() bytes into, or nullptr while the ring is full.
  // commit() publishes it; stage() only fills it, and publish() later hands over every staged frame with
  // one store (a NIC's doorbell rung once per batch, Linux's xmit_more), so the consumer's core pulls
  // the index's cache line once per batch instead of once per frame.
  std::byte* reserve() {
    uint32_t tail = prod_.tail;
    if (tail - prod_.head_cache == slots_) {
      prod_.head_cache = head_.load(std::memory_order_acquire);
      if (tail - prod_.head_cache == slots_) return nullptr;
    }
    return slot(tail) + sizeof(FrameDesc);
  }
  void commit(uint32_t len) {
    stage(len);
    publish();
  }
  void stage(uint32_t len) { stage(FrameDesc{len}); }
  void stage(const FrameDesc& d) {
    uint32_t tail = prod_.tail;
    std::memcpy(slot(tail), &d, sizeof d);
    prod_.tail = tail + 1;
  }
  void publish() {
    if (prod_.tail != prod_.published) {
      prod_.published = prod_.tail;
      tail_.store(prod_.tail, std::memory_order_release);
    }
  }
  uint32_t staged() const { return prod_.tail - prod_.published; }
  bool push(std::span<const std::byte> frame) {
    if (frame.size() > frame_max_) return false;
    std::byte* p = reserve();
    if (!p) return false;
    std::memcpy(p, frame.data(), frame.size());
    commit(static_cast<uint32_t>(frame.size()));
    return true;
  }

  // Consumer: hands up to `budget` frames to fn(std::span<const std::byte>), or to
  // fn(std::span<const std::byte>, const FrameDesc&) for a reader of the offload fields, in order, and
  // frees their slots. Returns how many.
  template <class Fn>
  size_t consume(size_t budget, Fn&& fn) {
    uint32_t head = cons_.head;
    size_t n = 0;
    while (n < budget) {
      // The producer's index is read only when the frames known to be there run out.
      if (head == cons_.tail_cache) {
        cons_.tail_cache = tail_.load(std::memory_order_acquire);
        if (head == cons_.tail_cache) break;
      }
      const std::byte* s = slot(head);
      FrameDesc d;
      std::memcpy(&d, s, sizeof d);
      std::span<const std::byte> frame(s + sizeof(FrameDesc), d.len);
      if constexpr (std::is_invocable_v<Fn, std::span<const std::byte>, const FrameDesc&>) {
        fn(frame, d);
      } else {
        fn(frame);
      }
      ++head;
      ++n;
    }
    if (n > 0) {
      cons_.head = head;
      head_.store(head, std::memory_order_release);
    }
    return n;
  }
  bool empty() const {
    return head_.load(std::memory_order_acquire) == tail_.load(std::memory_order_acquire);
  }

 private:
  static size_t slot_stride(uint32_t frame_max) {
    return (sizeof(FrameDesc) + frame_max + 63u) & ~size_t(63);
  }
  FrameRing(uint32_t slots, uint32_t frame_max)
      : slots_(slots), frame_max_(frame_max), stride_(slot_stride(frame_max)) {}
  std::byte* slot(uint32_t i) {
    return reinterpret_cast<std::byte*>(this + 1) + size_t(i & (slots_ - 1)) * stride_;
  }

  const uint32_t slots_, frame_max_;
  const size_t stride_;
  // Each index on its own cache line, with the side's private state next to the index it writes.
  alignas(64) std::atomic<uint32_t> head_{0};  // written by the consumer
  struct {
    uint32_t head = 0, tail_cache = 0;
  } cons_;
  alignas(64) std::atomic<uint32_t> tail_{0};  // written by the producer
  struct {
    uint32_t tail = 0, head_cache = 0, published = 0;
  } prod_;
  // The class is 64-byte aligned, so its size rounds up to whole cache lines and the first slot, right
  // after it, never shares a line with prod_.
};

static_assert(std::atomic<uint32_t>::is_always_lock_free, "a shared ring needs lock-free atomics");

}  // namespace ustack
