#include "sim/sim.h"

namespace ustack {

Stack& Sim::add_stack(std::string name) {
  StackConfig cfg{std::move(name), seed_ * 1000003 + stacks_.size() + 1};
  stacks_.push_back(std::make_unique<Stack>(clock_, cfg));
  Stack& s = *stacks_.back();
  // A blocking socket call on any stack runs the whole simulation until it can return.
  s.set_waiter([this](const std::function<bool()>& cond, Duration timeout) {
    return run_until(cond, timeout == Duration::max() ? Duration(std::chrono::hours(24 * 365)) : timeout);
  });
  return s;
}

MemWire& Sim::add_wire(Impairments imp) {
  wires_.push_back(std::make_unique<MemWire>(clock_, seed_ * 7919 + wires_.size() + 1, imp));
  return *wires_.back();
}

MemWire& Sim::connect(Stack& a, Ipv4Cidr a_addr, Stack& b, Ipv4Cidr b_addr, Impairments imp, uint32_t mtu) {
  MemWire& w = add_wire(imp);
  auto mac_for = [this](const Stack& s, size_t wire_no) {
    uint8_t idx = 0;
    for (size_t i = 0; i < stacks_.size(); ++i)
      if (stacks_[i].get() == &s) idx = static_cast<uint8_t>(i + 1);
    return MacAddr{{0x02, 0x00, 0x5e, uint8_t(wire_no), 0x00, idx}};  // locally administered
  };
  size_t wire_no = wires_.size();
  std::string a_name = "mw" + std::to_string(wire_no) + "a";
  std::string b_name = "mw" + std::to_string(wire_no) + "b";
  NetDevice& da = a.add_device(w.make_end(0, a_name, mac_for(a, wire_no), mtu));
  NetDevice& db = b.add_device(w.make_end(1, b_name, mac_for(b, wire_no), mtu));
  (void)a.add_address(da, a_addr);
  (void)b.add_address(db, b_addr);
  return w;
}

void Sim::settle() {
  // Bounded: a livelock (two stacks answering each other for ever at one instant) must not hang a test.
  for (int round = 0; round < 100000; ++round) {
    bool did = false;
    for (auto& w : wires_) did |= w->deliver(now()) > 0;
    for (auto& s : stacks_) did |= s->poll();
    if (!did && on_step_) {
      on_step_();
      for (auto& s : stacks_) did |= s->poll();
    }
    if (!did) return;
  }
}

std::optional<TimePoint> Sim::next_deadline() const {
  std::optional<TimePoint> t;
  auto take = [&t](std::optional<TimePoint> d) {
    if (d && (!t || *d < *t)) t = d;
  };
  for (auto& w : wires_) take(w->next_deadline());
  for (auto& s : stacks_) take(s->next_deadline());
  return t;
}

void Sim::run_until(TimePoint t) {
  (void)run_until([] { return false; }, t - now());
}

bool Sim::run_until(const std::function<bool()>& pred, Duration limit) {
  TimePoint end = now() + limit;
  for (;;) {
    settle();
    if (pred()) return true;
    auto next = next_deadline();
    if (!next || *next > end) {
      clock_.set(end);
      settle();
      return pred();
    }
    clock_.set(*next);
  }
}

}  // namespace ustack
