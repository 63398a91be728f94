#include "dev/pcap.h"

#include <cstdint>
#include <cstring>

namespace ustack {

namespace {
constexpr uint32_t kSnapLen = 262144;
constexpr uint32_t kLinkTypeEthernet = 1;

void put32(std::FILE* f, uint32_t v) { std::fwrite(&v, 4, 1, f); }  // pcap is host-endian by design
void put16(std::FILE* f, uint16_t v) { std::fwrite(&v, 2, 1, f); }
}  // namespace

Result<std::shared_ptr<PcapWriter>> PcapWriter::open(const std::string& path, int64_t base_unix_us) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return make_error(static_cast<Errc>(errno));
  put32(f, 0xa1b2c3d4);  // magic: microsecond resolution
  put16(f, 2);
  put16(f, 4);
  put32(f, 0);  // thiszone
  put32(f, 0);  // sigfigs
  put32(f, kSnapLen);
  put32(f, kLinkTypeEthernet);
  return std::shared_ptr<PcapWriter>(new PcapWriter(f, base_unix_us));
}

PcapWriter::~PcapWriter() { std::fclose(f_); }

void PcapWriter::write(std::span<const std::byte> frame, TimePoint ts) {
  int64_t us =
      base_us_ + std::chrono::duration_cast<std::chrono::microseconds>(ts.time_since_epoch()).count();
  uint32_t caplen = static_cast<uint32_t>(std::min<size_t>(frame.size(), kSnapLen));
  put32(f_, static_cast<uint32_t>(us / 1000000));
  put32(f_, static_cast<uint32_t>(us % 1000000));
  put32(f_, caplen);
  put32(f_, static_cast<uint32_t>(frame.size()));
  std::fwrite(frame.data(), 1, caplen, f_);
  ++frames_;
}

void PcapWriter::flush() { std::fflush(f_); }

}  // namespace ustack
