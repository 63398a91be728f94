#include "core/skbuff.h"

#include <array>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <vector>

namespace ustack {

void net_assert_fail(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "ustack: invariant broken: %s at %s:%d\n", expr, file, line);
  std::abort();
}

// Size classes cover a small control packet, an Ethernet frame with headroom, a jumbo frame and a 64 KiB
// datagram. Each keeps a bounded free list so that a burst does not pin memory for ever.
class SkbPool {
 public:
  static constexpr std::array<uint32_t, 4> kClassSize = {512, 2304, 9472, 66560};
  static constexpr uint8_t kUnpooled = 0xff;
  static constexpr size_t kMaxFreePerClass = 4096;

  ~SkbPool() {
    for (SkBuff* s : free_skbs_) ::operator delete(static_cast<void*>(s));
    for (auto& list : free_data_)
      for (SkbData* d : list) ::operator delete(static_cast<void*>(d));
  }

  SkBuff* get_skb() {
    if (!free_skbs_.empty()) {
      SkBuff* s = free_skbs_.back();
      free_skbs_.pop_back();
      ++stats.skb_pool_hits;
      return new (s) SkBuff();
    }
    ++stats.skb_heap_allocs;
    return new (::operator new(sizeof(SkBuff))) SkBuff();
  }
  void put_skb(SkBuff* s) {
    s->~SkBuff();
    if (free_skbs_.size() < kMaxFreePerClass) {
      free_skbs_.push_back(s);
    } else {
      ::operator delete(static_cast<void*>(s));
    }
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
    if (cls != kUnpooled && !free_data_[cls].empty()) {
      d = free_data_[cls].back();
      free_data_[cls].pop_back();
      ++stats.data_pool_hits;
    } else {
      size_t cap = cls == kUnpooled ? size : kClassSize[cls];
      d = static_cast<SkbData*>(::operator new(sizeof(SkbData) + cap));
      d->size = static_cast<uint32_t>(cap);
      ++stats.data_heap_allocs;
    }
    d->refcnt = 1;
    d->size_class = cls;
    return d;
  }
  void put_data(SkbData* d) {
    if (--d->refcnt != 0) return;
    if (d->size_class != kUnpooled && free_data_[d->size_class].size() < kMaxFreePerClass) {
      free_data_[d->size_class].push_back(d);
    } else {
      ::operator delete(static_cast<void*>(d));
    }
  }

  SkbPoolStats stats;

 private:
  std::vector<SkBuff*> free_skbs_;
  std::array<std::vector<SkbData*>, kClassSize.size()> free_data_;
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
  pool().put_data(skb->shared_);
  pool().put_skb(skb);
}

SkbPtr SkBuff::alloc(size_t headroom, size_t size) {
  size_t total = headroom + size;
  NET_ASSERT(total < (1u << 30));
  SkBuff* s = pool().get_skb();
  s->shared_ = pool().get_data(total);
  s->data_ = s->tail_ = static_cast<uint32_t>(headroom);
  s->end_ = s->shared_->size;
  return SkbPtr(s);
}

void SkBuff::reserve(size_t n) {
  NET_ASSERT(len() == 0 && tailroom() >= n);
  data_ += static_cast<uint32_t>(n);
  tail_ = data_;
}

std::span<std::byte> SkBuff::push(size_t n) {
  NET_ASSERT(n <= headroom());
  data_ -= static_cast<uint32_t>(n);
  return {data(), n};
}

std::span<std::byte> SkBuff::put(size_t n) {
  NET_ASSERT(n <= tailroom());
  std::byte* p = buf() + tail_;
  tail_ += static_cast<uint32_t>(n);
  return {p, n};
}

std::span<std::byte> SkBuff::put_data(std::span<const std::byte> src) {
  auto dst = put(src.size());
  if (!src.empty()) std::memcpy(dst.data(), src.data(), src.size());
  return dst;
}

bool SkBuff::pull(size_t n) {
  if (n > len()) return false;
  data_ += static_cast<uint32_t>(n);
  return true;
}

void SkBuff::trim(size_t new_len) {
  if (new_len < len()) tail_ = data_ + static_cast<uint32_t>(new_len);
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

void SkbQueue::push_back(SkbPtr skb) { insert_before(nullptr, std::move(skb)); }

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

SkbPtr SkbQueue::pop_front() { return head_ ? unlink(head_) : SkbPtr(); }

SkbPtr SkbQueue::unlink(SkBuff* s) {
  (s->prev_ ? s->prev_->next_ : head_) = s->next_;
  (s->next_ ? s->next_->prev_ : tail_) = s->prev_;
  s->next_ = s->prev_ = nullptr;
  --count_;
  bytes_ -= static_cast<uint32_t>(s->len());
  return SkbPtr(s);
}

void SkbQueue::purge() {
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
