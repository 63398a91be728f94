#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/net.h"
#include "core/rand.h"
#include "core/timer.h"

namespace ustack {
namespace {

TimePoint t(int64_t ms) { return TimePoint(std::chrono::milliseconds(ms)); }

// A timer running a closure, its own owner: Timer stores only a function and a context pointer.
struct FnTimer : Timer {
  explicit FnTimer(std::function<void()> f = {}) : fn(std::move(f)) { setup<run>(*this); }
  static void run(FnTimer& self) {
    if (self.fn) self.fn();
  }
  std::function<void()> fn;
};

// Records the order in which timers fire.
struct Log {
  std::vector<std::string> v;
  std::function<void()> add(std::string s) {
    return [this, s] { v.push_back(s); };
  }
};

TEST(TimerQueue, RunsInDeadlineOrder) {
  TimerQueue q;
  Log log;
  FnTimer a(log.add("a")), b(log.add("b")), c(log.add("c"));
  q.mod_timer(c, t(30));
  q.mod_timer(a, t(10));
  q.mod_timer(b, t(20));
  EXPECT_EQ(q.size(), 3u);
  ASSERT_TRUE(q.next_deadline());
  EXPECT_EQ(*q.next_deadline(), t(10));
  EXPECT_EQ(q.run_expired(t(9)), 0u);
  EXPECT_TRUE(log.v.empty());
  EXPECT_EQ(q.run_expired(t(10)), 1u);  // a deadline equal to now is due
  EXPECT_EQ(log.v, (std::vector<std::string>{"a"}));
  EXPECT_FALSE(a.pending());
  EXPECT_TRUE(b.pending());
  EXPECT_EQ(q.run_expired(t(100)), 2u);
  EXPECT_EQ(log.v, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(q.size(), 0u);
  EXPECT_FALSE(q.next_deadline());
}

TEST(TimerQueue, EqualDeadlinesRunInArmingOrder) {
  TimerQueue q;
  Log log;
  std::vector<std::unique_ptr<FnTimer>> timers;
  for (int i = 0; i < 20; ++i) {
    timers.push_back(std::make_unique<FnTimer>(log.add(std::to_string(i))));
    q.mod_timer(*timers.back(), t(5));
  }
  q.run_expired(t(5));
  ASSERT_EQ(log.v.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(log.v[i], std::to_string(i));
}

TEST(TimerQueue, RearmingToTheSameDeadlineMovesToTheBackOfTheTies) {
  TimerQueue q;
  Log log;
  FnTimer a(log.add("a")), b(log.add("b")), c(log.add("c"));
  q.mod_timer(a, t(5));
  q.mod_timer(b, t(5));
  q.mod_timer(c, t(5));
  q.mod_timer(a, t(5));  // armed again: now the latest of the three
  EXPECT_EQ(q.size(), 3u);
  q.run_expired(t(5));
  EXPECT_EQ(log.v, (std::vector<std::string>{"b", "c", "a"}));
}

TEST(TimerQueue, ModTimerMovesAnArmedTimer) {
  TimerQueue q;
  Log log;
  FnTimer a(log.add("a")), b(log.add("b"));
  q.mod_timer(a, t(10));
  q.mod_timer(b, t(20));
  q.mod_timer(a, t(50));  // later
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(a.expires(), t(50));
  EXPECT_EQ(q.run_expired(t(30)), 1u);
  EXPECT_EQ(log.v, (std::vector<std::string>{"b"}));
  EXPECT_TRUE(a.pending());
  q.mod_timer(a, t(35));  // earlier again
  EXPECT_EQ(*q.next_deadline(), t(35));
  EXPECT_EQ(q.run_expired(t(40)), 1u);
  EXPECT_EQ(log.v, (std::vector<std::string>{"b", "a"}));
}

TEST(TimerQueue, DelTimerDisarms) {
  TimerQueue q;
  Log log;
  FnTimer a(log.add("a")), b(log.add("b")), c(log.add("c"));
  q.mod_timer(a, t(10));
  q.mod_timer(b, t(20));
  q.mod_timer(c, t(30));
  q.del_timer(b);
  EXPECT_FALSE(b.pending());
  EXPECT_EQ(q.size(), 2u);
  q.del_timer(b);  // harmless when idle
  Timer never;
  q.del_timer(never);
  EXPECT_EQ(q.size(), 2u);
  q.run_expired(t(100));
  EXPECT_EQ(log.v, (std::vector<std::string>{"a", "c"}));
  // A disarmed timer can be armed again.
  q.mod_timer(b, t(200));
  q.run_expired(t(200));
  EXPECT_EQ(log.v.back(), "b");
}

TEST(TimerQueue, ManyTimersWithRandomDeletesKeepOrder) {
  TimerQueue q;
  Rng rng(42);
  std::vector<int64_t> fired;
  std::vector<std::unique_ptr<FnTimer>> timers;
  std::vector<int64_t> deadline(500);
  for (int i = 0; i < 500; ++i) {
    deadline[i] = rng.below(10000);
    timers.push_back(std::make_unique<FnTimer>());
    timers.back()->fn = [&fired, &deadline, i] { fired.push_back(deadline[i]); };
    q.mod_timer(*timers.back(), t(deadline[i]));
  }
  std::multiset<int64_t> expect;
  for (int i = 0; i < 500; ++i) {
    if (rng.chance(0.4)) {
      q.del_timer(*timers[i]);
    } else if (rng.chance(0.3)) {
      deadline[i] = rng.below(10000);
      q.mod_timer(*timers[i], t(deadline[i]));
      expect.insert(deadline[i]);
    } else {
      expect.insert(deadline[i]);
    }
  }
  EXPECT_EQ(q.size(), expect.size());
  // Run in slices, as a stack's loop would.
  for (int64_t now = 0; now <= 10000; now += 97) q.run_expired(t(now));
  EXPECT_TRUE(std::is_sorted(fired.begin(), fired.end()));
  EXPECT_EQ(std::multiset<int64_t>(fired.begin(), fired.end()), expect);
  EXPECT_EQ(q.size(), 0u);
}

TEST(TimerQueue, CallbackRearmingItselfRunsAgainIfStillDue) {
  TimerQueue q;
  FnTimer tick;
  std::vector<int64_t> ran_at;
  tick.fn = [&] {
    int64_t next =
        std::chrono::duration_cast<std::chrono::milliseconds>(tick.expires().time_since_epoch()).count();
    ran_at.push_back(next);
    if (ran_at.size() < 5) q.mod_timer(tick, t(next + 10));
  };
  q.mod_timer(tick, t(10));
  // Deadlines 10..50 are all <= 100: one call runs all five.
  EXPECT_EQ(q.run_expired(t(100)), 5u);
  EXPECT_EQ(ran_at, (std::vector<int64_t>{10, 20, 30, 40, 50}));
  EXPECT_FALSE(tick.pending());
}

TEST(TimerQueue, CallbackRearmingForLaterWaits) {
  TimerQueue q;
  FnTimer tick;
  int runs = 0;
  tick.fn = [&] {
    ++runs;
    q.mod_timer(tick, tick.expires() + 1s);
  };
  q.mod_timer(tick, t(0));
  EXPECT_EQ(q.run_expired(t(500)), 1u);
  EXPECT_EQ(runs, 1);
  EXPECT_TRUE(tick.pending());
  EXPECT_EQ(tick.expires(), t(1000));
  EXPECT_EQ(q.run_expired(t(3000)), 3u);  // 1000, 2000, 3000
  EXPECT_EQ(runs, 4);
}

TEST(TimerQueue, CallbackMayCancelOrArmOthers) {
  TimerQueue q;
  Log log;
  FnTimer b(log.add("b"));
  FnTimer c(log.add("c"));
  FnTimer a([&] {
    log.v.push_back("a");
    q.del_timer(b);        // due at the same time, but cancelled first
    q.mod_timer(c, t(5));  // newly due: runs in this call
  });
  q.mod_timer(a, t(5));
  q.mod_timer(b, t(5));
  EXPECT_EQ(q.run_expired(t(5)), 2u);
  EXPECT_EQ(log.v, (std::vector<std::string>{"a", "c"}));
}

TEST(TimerQueue, DestroyingAnArmedTimerRemovesIt) {
  TimerQueue q;
  Log log;
  FnTimer keep(log.add("keep"));
  q.mod_timer(keep, t(20));
  {
    FnTimer gone(log.add("gone"));
    q.mod_timer(gone, t(10));
    EXPECT_EQ(q.size(), 2u);
  }
  EXPECT_EQ(q.size(), 1u);
  EXPECT_EQ(*q.next_deadline(), t(20));
  EXPECT_EQ(q.run_expired(t(100)), 1u);
  EXPECT_EQ(log.v, (std::vector<std::string>{"keep"}));
}

TEST(TimerQueue, TimerOutlivingItsQueueIsIdle) {
  auto q = std::make_unique<TimerQueue>();
  Timer a;
  q->mod_timer(a, t(10));
  EXPECT_TRUE(a.pending());
  q.reset();
  EXPECT_FALSE(a.pending());
  // Arming on a fresh queue works.
  TimerQueue q2;
  q2.mod_timer(a, t(1));
  EXPECT_TRUE(a.pending());
  q2.del_timer(a);
}

// The plain form: a function and the context it gets.
TEST(TimerQueue, PlainFunctionGetsItsContext) {
  TimerQueue q;
  int hits = 0;
  Timer a([](void* ctx) { ++*static_cast<int*>(ctx); }, &hits);
  q.mod_timer(a, t(1));
  Timer b;
  b.setup([](void* ctx) { *static_cast<int*>(ctx) += 10; }, &hits);
  q.mod_timer(b, t(2));
  Timer idle;  // no callback: expiry only disarms it
  q.mod_timer(idle, t(3));
  EXPECT_EQ(q.run_expired(t(3)), 3u);
  EXPECT_EQ(hits, 11);
}

// Timers are embedded in every TCP socket: they must stay small.
static_assert(sizeof(Timer) <= 40);

TEST(NetCore, ModTimerIsRelativeToTheClock) {
  VirtualClock clock;
  clock.set(t(1000));
  NetCore net(clock, 1);
  int runs = 0;
  FnTimer a([&] { ++runs; });
  net.mod_timer(a, 250ms);
  EXPECT_EQ(a.expires(), t(1250));
  clock.advance(249ms);
  EXPECT_EQ(net.timers.run_expired(net.now()), 0u);
  clock.advance(1ms);
  EXPECT_EQ(net.timers.run_expired(net.now()), 1u);
  EXPECT_EQ(runs, 1);
}

TEST(VirtualClock, MovesOnlyForward) {
  VirtualClock c;
  EXPECT_EQ(c.now(), TimePoint{});
  c.set(t(100));
  c.set(t(50));
  EXPECT_EQ(c.now(), t(100));
  c.advance(5ms);
  EXPECT_EQ(c.now(), t(105));
  EXPECT_DOUBLE_EQ(to_ms(c.now().time_since_epoch()), 105.0);
  EXPECT_DOUBLE_EQ(to_seconds(2500ms), 2.5);
}

// --- Rng ---

std::vector<uint64_t> draw(Rng& r, int n) {
  std::vector<uint64_t> v;
  for (int i = 0; i < n; ++i) v.push_back(r.next_u64());
  return v;
}

TEST(Rng, SameSeedSameSequence) {
  Rng a(12345), b(12345);
  EXPECT_EQ(draw(a, 100), draw(b, 100));
  Rng c(12346);
  Rng d(12345);
  EXPECT_NE(draw(c, 100), draw(d, 100));
}

TEST(Rng, ReseedRestartsTheSequence) {
  Rng a(7);
  auto first = draw(a, 10);
  (void)draw(a, 50);
  a.reseed(7);
  EXPECT_EQ(draw(a, 10), first);
}

TEST(Rng, BoundedDrawsStayInRange) {
  Rng r(99);
  std::vector<int> counts(10);
  for (int i = 0; i < 100000; ++i) {
    uint32_t v = r.below(10);
    ASSERT_LT(v, 10u);
    ++counts[v];
    double u = r.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
  }
  // Roughly uniform: each bucket within 5% of 10000.
  for (int c : counts) {
    EXPECT_GT(c, 9500);
    EXPECT_LT(c, 10500);
  }
  EXPECT_EQ(r.below(1), 0u);
}

TEST(Rng, ChanceHonoursItsExtremesAndRate) {
  Rng r(5);
  int hits = 0;
  for (int i = 0; i < 10000; ++i) {
    EXPECT_FALSE(r.chance(0));
    EXPECT_TRUE(r.chance(1.0));
    hits += r.chance(0.25);
  }
  EXPECT_GT(hits, 2300);
  EXPECT_LT(hits, 2700);
}

TEST(Stamp32, KeepsWholeUnitsAndTellsNeverSetApart) {
  MsStamp s;
  EXPECT_FALSE(s.is_set());
  s.set(t(0));  // the clock's very first millisecond is a real stamp, not "never"
  EXPECT_TRUE(s.is_set());
  EXPECT_EQ(s.since(t(0)), Duration(0));
  EXPECT_EQ(s.since(t(500)), 500ms);
  s.set(TimePoint(1500us));  // sub-millisecond parts are dropped, as jiffies drop them
  EXPECT_EQ(s.since(TimePoint(2999us)), 1ms);
  EXPECT_EQ(s.since(t(1)), Duration(0));  // a `now` before the stamp reads as no time
  s.clear();
  EXPECT_FALSE(s.is_set());
  SecStamp sec;
  sec.set(t(59'999));
  EXPECT_EQ(sec.since(t(60'000)), 1s);
}

TEST(Stamp32, DifferencesSurviveTheWrapOfTheCounter) {
  // 2^32 ms is 49.7 days: a stamp just before the wrap and a `now` just after it are 20 ms apart.
  const int64_t wrap = int64_t{1} << 32;
  MsStamp s;
  s.set(t(wrap - 10));
  EXPECT_TRUE(s.is_set());
  EXPECT_EQ(s.since(t(wrap + 10)), 20ms);
  s.set(t(wrap - 1));  // the one count whose value plus one is 0: kept one unit late, still set
  EXPECT_TRUE(s.is_set());
  EXPECT_EQ(s.since(t(wrap + 100)), 100ms);
  // Up to 24.8 days apart the difference is exact.
  s.set(t(wrap + 5));
  EXPECT_EQ(s.since(t(wrap + 5 + 24LL * 86'400'000)), std::chrono::hours(24 * 24));
}

TEST(Dur32, StoresWholeMicrosecondsSaturating) {
  Dur32 d;
  EXPECT_TRUE(d.is_zero());
  d = 1500ns;  // truncated to the microsecond
  EXPECT_EQ(d.get(), 1us);
  d = 200ms;
  EXPECT_EQ(d.get(), 200ms);
  Duration doubled = d.get() * 2;  // arithmetic is on Duration, never in 32 bits
  EXPECT_EQ(doubled, 400ms);
  d = std::chrono::hours(2);  // beyond 71 minutes: the largest it holds
  EXPECT_EQ(d.get(), std::chrono::microseconds(UINT32_MAX));
  d = -5ms;  // a negative time is none
  EXPECT_TRUE(d.is_zero());
}

}  // namespace
}  // namespace ustack
