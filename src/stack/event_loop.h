// EventLoop: drives one stack in real time. It sleeps in poll(2) on the devices' descriptors until one
// is readable or the stack's next timer is due, then runs the stack until it is idle. stop() is safe to
// call from a signal handler.
#pragma once

#include <atomic>
#include <functional>

#include "stack/stack.h"

namespace ustack {

class EventLoop {
 public:
  explicit EventLoop(Stack& stack) : stack_(stack) {}
  // One wait and the work it brings, waiting at most `max_wait`.
  void run_once(Duration max_wait);
  // Until `done()` is true, stop() is called, or `timeout` passes. Returns done().
  bool run_until(const std::function<bool()>& done, Duration timeout);
  void run() {
    (void)run_until([] { return false; }, Duration::max());
  }
  void stop() { stop_.store(true, std::memory_order_relaxed); }
  bool stopped() const { return stop_.load(std::memory_order_relaxed); }

 private:
  Stack& stack_;
  std::atomic<bool> stop_{false};
};

}  // namespace ustack
