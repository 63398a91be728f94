// Intrusive containers, after the kernel's list_head and hash chains: the element carries its own links,
// so that linking one costs a pointer or two inside it and no allocation. Every TCP connection sits in a
// few of these (the established table, the bind table, the heap of connection timers); node-based
// standard containers would cost a heap node each.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include "core/skbuff.h"

namespace ustack {

// The links of an element in an IntrusiveList.
template <class T>
struct ListLink {
  T* next = nullptr;
  T* prev = nullptr;
};

// A doubly linked list through T's ListLink member `Link`: O(1) insertion and removal, no ownership.
template <class T, ListLink<T> T::*Link>
class IntrusiveList {
 public:
  IntrusiveList() = default;
  IntrusiveList(const IntrusiveList&) = delete;
  IntrusiveList& operator=(const IntrusiveList&) = delete;

  bool empty() const { return head_ == nullptr; }
  size_t size() const { return size_; }
  T* front() const { return head_; }
  T* back() const { return tail_; }
  static T* next(const T& e) { return (e.*Link).next; }
  static T* prev(const T& e) { return (e.*Link).prev; }
  // Whether e, which is in this list or in none, is in this one (an unlinked element has null links).
  bool contains(const T& e) const { return head_ == &e || (e.*Link).prev != nullptr; }

  void push_front(T& e) { insert_after(nullptr, e); }
  void push_back(T& e) { insert_after(tail_, e); }
  // Link e after pos, which is in this list; at the front when pos is null.
  void insert_after(T* pos, T& e) {
    ListLink<T>& l = e.*Link;
    l.prev = pos;
    l.next = pos ? (pos->*Link).next : head_;
    (pos ? (pos->*Link).next : head_) = &e;
    (l.next ? (l.next->*Link).prev : tail_) = &e;
    ++size_;
  }
  // Unlink e, which must be in this list.
  void erase(T& e) {
    ListLink<T>& l = e.*Link;
    (l.prev ? (l.prev->*Link).next : head_) = l.next;
    (l.next ? (l.next->*Link).prev : tail_) = l.prev;
    l = {};
    --size_;
  }
  // f(T&) for every element; f must not unlink any.
  template <class F>
  void for_each(F&& f) const {
    for (T* e = head_; e; e = next(*e)) f(*e);
  }

 private:
  T* head_ = nullptr;
  T* tail_ = nullptr;
  size_t size_ = 0;
};

// A chained hash table of elements linked through themselves, the shape of the kernel's inet_ehash and
// inet_bhash: a power-of-two array of chain heads, doubled when the elements outnumber the chains
// MaxLoad times, so that chains stay about MaxLoad/2 to MaxLoad long and a lookup is O(1). An element
// costs its one link and, amortized, between 1/MaxLoad and 2/MaxLoad array slots: a table looked up per
// packet keeps chains short, one looked up per connection may trade length for memory. Chains are
// singly linked: removal walks the element's (short) chain.
//
// Traits provides:
//   using Key = ...;                      // equality-comparable
//   static Key key(const T&);
//   static T*& next(T&);                  // the element's chain link
//   size_t hash(const Key&) const;        // a member, so that it may hold a secret seed; the low bits
//                                         // pick the chain, so they must be well mixed
template <class T, class Traits, size_t MaxLoad = 1>
class IntrusiveHashTable {
 public:
  using Key = typename Traits::Key;
  explicit IntrusiveHashTable(Traits traits = {}) : traits_(std::move(traits)) {}
  IntrusiveHashTable(const IntrusiveHashTable&) = delete;
  IntrusiveHashTable& operator=(const IntrusiveHashTable&) = delete;

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t bucket_count() const { return buckets_.size(); }
  Traits& traits() { return traits_; }

  // An element with key k, or nullptr.
  T* find(const Key& k) const {
    if (buckets_.empty()) return nullptr;
    for (T* e = buckets_[index(k)]; e; e = Traits::next(*e)) {
      if (Traits::key(*e) == k) return e;
    }
    return nullptr;
  }
  // Link e, which is in no table. Keys need not be unique; find() returns one of equal ones.
  void insert(T& e) {
    if (size_ >= buckets_.size() * MaxLoad) grow();
    link(e);
    ++size_;
  }
  // Unlink e, which must be in this table under its current key.
  void erase(T& e) {
    NET_ASSERT(!buckets_.empty());
    T** pp = &buckets_[index(Traits::key(e))];
    while (*pp != &e) {
      NET_ASSERT(*pp != nullptr);
      pp = &Traits::next(**pp);
    }
    *pp = Traits::next(e);
    Traits::next(e) = nullptr;
    --size_;
  }
  // f(T&) for every element, in no particular order; f must not insert or erase.
  template <class F>
  void for_each(F&& f) const {
    for (T* head : buckets_) {
      for (T* e = head; e; e = Traits::next(*e)) f(*e);
    }
  }

 private:
  static constexpr size_t kMinBuckets = 16;
  size_t index(const Key& k) const { return traits_.hash(k) & (buckets_.size() - 1); }
  void link(T& e) {
    T*& head = buckets_[index(Traits::key(e))];
    Traits::next(e) = head;
    head = &e;
  }
  void grow() {
    size_t n = buckets_.empty() ? kMinBuckets : buckets_.size() * 2;
    std::vector<T*> old = std::exchange(buckets_, std::vector<T*>(n, nullptr));
    for (T* e : old) {
      while (e) {
        T* next = Traits::next(*e);
        link(*e);
        e = next;
      }
    }
  }

  Traits traits_;
  std::vector<T*> buckets_;
  size_t size_ = 0;
};

// A binary min-heap of elements that carry their own place in it, so that an element moves or leaves in
// O(log n) without a search: the shape of the kernel's hrtimer queue, used for the timers of many
// connections. It holds pointers only; an element is in one heap at most.
//
// Traits provides:
//   static uint32_t& slot(T&);             // the element's index in the heap; kNone when in none
//   static bool before(const T&, const T&);  // a strict weak order: the earliest first
template <class T, class Traits>
class IntrusiveHeap {
 public:
  static constexpr uint32_t kNone = ~uint32_t{0};
  IntrusiveHeap() = default;
  IntrusiveHeap(const IntrusiveHeap&) = delete;
  IntrusiveHeap& operator=(const IntrusiveHeap&) = delete;

  bool empty() const { return heap_.empty(); }
  size_t size() const { return heap_.size(); }
  T* top() const { return heap_.empty() ? nullptr : heap_.front(); }
  static bool contains(T& e) { return Traits::slot(e) != kNone; }
  // f(T&) for every element, in heap order; f must not insert, move or erase any.
  template <class F>
  void for_each(F&& f) const {
    for (T* e : heap_) f(*e);
  }

  // Insert e, or put it back in order after its key changed.
  void update(T& e) {
    uint32_t i = Traits::slot(e);
    if (i == kNone) {
      NET_ASSERT(heap_.size() < kNone);
      heap_.push_back(&e);
      i = static_cast<uint32_t>(heap_.size() - 1);
      Traits::slot(e) = i;
      sift_up(i);
      return;
    }
    sift_up(i);
    sift_down(Traits::slot(e));
  }
  // Remove e; harmless when it is in no heap.
  void erase(T& e) {
    uint32_t i = Traits::slot(e);
    if (i == kNone) return;
    T* last = heap_.back();
    heap_.pop_back();
    Traits::slot(e) = kNone;
    if (last != &e) {
      place(i, last);
      sift_up(i);
      sift_down(Traits::slot(*last));
    }
  }

 private:
  void place(uint32_t i, T* e) {
    heap_[i] = e;
    Traits::slot(*e) = i;
  }
  void sift_up(uint32_t i) {
    T* e = heap_[i];
    while (i > 0) {
      uint32_t parent = (i - 1) / 2;
      if (!Traits::before(*e, *heap_[parent])) break;
      place(i, heap_[parent]);
      i = parent;
    }
    place(i, e);
  }
  void sift_down(uint32_t i) {
    T* e = heap_[i];
    size_t n = heap_.size();
    for (;;) {
      size_t c = 2 * size_t{i} + 1;
      if (c >= n) break;
      if (c + 1 < n && Traits::before(*heap_[c + 1], *heap_[c])) ++c;
      if (!Traits::before(*heap_[c], *e)) break;
      place(i, heap_[c]);
      i = static_cast<uint32_t>(c);
    }
    place(i, e);
  }

  std::vector<T*> heap_;
};

}  // namespace ustack
