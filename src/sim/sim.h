// Sim: several stacks and the memory wires between them, in virtual time. Time jumps from one deadline
// (a timer, a frame's arrival) to the next, and between jumps every stack runs until idle, so a 60 s
// timer costs microseconds of real time and every run with the same seed is the same run.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "drivers/mem_wire.h"
#include "stack/stack.h"

namespace ustack {

class Sim {
 public:
  explicit Sim(uint64_t seed = 1) : seed_(seed) {}
  VirtualClock& clock() { return clock_; }
  TimePoint now() const { return clock_.now(); }

  Stack& add_stack(std::string name);
  MemWire& add_wire(Impairments imp = {});
  // A wire between two stacks, with `a_addr` on a's end and `b_addr` on b's (MTU 1500, MACs derived from
  // the stack number). Returns the wire.
  MemWire& connect(Stack& a, Ipv4Cidr a_addr, Stack& b, Ipv4Cidr b_addr, Impairments imp = {},
                   uint32_t mtu = 1500);

  // Run until virtual time `t`.
  void run_until(TimePoint t);
  void run_for(Duration d) { run_until(now() + d); }
  // Run until `pred()` holds or `limit` of virtual time has passed. Returns pred().
  bool run_until(const std::function<bool()>& pred, Duration limit);
  // Run every stack and wire until nothing is left to do at the current time.
  void settle();
  // Application work to run whenever the stacks have settled (servers written against the socket API).
  void set_on_step(std::function<void()> f) { on_step_ = std::move(f); }

 private:
  std::optional<TimePoint> next_deadline() const;
  uint64_t seed_;
  VirtualClock clock_;
  std::vector<std::unique_ptr<Stack>> stacks_;
  std::vector<std::unique_ptr<MemWire>> wires_;
  std::function<void()> on_step_;
};

}  // namespace ustack
