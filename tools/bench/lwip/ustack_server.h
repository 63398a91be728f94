// The ustack server of the lwip_ustack system, in a translation unit of its own: lwIP's headers define
// macros (ip_output and others) that collide with ustack's names.
#pragma once

#include <memory>

#include "control.h"
#include "worker.h"

namespace ustack {
class FrameRingPair;
}

namespace ustack::bench::lwip {

class UstackServerImpl;

// A ustack stack on `side` of `rings` with a server that discards or echoes (echo_test()). It belongs to
// the thread that calls start(), step() and run().
class UstackServer {
 public:
  UstackServer(FrameRingPair& rings, int side, const WorkerArgs& a, Control& ctl);
  ~UstackServer();
  // Listens, then sets ctl.server_ready (or ctl.server_failed and returns false).
  bool start();
  // One round of the stack's work and the server's.
  void step();
  // step() until ctl.stop.
  void run();

 private:
  std::unique_ptr<UstackServerImpl> impl_;
  Control& ctl_;
};

}  // namespace ustack::bench::lwip
