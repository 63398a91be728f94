// The stack's packets as the runner sees them on the wire under test, and packets written the way
// scripts write them (`P. 1:1001(1000) ack 1 win 257 <nop,nop,sack 2001:3001>`) for reports.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "packetdrill/script.h"

namespace ustack::drill {

struct LiveOption {
  uint8_t kind;
  std::vector<std::byte> data;
};
struct LiveSeg {
  TimePoint at;
  uint16_t sport = 0, dport = 0;
  uint32_t seq = 0, ack = 0;
  uint8_t flags = 0, tos = 0;
  uint16_t win = 0, urg = 0;
  std::vector<LiveOption> opts;
  size_t len = 0;
};

std::string flags_str(uint8_t f);
std::string options_str(const std::vector<TcpOptionSpec>& v);
std::string packet_str(uint8_t flags, uint32_t start, uint32_t len, std::optional<uint32_t> ack,
                       std::optional<uint32_t> win, const std::vector<TcpOptionSpec>* opts, bool any);
// A live option list in the script's form (SACK blocks and TS as they are on the wire).
std::vector<TcpOptionSpec> to_spec(const std::vector<LiveOption>& opts);

}  // namespace ustack::drill
