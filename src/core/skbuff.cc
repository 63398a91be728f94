#include "core/skbuff.h"

#include <array>
#include <cstdio>
#include <cstdlib>
#include <new>

namespace ustack {

void net_assert_fail(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "ustack: invariant broken: %s at %s:%d\n", expr, file, line);
  std::abort();
}

// A bounded LIFO of free blocks linked through the blocks themselves: taking or returning one is a
// couple of loads and stores, with no container to grow or check. The bound keeps a burst from pinning
// memory for ever.
class FreeList {
 public:
  static constexpr size_t kMax = 4096;
  FreeList() = default;
  FreeList(const FreeList&) = delete;
  FreeList& operator=(const FreeList&) = delete;
  ~FreeList() {
    while (void* p = pop()) ::operator delete(p);
  }
  void* pop() {
    Node* n = head_;
    if (n) {
      head_ = n->next;
      --count_;
    }
    return n;
  }
  // False (the caller frees the block) once the list holds its maximum.
  bool push(void* p) {
    if (count_ >= kMax) return false;
    head_ = new (p) Node{head_};
    ++count_;
    return true;
  }

 private:
  struct Node {
    Node* next;
  };
  Node* head_ = nullptr;
  size_t count_ = 0;
};

// Size classes cover a small control packet, an Ethernet frame with headroom, a jumbo frame and a 64 KiB
// datagram. Each keeps a bounded free list.
class SkbPool {
 public:
  static constexpr std::array<uint32_t, 4> kClassSize = {512, 2304, 9472, 66560};
  static constexpr uint8_t kUnpooled = 0xff;

  SkBuff* get_skb() {
    if (void* s = free_skbs_.pop()) {
      ++stats.skb_pool_hits;
      return new (s) SkBuff();
    }
    ++stats.skb_heap_allocs;
    return new (::operator new(sizeof(SkBuff))) SkBuff();
  }
  void put_skb(SkBuff* s) {
    s->~SkBuff();
    if (!free_skbs_.push(s)) ::operator delete(static_cast<void*>(s));
  }

  SkbData* get_data(size_t size) {
    uint8_t cls = kUnpooled;
    for (uint8_t i = 0; i < kClassSize.size(); ++i) {
      if (size <= kClassSize[i]) {
        cls = i;
        break;
      }
    }
    SkbData* d;
    void* p = cls != kUnpooled ? free_data_[cls].pop() : nullptr;
    if (p) {
      d = static_cast<SkbData*>(p);
      ++stats.data_pool_hits;
    } else {
      size_t cap = cls == kUnpooled ? size : kClassSize[cls];
      d = static_cast<SkbData*>(::operator new(sizeof(SkbData) + cap));
      ++stats.data_heap_allocs;
    }
    // The free list's link overwrote the header: set all of it.
    d->size = cls == kUnpooled ? static_cast<uint32_t>(size) : kClassSize[cls];
    d->refcnt = 1;
    d->size_class = cls;
    return d;
  }
  void put_data(SkbData* d) {
    if (--d->refcnt != 0) return;
    if (d->size_class == kUnpooled || !free_data_[d->size_class].push(d))
      ::operator delete(static_cast<void*>(d));
  }

  SkbPoolStats stats;

 private:
  FreeList free_skbs_;
  std::array<FreeList, kClassSize.size()> free_data_;
};

namespace {
SkbPool& pool() {
  thread_local SkbPool p;
  return p;
}
}  // namespace

SkbPoolStats skb_pool_stats() { return pool().stats; }

void SkbDeleter::operator()(SkBuff* skb) const noexcept {
  NET_ASSERT(skb->next_ == nullptr && skb->prev_ == nullptr);
  SkbPool& p = pool();
  p.put_data(skb->shared_);
  p.put_skb(skb);
}

SkbPtr SkBuff::alloc(size_t headroom, size_t size) {
  size_t total = headroom + size;
  NET_ASSERT(total < (1u << 30));
  SkbPool& p = pool();
  SkBuff* s = p.get_skb();
  s->shared_ = p.get_data(total);
  s->data_ = s->tail_ = static_cast<uint32_t>(headroom);
  s->end_ = s->shared_->size;
  return SkbPtr(s);
}

void SkBuff::reserve(size_t n) {
  NET_ASSERT(len() == 0 && tailroom() >= n);
  data_ += static_cast<uint32_t>(n);
  tail_ = data_;
}

void SkBuff::reset_meta() {
  mac_ = network_ = transport_ = kNoHeader;
  next_ = prev_ = nullptr;
}

SkbPtr SkBuff::clone() const {
  SkBuff* s = pool().get_skb();
  s->shared_ = shared_;
  ++shared_->refcnt;
  s->data_ = data_;
  s->tail_ = tail_;
  s->end_ = end_;
  s->mac_ = mac_;
  s->network_ = network_;
  s->transport_ = transport_;
  std::memcpy(s->cb_, cb_, kCbSize);
  s->ifindex = ifindex;
  s->protocol = protocol;
  s->pkt_type = pkt_type;
  s->priority = priority;
  s->ip_summed = ip_summed;
  s->csum_offset = csum_offset;
  s->gso_size = gso_size;
  s->gso_segs = gso_segs;
  return SkbPtr(s);
}

SkbPtr SkBuff::copy() const {
  SkbPtr c = clone();
  c->unshare();
  return c;
}

void SkBuff::unshare() {
  if (shared_->refcnt == 1) return;
  SkbData* d = pool().get_data(end_);
  std::memcpy(d->bytes(), buf(), end_);
  pool().put_data(shared_);
  shared_ = d;
}

void SkBuff::expand_head(size_t headroom) {
  if (headroom <= data_ && !cloned()) return;
  size_t extra = headroom > data_ ? headroom - data_ : 0;
  SkbData* d = pool().get_data(end_ + extra);
  std::memcpy(d->bytes() + extra, buf(), end_);
  pool().put_data(shared_);
  shared_ = d;
  auto shift = [extra](uint16_t& off) {
    if (off != kNoHeader) off = static_cast<uint16_t>(off + extra);
  };
  shift(mac_);
  shift(network_);
  shift(transport_);
  data_ += static_cast<uint32_t>(extra);
  tail_ += static_cast<uint32_t>(extra);
  end_ = static_cast<uint32_t>(d->size);
}

void SkbQueue::push_front(SkbPtr skb) { insert_before(head_, std::move(skb)); }

void SkbQueue::insert_before(SkBuff* pos, SkbPtr skb) {
  SkBuff* s = skb.release();
  NET_ASSERT(s->next_ == nullptr && s->prev_ == nullptr);
  s->next_ = pos;
  s->prev_ = pos ? pos->prev_ : tail_;
  if (s->prev_) {
    s->prev_->next_ = s;
  } else {
    head_ = s;
  }
  if (pos) {
    pos->prev_ = s;
  } else {
    tail_ = s;
  }
  ++count_;
  bytes_ += static_cast<uint32_t>(s->len());
}

SkbPtr SkbQueue::unlink(SkBuff* s) {
  (s->prev_ ? s->prev_->next_ : head_) = s->next_;
  (s->next_ ? s->next_->prev_ : tail_) = s->prev_;
  s->next_ = s->prev_ = nullptr;
  --count_;
  bytes_ -= static_cast<uint32_t>(s->len());
  return SkbPtr(s);
}

void SkbQueue::purge_all() {
  while (!empty()) pop_front();
}

void SkbQueue::splice_from(SkbQueue& o) {
  head_ = o.head_;
  tail_ = o.tail_;
  count_ = o.count_;
  bytes_ = o.bytes_;
  o.head_ = o.tail_ = nullptr;
  o.count_ = o.bytes_ = 0;
}

}  // namespace ustack
