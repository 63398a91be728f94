// A cache of free objects of one type, after the kernel's kmem_cache for request and TIME_WAIT socks:
// an object freed goes on a free list threaded through its own storage, and the next one made takes it
// back, so that a stack opening and closing connections at a steady rate stops calling malloc for them.
// The free list is capped, so a burst (10,000 handshakes at once) is not kept after it.
#pragma once

#include <cstddef>
#include <new>
#include <utility>

namespace ustack {

template <class T>
class ObjectCache {
 public:
  explicit ObjectCache(size_t max_free = 64) : max_free_(max_free) {}
  ObjectCache(const ObjectCache&) = delete;
  ObjectCache& operator=(const ObjectCache&) = delete;
  ~ObjectCache() {
    while (free_) ::operator delete (std::exchange(free_, free_->next), std::align_val_t{alignof(Slot)});
  }

  // kmem_cache_alloc + construction.
  template <class... Args>
  T* create(Args&&... args) {
    void* p;
    if (free_) {
      p = std::exchange(free_, free_->next);
      --nfree_;
    } else {
      p = ::operator new (sizeof(Slot), std::align_val_t{alignof(Slot)});
    }
    return ::new (p) T(std::forward<Args>(args)...);
  }
  // Destruction + kmem_cache_free.
  void destroy(T* obj) {
    obj->~T();
    if (nfree_ >= max_free_) {
      ::operator delete (static_cast<void*>(obj), std::align_val_t{alignof(Slot)});
      return;
    }
    free_ = ::new (static_cast<void*>(obj)) Free{free_};
    ++nfree_;
  }
  size_t free_count() const { return nfree_; }

 private:
  struct Free {
    Free* next;
  };
  union Slot {
    Free free;
    alignas(T) std::byte obj[sizeof(T)];
  };
  Free* free_ = nullptr;
  size_t nfree_ = 0;
  size_t max_free_;
};

}  // namespace ustack
