// The ustack server of the lwip_ustack system, in a translation unit of its own: lwIP's headers define
// macros (ip_output and others) that collide with ustack's names.
#pragma once

#include "control.h"
#include "worker.h"

namespace ustack {
class FrameRingPair;
}

namespace ustack::bench::lwip {

// Builds a ustack stack on `side` of `rings`, listens, sets ctl.server_ready (or ctl.server_failed) and
// serves until ctl.stop. Runs on the calling thread, which owns the stack.
void run_ustack_server(FrameRingPair& rings, int side, const WorkerArgs& a, Control& ctl);

}  // namespace ustack::bench::lwip
