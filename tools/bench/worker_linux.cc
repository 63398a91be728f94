#include "worker.h"

namespace ustack::bench {

int run_linux_worker(const WorkerArgs&) {
  std::fprintf(stderr, "not implemented yet\n");
  return kWorkerUnavailable;
}

}  // namespace ustack::bench
