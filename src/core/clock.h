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

inline double to_ms(Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }
inline double to_seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace ustack
