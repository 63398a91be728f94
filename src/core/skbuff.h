// SkBuff: the packet buffer, after Linux's struct sk_buff.
//
//   buf                data_          tail_               end_
//    |<-- headroom -->|<---- data ---->|<-- tailroom -->|
//
// The bytes live in SkbData, reference-counted and shared by an skb and its clones (skb_clone). A
// writer of a clone calls unshare() first (copy on write). Header positions are offsets into the buffer,
// so they stay valid when unshare() or expand_head() moves the bytes. Both SkBuff and SkbData come from
// per-thread pools of fixed size classes: after warm-up, allocating a packet is a free-list pop.
//
// Invariant breaches (push past the headroom, put past the tailroom) are bugs in the stack and abort;
// functions that untrusted input can reach (pull, may_pull) report failure instead.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <type_traits>

namespace ustack {

[[noreturn]] void net_assert_fail(const char* expr, const char* file, int line);
// An invariant check that stays on in release builds: a broken invariant must not become memory
// corruption. A function cannot capture the expression text and location, hence the macro.
#define NET_ASSERT(expr) ((expr) ? void(0) : ::ustack::net_assert_fail(#expr, __FILE__, __LINE__))

class SkBuff;
struct SkbDeleter {
  void operator()(SkBuff* skb) const noexcept;
};
using SkbPtr = std::unique_ptr<SkBuff, SkbDeleter>;

// The bytes behind one or more skbs. `refcnt` is not atomic: a stack and its packets belong to one
// thread (docs/ARCHITECTURE.md, threading).
struct alignas(16) SkbData {
  uint32_t refcnt;
  uint32_t size;
  uint8_t size_class;
  std::byte* bytes() { return reinterpret_cast<std::byte*>(this + 1); }
};

enum class PacketType : uint8_t { kHost, kBroadcast, kMulticast, kOtherHost, kOutgoing, kLoopback };

// How far the receive checksum is known good (Linux ip_summed on receive).
enum class CsumState : uint8_t { kNone, kUnnecessary };

class SkBuff {
 public:
  static constexpr size_t kCbSize = 48;
  static constexpr uint16_t kNoHeader = 0xffff;

  // alloc_skb + skb_reserve: an empty skb with `headroom` bytes in front and at least `size` after.
  static SkbPtr alloc(size_t headroom, size_t size);

  SkBuff(const SkBuff&) = delete;
  SkBuff& operator=(const SkBuff&) = delete;

  size_t len() const { return tail_ - data_; }
  size_t headroom() const { return data_; }
  size_t tailroom() const { return end_ - tail_; }
  std::byte* data() { return buf() + data_; }
  const std::byte* data() const { return buf() + data_; }
  std::span<std::byte> bytes() { return {data(), len()}; }
  std::span<const std::byte> bytes() const { return {data(), len()}; }

  // skb_reserve: only on an empty skb.
  void reserve(size_t n);
  // skb_push: grow the data at the front (adding a header). push, put, pull and trim are inline: each
  // packet goes through several of them per layer.
  std::span<std::byte> push(size_t n) {
    NET_ASSERT(n <= headroom());
    data_ -= static_cast<uint32_t>(n);
    return {data(), n};
  }
  // skb_put: grow the data at the back.
  std::span<std::byte> put(size_t n) {
    NET_ASSERT(n <= tailroom());
    std::byte* p = buf() + tail_;
    tail_ += static_cast<uint32_t>(n);
    return {p, n};
  }
  std::span<std::byte> put_data(std::span<const std::byte> src) {
    auto dst = put(src.size());
    if (!src.empty()) std::memcpy(dst.data(), src.data(), src.size());
    return dst;
  }
  // skb_pull: drop n bytes at the front; false (and no change) if fewer are there.
  bool pull(size_t n) {
    if (n > len()) return false;
    data_ += static_cast<uint32_t>(n);
    return true;
  }
  // pskb_may_pull: are n bytes readable at data()? Buffers are linear, so this is a length check; callers
  // use it so that fragmented buffers can come later without touching them.
  bool may_pull(size_t n) const { return len() >= n; }
  // skb_trim: cut the data to `new_len` if longer.
  void trim(size_t new_len) {
    if (new_len < len()) tail_ = data_ + static_cast<uint32_t>(new_len);
  }

  // skb_clone: new metadata over the same bytes.
  SkbPtr clone() const;
  // skb_copy: new metadata and a private copy of the bytes, with the same headroom.
  SkbPtr copy() const;
  bool cloned() const { return shared_->refcnt > 1; }
  // skb_unshare: make the bytes private before writing them.
  void unshare();
  // pskb_expand_head: ensure at least `headroom` bytes in front (private bytes afterwards).
  void expand_head(size_t headroom);

  // Header offsets, Linux's skb_reset_*_header: mark the current data start.
  void reset_mac_header() { mac_ = static_cast<uint16_t>(data_); }
  void reset_network_header() { network_ = static_cast<uint16_t>(data_); }
  void reset_transport_header() { transport_ = static_cast<uint16_t>(data_); }
  void set_transport_header(size_t offset_from_data) {
    transport_ = static_cast<uint16_t>(data_ + offset_from_data);
  }
  bool has_mac_header() const { return mac_ != kNoHeader; }
  bool has_network_header() const { return network_ != kNoHeader; }
  bool has_transport_header() const { return transport_ != kNoHeader; }
  std::byte* mac_header() { return buf() + mac_; }
  std::byte* network_header() { return buf() + network_; }
  const std::byte* network_header() const { return buf() + network_; }
  std::byte* transport_header() { return buf() + transport_; }
  const std::byte* transport_header() const { return buf() + transport_; }
  // Offsets of the headers from the current data start (negative when already pulled).
  int network_offset() const { return int(network_) - int(data_); }
  int transport_offset() const { return int(transport_) - int(data_); }
  // Bytes from the network header to the end of data: the IP datagram while it is being handled.
  size_t network_len() const { return tail_ - network_; }

  // The per-layer scratch area (TCP_SKB_CB and friends). Each layer owns it while it holds the skb.
  template <class Cb>
  Cb& cb() {
    static_assert(sizeof(Cb) <= kCbSize && alignof(Cb) <= 8 && std::is_trivially_copyable_v<Cb>);
    return *reinterpret_cast<Cb*>(cb_);
  }
  void clear_cb() { std::memset(cb_, 0, kCbSize); }

  // Metadata, as in struct sk_buff.
  int ifindex = 0;        // device received on / sent through
  uint16_t protocol = 0;  // ethertype, host order
  PacketType pkt_type = PacketType::kHost;
  uint8_t priority = 1;  // qdisc band: 0 high, 1 normal, 2 bulk
  CsumState ip_summed = CsumState::kNone;

 private:
  friend class SkbQueue;
  friend struct SkbDeleter;
  friend class SkbPool;
  // The control block is cleared with a fixed-size memset (three vector stores) rather than a member
  // initialiser, which would have the compiler clear the whole skb with a string instruction per alloc.
  SkBuff() { std::memset(cb_, 0, kCbSize); }
  std::byte* buf() const { return shared_->bytes(); }
  void reset_meta();

  SkbData* shared_ = nullptr;
  uint32_t data_ = 0, tail_ = 0, end_ = 0;
  uint16_t mac_ = kNoHeader, network_ = kNoHeader, transport_ = kNoHeader;
  alignas(8) std::byte cb_[kCbSize];
  SkBuff* next_ = nullptr;
  SkBuff* prev_ = nullptr;
};

// Pool statistics for this thread: what the steady state should show is allocations from the pool, not
// from the heap.
struct SkbPoolStats {
  uint64_t skb_heap_allocs = 0;
  uint64_t data_heap_allocs = 0;
  uint64_t skb_pool_hits = 0;
  uint64_t data_pool_hits = 0;
};
SkbPoolStats skb_pool_stats();

// sk_buff_head: an owning FIFO of skbs with a byte count, linked through the skbs themselves.
class SkbQueue {
 public:
  SkbQueue() = default;
  SkbQueue(const SkbQueue&) = delete;
  SkbQueue& operator=(const SkbQueue&) = delete;
  SkbQueue(SkbQueue&& o) noexcept { splice_from(o); }
  SkbQueue& operator=(SkbQueue&& o) noexcept {
    if (this != &o) {
      purge();
      splice_from(o);
    }
    return *this;
  }
  ~SkbQueue() { purge(); }

  bool empty() const { return head_ == nullptr; }
  size_t size() const { return count_; }
  size_t bytes() const { return bytes_; }
  SkBuff* front() const { return head_; }
  SkBuff* back() const { return tail_; }
  static SkBuff* next(const SkBuff* skb) { return skb->next_; }
  static SkBuff* prev(const SkBuff* skb) { return skb->prev_; }

  // push_back and pop_front are inline: every packet passes through a queue or two on its way.
  void push_back(SkbPtr skb) {
    SkBuff* s = skb.release();
    NET_ASSERT(s->next_ == nullptr && s->prev_ == nullptr);
    s->prev_ = tail_;
    (tail_ ? tail_->next_ : head_) = s;
    tail_ = s;
    ++count_;
    bytes_ += s->len();
  }
  void push_front(SkbPtr skb);
  // Insert before `pos` (nullptr: at the back).
  void insert_before(SkBuff* pos, SkbPtr skb);
  SkbPtr pop_front() {
    SkBuff* s = head_;
    if (!s) return SkbPtr();
    head_ = s->next_;
    (head_ ? head_->prev_ : tail_) = nullptr;
    s->next_ = nullptr;
    --count_;
    bytes_ -= s->len();
    return SkbPtr(s);
  }
  // Append to the tail skb's data, keeping the byte count right (tcp_sendmsg filling a segment).
  std::span<std::byte> put_tail(size_t n) {
    bytes_ += n;
    return tail_->put(n);
  }
  // Drop n bytes from the front of the head skb's data (a partial read or a partial ACK).
  void pull_front(size_t n) {
    NET_ASSERT(head_ && head_->pull(n));
    bytes_ -= n;
  }
  SkbPtr unlink(SkBuff* skb);
  void purge() {
    if (head_) purge_all();
  }

 private:
  void purge_all();
  void splice_from(SkbQueue& o);
  // count_ and bytes_ are kept apart: side by side, the compiler updates them as one 16-byte vector in
  // some places and as two 8-byte words in others, and a wide load of what two narrow stores just wrote
  // stalls (a queue filled and drained in the same poll round, the receive backlog, hit it per packet).
  SkBuff* head_ = nullptr;
  size_t count_ = 0;
  SkBuff* tail_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace ustack
