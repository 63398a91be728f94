// RefPtr: an owning pointer to an object that counts its owners itself, as the kernel's dst_entry keeps
// __refcnt for dst_hold and dst_release. It is one word where std::shared_ptr takes two (every
// connection caches a route), and the count is a plain integer with no atomic operation: a stack and
// everything it owns are used by one thread at a time.
#pragma once

#include <cstdint>
#include <utility>

namespace ustack {

// The count a RefPtr target carries: derive from it.
class RefCounted {
 public:
  RefCounted() = default;
  RefCounted(const RefCounted&) = delete;
  RefCounted& operator=(const RefCounted&) = delete;
  uint32_t ref_count() const { return refcnt_; }

 private:
  template <class T>
  friend class RefPtr;
  mutable uint32_t refcnt_ = 0;
};

template <class T>
class RefPtr {
 public:
  RefPtr() = default;
  RefPtr(std::nullptr_t) {}
  explicit RefPtr(T* p) : p_(p) { hold(); }
  RefPtr(const RefPtr& o) : p_(o.p_) { hold(); }
  RefPtr(RefPtr&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  RefPtr& operator=(const RefPtr& o) {
    RefPtr(o).swap(*this);
    return *this;
  }
  RefPtr& operator=(RefPtr&& o) noexcept {
    RefPtr(std::move(o)).swap(*this);
    return *this;
  }
  ~RefPtr() { release(); }

  void reset() { RefPtr().swap(*this); }
  void swap(RefPtr& o) noexcept { std::swap(p_, o.p_); }
  T* get() const { return p_; }
  T& operator*() const { return *p_; }
  T* operator->() const { return p_; }
  explicit operator bool() const { return p_ != nullptr; }
  bool operator==(const RefPtr& o) const { return p_ == o.p_; }
  bool operator==(std::nullptr_t) const { return p_ == nullptr; }

 private:
  void hold() {
    if (p_) ++p_->refcnt_;
  }
  void release() {
    if (p_ && --p_->refcnt_ == 0) delete p_;
  }
  T* p_ = nullptr;
};

template <class T, class... Args>
RefPtr<T> make_ref(Args&&... args) {
  return RefPtr<T>(new T(std::forward<Args>(args)...));
}

}  // namespace ustack
