// Timers, after Linux's timer_list: a Timer is embedded in its owner (a neighbour, a fragment queue, a
// socket) and armed on the owning stack's TimerQueue with mod_timer(). The queue is a binary heap of
// pointers with each timer knowing its slot, so arm, re-arm and cancel are O(log n) and allocate nothing
// once the heap has grown. Expiry runs in deadline order; equal deadlines run in arming order.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "core/clock.h"

namespace ustack {

class TimerQueue;

class Timer {
 public:
  using Callback = std::function<void()>;
  Timer() = default;
  explicit Timer(Callback cb) : cb_(std::move(cb)) {}
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;
  ~Timer();

  void set_callback(Callback cb) { cb_ = std::move(cb); }
  bool pending() const { return slot_ != kIdle; }
  TimePoint expires() const { return expires_; }

 private:
  friend class TimerQueue;
  static constexpr size_t kIdle = ~size_t{0};
  Callback cb_;
  TimePoint expires_{};
  uint64_t seq_ = 0;
  size_t slot_ = kIdle;
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
    return heap_.empty() ? std::nullopt : std::optional(heap_.front()->expires_);
  }
  size_t size() const { return heap_.size(); }

 private:
  static bool before(const Timer* a, const Timer* b) {
    return a->expires_ != b->expires_ ? a->expires_ < b->expires_ : a->seq_ < b->seq_;
  }
  void sift_up(size_t i);
  void sift_down(size_t i);
  void place(size_t i, Timer* t) {
    heap_[i] = t;
    t->slot_ = i;
  }
  std::vector<Timer*> heap_;
  uint64_t next_seq_ = 0;
};

}  // namespace ustack
