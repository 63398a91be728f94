// The one clock that all protocol time goes through. Stack code never reads the system clock: it asks its
// Clock, which is virtual in tests and simulations (time moves only when the driver says so) and real in
// the tools.
#pragma once

#include <chrono>
#include <cstdint>

namespace ustack {

using Duration = std::chrono::nanoseconds;
struct NetClockTag {
  using duration = Duration;
  using rep = Duration::rep;
  using period = Duration::period;
  static constexpr bool is_steady = true;
};
// Time since the clock's own epoch (its creation for the real clock, zero for the virtual one).
using TimePoint = std::chrono::time_point<NetClockTag, Duration>;

using namespace std::chrono_literals;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

class VirtualClock final : public Clock {
 public:
  TimePoint now() const override { return now_; }
  // Time never runs backwards: set() to the past is ignored.
  void set(TimePoint t) {
    if (t > now_) now_ = t;
  }
  void advance(Duration d) { now_ += d; }

 private:
  TimePoint now_{};
};

class RealClock final : public Clock {
 public:
  RealClock() : epoch_(std::chrono::steady_clock::now()) {}
  TimePoint now() const override {
    return TimePoint(std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now() - epoch_));
  }

 private:
  std::chrono::steady_clock::time_point epoch_;
};

// Real time read once per round of a spinning driver loop (tick()), not once per question: protocol time
// then moves in steps of one round, well under a microsecond when the loop spins, and a packet no longer
// pays for several clock reads on its way through the stack. Linux refreshes tcp_mstamp the same way,
// once per event rather than per use.
class RoundClock final : public Clock {
 public:
  TimePoint now() const override { return now_; }
  TimePoint tick() { return now_ = real_.now(); }

 private:
  RealClock real_;
  TimePoint now_ = real_.now();
};

// A moment of the net clock kept in 32 bits, as the kernel keeps its tcp_jiffies32 and seconds stamps:
// whole milliseconds (MsStamp) or seconds (SecStamp), wrapping. The time since it is exact to its unit
// while less than half the wrap has passed (24.8 days for milliseconds, 68 years for seconds), which
// bounds each use. It holds the count plus one, so that 0 can mean "never set"; the one moment per wrap
// whose count plus one is 0 is kept one unit late.
template <typename Unit>
class Stamp32 {
 public:
  bool is_set() const { return v_ != 0; }
  void clear() { v_ = 0; }
  void set(TimePoint t) {
    uint32_t v = units(t) + 1;
    v_ = v ? v : 1;
  }
  // The time from the stamp to `now`, in whole units (0 if `now` is not after it).
  Duration since(TimePoint now) const {
    int32_t d = static_cast<int32_t>(units(now) + 1 - v_);
    return d > 0 ? Duration(Unit(d)) : Duration(0);
  }

 private:
  static uint32_t units(TimePoint t) { return static_cast<uint32_t>(t.time_since_epoch() / Unit(1)); }
  uint32_t v_ = 0;
};
// A Duration kept in 32 bits, as whole microseconds from 0 to 71 minutes (stored saturating): for the
// round-trip and timeout estimates a connection carries, which the kernel keeps in u32 microseconds
// (srtt_us) or jiffies (icsk_rto, icsk_ack.ato). Arithmetic happens on the Duration it converts to.
class Dur32 {
 public:
  Dur32() = default;
  Dur32(Duration d) { *this = d; }  // implicit on purpose: a narrower store of the same quantity
  Dur32& operator=(Duration d) {
    set_us(std::chrono::duration_cast<std::chrono::microseconds>(d).count());
    return *this;
  }
  // The raw microseconds, for estimators that compute in them.
  int64_t us() const { return us_; }
  void set_us(int64_t us) {
    us_ = us <= 0 ? 0 : us >= int64_t{UINT32_MAX} ? UINT32_MAX : static_cast<uint32_t>(us);
  }
  operator Duration() const { return std::chrono::microseconds(us_); }  // and back, exactly
  Duration get() const { return *this; }
  bool is_zero() const { return us_ == 0; }

 private:
  uint32_t us_ = 0;
};

using MsStamp = Stamp32<std::chrono::milliseconds>;
using SecStamp = Stamp32<std::chrono::seconds>;

inline double to_ms(Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }
inline double to_seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace ustack
