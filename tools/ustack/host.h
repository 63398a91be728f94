// How a command gets its stack: by default two stacks joined by a memory wire in this process, in
// virtual time (no privileges needed); with --tap, one stack on a TAP interface, in real time.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "options.h"
#include "sim/sim.h"
#include "stack/event_loop.h"

namespace ustack::cli {

// The memory-wire default: this host and its peer.
inline constexpr Ipv4Addr kLocalAddr{198, 18, 0, 1};
inline constexpr Ipv4Addr kPeerAddr{198, 18, 0, 2};

class Host {
 public:
  virtual ~Host() = default;
  virtual Stack& stack() = 0;
  // Drive the stack (and, on the wire, its peer) until `done()` or `limit` passes. Returns done().
  virtual bool run_until(const std::function<bool()>& done, Duration limit) = 0;
  virtual bool virtual_time() const = 0;
  virtual Stack* peer() { return nullptr; }
  virtual void stop() {}
  virtual EventLoop* loop() { return nullptr; }
  // Work to do after every round of the stacks (servers on the peer stack).
  virtual void set_on_step(std::function<void()> f) = 0;
  TimePoint now() { return stack().net().now(); }
};

// The options every host-using command takes.
inline const std::set<std::string> kHostOptions = {"--tap",  "--addr", "--gateway", "--mac",
                                                   "--pcap", "--loss", "--delay",   "--seed"};

// Builds the host from the options; prints the reason and returns nullptr on failure.
std::unique_ptr<Host> make_host(Options& o);
// Routes trace lines to stdout when --trace is given.
void enable_trace(Stack& s, const std::string& prefix);

}  // namespace ustack::cli
