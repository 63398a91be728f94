// PcapWriter: frames to a classic pcap file (LINKTYPE_ETHERNET, microsecond stamps) that tcpdump,
// Wireshark and tshark read. Stamps are the stack clock's time plus a base, so a virtual-time run gives
// the same file every time.
#pragma once

#include <cstdio>
#include <memory>
#include <span>
#include <string>

#include "core/clock.h"
#include "ustack/result.h"

namespace ustack {

class PcapWriter {
 public:
  // Creates or truncates `path`. `base_unix_us` is added to every stamp (0 for virtual time).
  static Result<std::shared_ptr<PcapWriter>> open(const std::string& path, int64_t base_unix_us = 0);
  ~PcapWriter();
  PcapWriter(const PcapWriter&) = delete;
  PcapWriter& operator=(const PcapWriter&) = delete;

  void write(std::span<const std::byte> frame, TimePoint ts);
  void flush();
  uint64_t frames() const { return frames_; }

 private:
  PcapWriter(std::FILE* f, int64_t base) : f_(f), base_us_(base) {}
  std::FILE* f_;
  int64_t base_us_;
  uint64_t frames_ = 0;
};

}  // namespace ustack
