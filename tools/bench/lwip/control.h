// What the two ends of an lwIP benchmark run share: addresses, and the flags and counters through which
// the client (which runs the test) and the server (a child process or a thread) coordinate.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

namespace ustack::bench::lwip {

constexpr uint16_t kPort = 5001;
constexpr size_t kChunk = 64 * 1024;  // the application's write size in bulk
constexpr std::array<uint8_t, 4> kClientAddr{198, 18, 0, 1};
constexpr std::array<uint8_t, 4> kServerAddr{198, 18, 0, 2};
constexpr std::array<uint8_t, 6> kClientMac{0x02, 0x6c, 0x77, 0x00, 0x00, 0x01};
constexpr std::array<uint8_t, 6> kServerMac{0x02, 0x6c, 0x77, 0x00, 0x00, 0x02};

// What the client and the server tell each other: in the shared mapping for two processes, in
// ordinary memory for two threads.
struct Control {
  std::atomic<uint32_t> server_ready{0};
  std::atomic<uint32_t> server_failed{0};
  std::atomic<uint32_t> stop{0};
  std::atomic<uint64_t> accepted{0};
  // idle: the client asks the server process to measure its own heap growth.
  std::atomic<uint32_t> measure{0};
  std::atomic<uint32_t> measured{0};
  std::atomic<int64_t> server_heap_delta{0};
};

// The server echoes for rr and crr, and discards for bulk.
inline bool echo_test(const std::string& test) { return test == "rr" || test == "crr"; }

}  // namespace ustack::bench::lwip
