#include "worker.h"

namespace ustack::bench {

int run_ustack_worker(const WorkerArgs&) {
  std::fprintf(stderr, "not implemented yet\n");
  return kWorkerUnavailable;
}

}  // namespace ustack::bench
