// A slab cache, after the kernel's kmem_cache for socks: objects of one type in pages of many, so that
// an object costs its own size and no heap chunk header, and the cache can walk its live objects (a
// bitmap per page says which slots hold one) without a list link in each of them.
//
// A page holds 64 objects and a header. The pages are kept in address order, so that the page of an
// object is found by a binary search when it is freed (the kernel finds a slab from an address with
// virt_to_slab; aligning pages to their size would do it with a mask, but the heap pays for an aligned
// block with a hole as large as the block). Pages with a free slot are on a list, and an object is made
// in the first of them; a page that empties is given back to the heap unless it is the only one with
// room.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <new>
#include <utility>
#include <vector>

namespace ustack {

template <class T>
class Slab {
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
    uint64_t live_bits = 0;  // one bit per slot
  };
  static constexpr size_t kSlots = 64;
  static constexpr size_t kSlotsOffset = (sizeof(PageHeader) + kAlign - 1) / kAlign * kAlign;
  static constexpr size_t kPageBytes = kSlotsOffset + kSlots * kSlotBytes;

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
      this->live_bits |= uint64_t{1} << index_of(s);
      ++this->live;
      return s;
    }
    void give(void* s) {
      this->live_bits &= ~(uint64_t{1} << index_of(s));
      --this->live;
      this->free = ::new (s) Free{this->free};
    }
    template <class F>
    void for_each_live(F&& f) {
      for (uint64_t bits = this->live_bits; bits; bits &= bits - 1)
        f(*std::launder(reinterpret_cast<T*>(slot(static_cast<size_t>(std::countr_zero(bits))))));
    }
  };

  // The page holding obj: the last page that starts at or before it.
  Page* page_of(const T* obj) const {
    auto it = std::upper_bound(pages_.begin(), pages_.end(), static_cast<const void*>(obj),
                               [](const void* a, const Page* p) { return std::less<>()(a, p); });
    return *(it - 1);
  }

  Page* new_page() {
    Page* p = ::new (::operator new (kPageBytes, std::align_val_t{kAlign})) Page();
    pages_.insert(std::upper_bound(pages_.begin(), pages_.end(), p, std::less<>()), p);
    link_partial(p);
    return p;
  }
  void remove_page(Page* p) {
    pages_.erase(std::lower_bound(pages_.begin(), pages_.end(), p, std::less<>()));
    free_page(p);
  }
  static void free_page(Page* p) {
    p->~Page();
    ::operator delete (static_cast<void*>(p), std::align_val_t{kAlign});
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

  std::vector<Page*> pages_;  // in address order
  Page* partial_ = nullptr;   // pages with a free slot, most recently given one first
  size_t size_ = 0;
};

}  // namespace ustack
