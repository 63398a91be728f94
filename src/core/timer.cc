#include "core/timer.h"

#include "core/skbuff.h"

namespace ustack {

Timer::~Timer() {
  if (queue_) queue_->del_timer(*this);
}

TimerQueue::~TimerQueue() {
  for (Timer* t : heap_) {
    t->slot_ = Timer::kIdle;
    t->queue_ = nullptr;
  }
}

void TimerQueue::mod_timer(Timer& t, TimePoint expires) {
  NET_ASSERT(t.queue_ == nullptr || t.queue_ == this);
  t.expires_ = expires;
  t.seq_ = next_seq_++;
  if (t.pending()) {
    sift_up(t.slot_);
    sift_down(t.slot_);
    return;
  }
  NET_ASSERT(heap_.size() < Timer::kIdle);
  t.queue_ = this;
  heap_.push_back(&t);
  t.slot_ = static_cast<uint32_t>(heap_.size() - 1);
  sift_up(t.slot_);
}

void TimerQueue::del_timer(Timer& t) {
  if (!t.pending()) return;
  uint32_t i = t.slot_;
  Timer* last = heap_.back();
  heap_.pop_back();
  t.slot_ = Timer::kIdle;
  t.queue_ = nullptr;
  if (last != &t) {
    place(i, last);
    sift_up(i);
    sift_down(last->slot_);
  }
}

size_t TimerQueue::run_expired(TimePoint now) {
  size_t ran = 0;
  while (!heap_.empty() && heap_.front()->expires_ <= now) {
    Timer* t = heap_.front();
    del_timer(*t);
    ++ran;
    if (t->fn_) t->fn_(t->ctx_);
  }
  return ran;
}

void TimerQueue::sift_up(uint32_t i) {
  Timer* t = heap_[i];
  while (i > 0) {
    uint32_t parent = (i - 1) / 2;
    if (!before(t, heap_[parent])) break;
    place(i, heap_[parent]);
    i = parent;
  }
  place(i, t);
}

void TimerQueue::sift_down(uint32_t i) {
  Timer* t = heap_[i];
  size_t n = heap_.size();
  for (;;) {
    size_t c = 2 * size_t{i} + 1;
    if (c >= n) break;
    if (c + 1 < n && before(heap_[c + 1], heap_[c])) ++c;
    if (!before(heap_[c], t)) break;
    place(i, heap_[c]);
    i = static_cast<uint32_t>(c);
  }
  place(i, t);
}

}  // namespace ustack
