// EventLoop: drives one stack in real time. It sleeps in poll(2) on the devices' descriptors until one
// is readable or the stack's next timer is due, then runs the stack until it is idle. stop() is safe to
// call from a signal handler.
#pragma once

#include <atomic>
#include <functional>
#include <vector>

#include "stack/stack.h"

namespace ustack {

class EventLoop {
 public:
  explicit EventLoop(Stack& stack) : stack_(stack) {}
  // The work that is ready now; if there was none, one wait (at most `max_wait`) and the work it brings.
  void run_once(Duration max_wait);
  // Until `done()` is true, stop() is called, or `timeout` passes. Returns done().
  bool run_until(const std::function<bool()>& done, Duration timeout);
  void run() {
    (void)run_until([] { return false; }, Duration::max());
  }
  void stop() { stop_.store(true, std::memory_order_relaxed); }
  // Also wake up when `fd` is readable (an application's own input, such as standard input).
  void watch_fd(int fd) { extra_fds_.push_back(fd); }
  bool stopped() const { return stop_.load(std::memory_order_relaxed); }

 private:
  Stack& stack_;
  std::atomic<bool> stop_{false};
  std::vector<int> extra_fds_;
};

}  // namespace ustack
