// A slab cache, after the kernel's kmem_cache for socks: objects of one type in pages of many, so that
// an object costs its own size and no heap chunk header, and the cache can walk its live objects (a
// bitmap per page says which slots hold one) without a list link in each of them.
//
// A page is aligned to its size, so the page of an object is its address with the low bits cleared, as
// the kernel finds a slab from an address (virt_to_slab). Pages with a free slot are on a list, and an
// object is made in the first of them; a page that empties is given back to the heap unless it is the
// only one with room.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>
#include <vector>

namespace ustack {

template <class T, size_t kPageBytes = 16384>
class Slab {
  static_assert(std::has_single_bit(kPageBytes));

 public:
  Slab() = default;
  Slab(const Slab&) = delete;
  Slab& operator=(const Slab&) = delete;
  // Objects still live are destroyed with their pages.
  ~Slab() {
    for (Page* p : pages_) {
      p->for_each_live([](T& obj) { obj.~T(); });
      free_page(p);
    }
  }

  template <class... Args>
  T* create(Args&&... args) {
    Page* p = partial_ ? partial_ : new_page();
    void* slot = p->take();
    if (p->full()) unlink_partial(p);
    ++size_;
    return ::new (slot) T(std::forward<Args>(args)...);
  }

  void destroy(T* obj) {
    Page* p = page_of(obj);
    obj->~T();
    bool was_full = p->full();
    p->give(obj);
    --size_;
    if (was_full) link_partial(p);
    // An empty page goes back to the heap, unless it is the only one with room: a socket opened and
    // closed in a loop then does not allocate a page every time.
    if (p->live == 0 && !(p == partial_ && p->next_partial == nullptr)) {
      unlink_partial(p);
      remove_page(p);
    }
  }

  size_t size() const { return size_; }
  size_t page_count() const { return pages_.size(); }

  // f(T&) for every live object, page by page; f must not make or destroy any.
  template <class F>
  void for_each(F&& f) const {
    for (Page* p : pages_) p->for_each_live(f);
  }

 private:
  struct Free {
    Free* next;
  };
  static constexpr size_t kAlign = alignof(T) > alignof(Free) ? alignof(T) : alignof(Free);
  static constexpr size_t kSlotBytes = (std::max(sizeof(T), sizeof(Free)) + kAlign - 1) / kAlign * kAlign;

  struct Page;
  struct PageHeader {
    Page* prev_partial = nullptr;
    Page* next_partial = nullptr;
    Free* free = nullptr;  // slots given back
    uint32_t carved = 0;   // slots below this have been handed out at least once
    uint32_t live = 0;
    uint32_t index = 0;                   // in pages_
    std::array<uint64_t, 4> live_bits{};  // enough for 256 slots
  };
  static constexpr size_t kSlotsOffset = (sizeof(PageHeader) + kAlign - 1) / kAlign * kAlign;
  static constexpr size_t kSlots = std::min<size_t>((kPageBytes - kSlotsOffset) / kSlotBytes, 256);
  static_assert(kSlots >= 8, "the page is too small for this object");

  struct Page : PageHeader {
    std::byte* slot(size_t i) { return reinterpret_cast<std::byte*>(this) + kSlotsOffset + i * kSlotBytes; }
    size_t index_of(const void* obj) {
      return static_cast<size_t>(static_cast<const std::byte*>(obj) - slot(0)) / kSlotBytes;
    }
    bool full() const { return this->free == nullptr && this->carved == kSlots; }
    void* take() {
      void* s;
      if (this->free) {
        s = std::exchange(this->free, this->free->next);
      } else {
        s = slot(this->carved++);
      }
      size_t i = index_of(s);
      this->live_bits[i / 64] |= uint64_t{1} << (i % 64);
      ++this->live;
      return s;
    }
    void give(void* s) {
      size_t i = index_of(s);
      this->live_bits[i / 64] &= ~(uint64_t{1} << (i % 64));
      --this->live;
      this->free = ::new (s) Free{this->free};
    }
    template <class F>
    void for_each_live(F&& f) {
      for (size_t w = 0; w < this->live_bits.size(); ++w) {
        for (uint64_t bits = this->live_bits[w]; bits; bits &= bits - 1) {
          size_t i = w * 64 + static_cast<size_t>(std::countr_zero(bits));
          f(*std::launder(reinterpret_cast<T*>(slot(i))));
        }
      }
    }
  };

  static Page* page_of(const T* obj) {
    return reinterpret_cast<Page*>(reinterpret_cast<uintptr_t>(obj) & ~uintptr_t{kPageBytes - 1});
  }

  Page* new_page() {
    void* mem = ::operator new (kPageBytes, std::align_val_t{kPageBytes});
    Page* p = ::new (mem) Page();
    p->index = static_cast<uint32_t>(pages_.size());
    pages_.push_back(p);
    link_partial(p);
    return p;
  }
  void remove_page(Page* p) {
    Page* last = pages_.back();
    pages_[p->index] = last;
    last->index = p->index;
    pages_.pop_back();
    free_page(p);
  }
  static void free_page(Page* p) {
    p->~Page();
    ::operator delete (static_cast<void*>(p), std::align_val_t{kPageBytes});
  }
  void link_partial(Page* p) {
    p->prev_partial = nullptr;
    p->next_partial = partial_;
    if (partial_) partial_->prev_partial = p;
    partial_ = p;
  }
  void unlink_partial(Page* p) {
    (p->prev_partial ? p->prev_partial->next_partial : partial_) = p->next_partial;
    if (p->next_partial) p->next_partial->prev_partial = p->prev_partial;
    p->prev_partial = p->next_partial = nullptr;
  }

  std::vector<Page*> pages_;
  Page* partial_ = nullptr;  // pages with a free slot, most recently given one first
  size_t size_ = 0;
};

}  // namespace ustack
