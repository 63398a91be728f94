#include "stack/event_loop.h"

#include <poll.h>

#include <vector>

namespace ustack {

void EventLoop::run_once(Duration max_wait) {
  // Drain whatever is ready now. If that did anything, return without sleeping: the work may be what
  // the caller waits for (a reply already read from the device), and it checks before the next wait.
  bool did = false;
  for (int i = 0; i < 1000 && stack_.poll(); ++i) did = true;
  if (did) return;
  std::vector<pollfd> fds;
  for (auto& d : stack_.devs().devices())
    if (d->fd() >= 0) fds.push_back(pollfd{d->fd(), POLLIN, 0});
  for (int fd : extra_fds_) fds.push_back(pollfd{fd, POLLIN, 0});
  Duration wait = max_wait;
  if (auto next = stack_.next_deadline())
    wait = std::min(wait, std::max(Duration(0), *next - stack_.net().now()));
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(wait).count();
  (void)::poll(fds.data(), fds.size(), static_cast<int>(std::min<int64_t>(ms, 1000)));
  for (int i = 0; i < 1000 && stack_.poll(); ++i) {
  }
}

bool EventLoop::run_until(const std::function<bool()>& done, Duration timeout) {
  TimePoint end = timeout == Duration::max() ? TimePoint::max() : stack_.net().now() + timeout;
  while (!done() && !stopped() && stack_.net().now() < end) {
    Duration left = end == TimePoint::max() ? Duration(std::chrono::seconds(1)) : end - stack_.net().now();
    run_once(std::min(left, Duration(std::chrono::seconds(1))));
  }
  return done();
}

}  // namespace ustack
