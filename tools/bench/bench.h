// `ustack bench`: runs every system's workers interleaved and reports medians (worker.h has the protocol).
#pragma once

namespace ustack::bench {

// argv[first..] are bench's options. Returns the exit status.
int run_bench(int argc, char** argv, int first);

}  // namespace ustack::bench
