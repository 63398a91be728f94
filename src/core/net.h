// NetCore: what every layer of one stack shares, as Linux's struct net is shared by a namespace's
// subsystems: the clock, the timer queue, the random source, the MIB and drop counters, the tracer.
// Layers receive a NetCore& at construction; nothing in the stack is global.
#pragma once

#include <cstdint>

#include "core/clock.h"
#include "core/mib.h"
#include "core/rand.h"
#include "core/skbuff.h"
#include "core/timer.h"
#include "core/trace.h"

namespace ustack {

struct NetCore {
  NetCore(Clock& c, uint64_t seed) : clock(c), rng(seed) {}
  NetCore(const NetCore&) = delete;
  NetCore& operator=(const NetCore&) = delete;

  TimePoint now() const { return clock.now(); }
  void mod_timer(Timer& t, Duration after) { timers.mod_timer(t, now() + after); }

  Clock& clock;
  TimerQueue timers;
  Rng rng;
  MibCounters mib;
  DropCounters drops;
  Tracer trace;
};

// kfree_skb with a reason: every discarded packet is counted by why.
inline void kfree_skb(NetCore& net, SkbPtr skb, DropReason reason) {
  net.drops.inc(reason);
  skb.reset();
}

// consume_skb: the packet was used up normally, not dropped.
inline void consume_skb(SkbPtr skb) { skb.reset(); }

}  // namespace ustack
