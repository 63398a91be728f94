// Timers, after Linux's timer_list: a Timer is embedded in its owner (a neighbour, a fragment queue, a
// socket) and armed on the owning stack's TimerQueue with mod_timer(). The queue is a binary heap of
// pointers with each timer knowing its slot (an IntrusiveHeap), so arm, re-arm and cancel are O(log n) and
// allocate nothing once the heap has grown. Expiry runs in deadline order; equal deadlines run in arming
// order.
//
// A timer is small because every TCP connection carries one: its callback is a plain function and
// the owner it acts on (timer_list's function and, before from_timer, its data), not a std::function.
#pragma once

#include <cstdint>
#include <optional>

#include "core/clock.h"
#include "core/intrusive.h"

namespace ustack {

class Timer;
class TimerQueue;

// The queue's order: deadline, then arming order.
struct TimerHeapTraits {
  static inline uint32_t& slot(Timer& t);
  static inline bool before(const Timer& a, const Timer& b);
};

class Timer {
 public:
  using Fn = void (*)(void* ctx);
  Timer() = default;
  Timer(Fn fn, void* ctx) : fn_(fn), ctx_(ctx) {}
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;
  ~Timer();

  // timer_setup: at expiry, call F(owner). F is fixed at compile time, so what is stored is a
  // captureless trampoline and a pointer to the owner.
  template <auto F, class T>
  void setup(T& owner) {
    fn_ = [](void* ctx) { F(*static_cast<T*>(ctx)); };
    ctx_ = &owner;
  }
  void setup(Fn fn, void* ctx) {
    fn_ = fn;
    ctx_ = ctx;
  }
  bool pending() const { return slot_ != kIdle; }
  TimePoint expires() const { return expires_; }

 private:
  friend class TimerQueue;
  friend struct TimerHeapTraits;
  static constexpr uint32_t kIdle = IntrusiveHeap<Timer, TimerHeapTraits>::kNone;
  Fn fn_ = nullptr;
  void* ctx_ = nullptr;
  TimePoint expires_{};
  // Arming order among equal deadlines, compared modulo 2^32: right while the timers sharing a deadline
  // were armed fewer than 2^31 arms apart.
  uint32_t seq_ = 0;
  uint32_t slot_ = kIdle;  // index in the queue's heap
  TimerQueue* queue_ = nullptr;
};

class TimerQueue {
 public:
  TimerQueue() = default;
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;
  ~TimerQueue();

  // mod_timer: arm, or move an armed timer to a new deadline.
  void mod_timer(Timer& t, TimePoint expires);
  // del_timer: disarm; harmless on an idle timer.
  void del_timer(Timer& t);
  // Run every timer whose deadline is at or before `now`. A callback may re-arm its own timer or others;
  // a timer re-armed for a time <= now runs again in this call.
  size_t run_expired(TimePoint now);
  std::optional<TimePoint> next_deadline() const {
    return heap_.empty() ? std::nullopt : std::optional(heap_.top()->expires_);
  }
  size_t size() const { return heap_.size(); }

 private:
  IntrusiveHeap<Timer, TimerHeapTraits> heap_;
  uint32_t next_seq_ = 0;
};

uint32_t& TimerHeapTraits::slot(Timer& t) { return t.slot_; }
bool TimerHeapTraits::before(const Timer& a, const Timer& b) {
  if (a.expires_ != b.expires_) return a.expires_ < b.expires_;
  return static_cast<int32_t>(a.seq_ - b.seq_) < 0;
}

}  // namespace ustack
