#include "core/timer.h"

#include "core/skbuff.h"

namespace ustack {

Timer::~Timer() {
  if (queue_) queue_->del_timer(*this);
}

TimerQueue::~TimerQueue() {
  heap_.for_each([](Timer& t) {
    t.slot_ = Timer::kIdle;
    t.queue_ = nullptr;
  });
}

void TimerQueue::mod_timer(Timer& t, TimePoint expires) {
  NET_ASSERT(t.queue_ == nullptr || t.queue_ == this);
  t.expires_ = expires;
  t.seq_ = next_seq_++;
  t.queue_ = this;
  heap_.update(t);
}

void TimerQueue::del_timer(Timer& t) {
  heap_.erase(t);
  t.queue_ = nullptr;
}

size_t TimerQueue::run_expired(TimePoint now) {
  size_t ran = 0;
  while (Timer* t = heap_.top()) {
    if (t->expires_ > now) break;
    del_timer(*t);
    ++ran;
    if (t->fn_) t->fn_(t->ctx_);
  }
  return ran;
}

}  // namespace ustack
