// Helpers shared by the foundation-layer tests: a capturing device to inject and observe frames, frame
// builders and parsers, a pcap reader for frames captured on simulated wires, and virtual-time drivers.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/checksum.h"
#include "dev/dev.h"
#include "dev/pcap.h"
#include "sim/sim.h"
#include "stack/stack.h"
#include "wire/arp.h"
#include "wire/ethernet.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"
#include "wire/udp.h"

namespace ustack::test {

using Bytes = std::vector<std::byte>;

inline Bytes bytes_of(std::initializer_list<int> v) {
  Bytes b;
  for (int x : v) b.push_back(std::byte(static_cast<uint8_t>(x)));
  return b;
}

inline Bytes bytes_of(std::string_view s) {
  auto c = wire::as_bytes(s);
  return Bytes(c.begin(), c.end());
}

// Deterministic payload bytes that differ per `tag`, so that a misplaced piece shows.
inline Bytes pattern(size_t n, uint32_t tag) {
  Bytes b(n);
  uint32_t x = tag * 2654435761u + 12345;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1103515245u + 12345u;
    b[i] = std::byte(static_cast<uint8_t>(x >> 16));
  }
  return b;
}

inline Bytes concat(std::span<const std::byte> a, std::span<const std::byte> b) {
  Bytes r(a.begin(), a.end());
  r.insert(r.end(), b.begin(), b.end());
  return r;
}

// --- builders ---

struct IpSpec {
  Ipv4Addr saddr;
  Ipv4Addr daddr;
  uint8_t protocol = wire::kIpProtoUdp;
  uint8_t ttl = 64;
  uint16_t id = 1;
  uint16_t frag_off = 0;  // flags and offset in 8-byte units, as on the wire
  uint8_t tos = 0;
};

// A 20-byte header with a valid checksum, then the payload.
inline Bytes ipv4_packet(const IpSpec& s, std::span<const std::byte> payload) {
  Bytes b(wire::kIpv4HeaderLen + payload.size());
  wire::Ipv4Hdr h;
  h.tos = s.tos;
  h.tot_len = static_cast<uint16_t>(b.size());
  h.id = s.id;
  h.frag_off = s.frag_off;
  h.ttl = s.ttl;
  h.protocol = s.protocol;
  h.saddr = s.saddr;
  h.daddr = s.daddr;
  h.emit(b.data());
  if (!payload.empty()) std::memcpy(b.data() + wire::kIpv4HeaderLen, payload.data(), payload.size());
  return b;
}

// A UDP header and payload with the checksum over the pseudo-header (or none).
inline Bytes udp_segment(Ipv4Addr saddr, Ipv4Addr daddr, uint16_t sport, uint16_t dport,
                         std::span<const std::byte> payload, bool with_csum = true) {
  Bytes b(wire::kUdpHeaderLen + payload.size());
  wire::UdpHdr uh{sport, dport, static_cast<uint16_t>(b.size()), 0};
  uh.emit(b.data());
  if (!payload.empty()) std::memcpy(b.data() + wire::kUdpHeaderLen, payload.data(), payload.size());
  if (with_csum) {
    uint16_t c = csum_fold(csum_pseudo(saddr, daddr, wire::kIpProtoUdp, uint32_t(b.size()),
                                       csum_partial(b.data(), b.size(), 0)));
    wire::store_be16(b.data() + 6, c == 0 ? 0xffff : c);
  }
  return b;
}

inline Bytes icmp_message(uint8_t type, uint8_t code, uint32_t rest, std::span<const std::byte> body) {
  Bytes b(wire::kIcmpHeaderLen + body.size());
  wire::IcmpHdr h{type, code, 0, rest};
  h.emit(b.data());
  if (!body.empty()) std::memcpy(b.data() + wire::kIcmpHeaderLen, body.data(), body.size());
  wire::store_be16(b.data() + 2, ip_compute_csum(b));
  return b;
}

inline Bytes eth_frame(MacAddr dst, MacAddr src, uint16_t type, std::span<const std::byte> payload) {
  Bytes b(wire::kEthHeaderLen + payload.size());
  wire::EthHdr{dst, src, type}.emit(b.data());
  if (!payload.empty()) std::memcpy(b.data() + wire::kEthHeaderLen, payload.data(), payload.size());
  return b;
}

inline Bytes arp_frame(MacAddr eth_dst, const wire::ArpPacket& a) {
  Bytes p(wire::kArpLen);
  a.emit(p.data());
  return eth_frame(eth_dst, a.sha, wire::kEthPArp, p);
}

// --- parsers ---

// A frame taken apart: Ethernet, then ARP or IPv4 with its payload (after the IP header).
struct Frame {
  wire::EthHdr eth;
  std::optional<wire::ArpPacket> arp;
  std::optional<wire::Ipv4Hdr> ip;
  Bytes l4;  // the IP payload
};

inline Frame parse_frame(std::span<const std::byte> b) {
  Frame f;
  auto eth = wire::EthHdr::parse(b);
  EXPECT_TRUE(eth.has_value()) << "frame shorter than an Ethernet header";
  if (!eth) return f;
  f.eth = *eth;
  auto rest = b.subspan(wire::kEthHeaderLen);
  if (eth->ethertype == wire::kEthPArp) {
    f.arp = wire::ArpPacket::parse(rest);
  } else if (eth->ethertype == wire::kEthPIp) {
    f.ip = wire::Ipv4Hdr::parse(rest);  // verifies the header checksum
    EXPECT_TRUE(f.ip.has_value()) << "transmitted IPv4 header does not parse";
    if (f.ip) {
      auto l4 = rest.subspan(f.ip->header_len(), f.ip->tot_len - f.ip->header_len());
      f.l4.assign(l4.begin(), l4.end());
    }
  }
  return f;
}

// Does the UDP checksum of a (whole, unfragmented) datagram verify?
inline bool udp_csum_ok(const wire::Ipv4Hdr& ip, std::span<const std::byte> udp) {
  return csum_fold(csum_pseudo(ip.saddr, ip.daddr, wire::kIpProtoUdp, uint32_t(udp.size()),
                               csum_partial(udp.data(), udp.size(), 0))) == 0;
}

// --- devices ---

// A device that keeps every frame the stack transmits, and through which a test injects frames.
class CaptureDevice final : public NetDevice {
 public:
  CaptureDevice(std::string name, MacAddr mac, uint32_t mtu = 1500)
      : NetDevice(std::move(name), mac, mtu, kIffBroadcast) {}
  XmitResult ndo_start_xmit(SkbPtr& skb) override {
    sent.emplace_back(skb->bytes().begin(), skb->bytes().end());
    skb.reset();
    return XmitResult::kOk;
  }
  const char* driver() const override { return "capture"; }

  // The frame arrives now, as a driver in the stack's loop would hand it over.
  void receive(std::span<const std::byte> frame) {
    SkbPtr skb = SkBuff::alloc(64, frame.size());
    (void)skb->put_data(frame);
    core()->netif_receive_skb(std::move(skb), *this);
  }
  std::vector<Frame> take_sent() {
    std::vector<Frame> out;
    for (auto& b : sent) out.push_back(parse_frame(b));
    sent.clear();
    return out;
  }

  std::vector<Bytes> sent;
};

// --- virtual time ---

// Run one stack (alone on its clock) until `end`, firing every timer at its deadline.
inline void run_stack_until(Stack& st, VirtualClock& clock, TimePoint end) {
  for (;;) {
    while (st.poll()) {
    }
    auto next = st.next_deadline();
    if (!next || *next > end) break;
    clock.set(*next);
  }
  clock.set(end);
  while (st.poll()) {
  }
}

// --- pcap ---

struct PcapRecord {
  TimePoint ts;
  Bytes bytes;
};

// Reads a classic microsecond pcap file as PcapWriter writes it (host byte order).
inline std::vector<PcapRecord> read_pcap(const std::string& path) {
  std::vector<PcapRecord> out;
  std::FILE* f = std::fopen(path.c_str(), "rb");
  EXPECT_NE(f, nullptr) << path;
  if (!f) return out;
  uint32_t ghdr[6];
  if (std::fread(ghdr, 4, 6, f) != 6 || ghdr[0] != 0xa1b2c3d4) {
    ADD_FAILURE() << "bad pcap header in " << path;
    std::fclose(f);
    return out;
  }
  uint32_t rec[4];
  while (std::fread(rec, 4, 4, f) == 4) {
    PcapRecord r;
    r.ts = TimePoint(std::chrono::seconds(rec[0]) + std::chrono::microseconds(rec[1]));
    r.bytes.resize(rec[2]);
    if (std::fread(r.bytes.data(), 1, rec[2], f) != rec[2]) break;
    out.push_back(std::move(r));
  }
  std::fclose(f);
  return out;
}

// Captures what one device sends and receives into a temporary pcap file.
class DeviceTap {
 public:
  DeviceTap(NetDevice& dev, const std::string& name) : dev_(dev) {
    // The process id keeps parallel test processes apart (the object's address alone can repeat across
    // processes under the same address-space layout).
    static int seq = 0;
    path_ = ::testing::TempDir() + "ustack_" + name + "_" + std::to_string(::getpid()) + "_" +
            std::to_string(++seq) + ".pcap";
    auto w = PcapWriter::open(path_);
    EXPECT_TRUE(w.has_value());
    if (w) dev.set_capture(*w);
  }
  ~DeviceTap() {
    dev_.set_capture(nullptr);
    std::remove(path_.c_str());
  }
  DeviceTap(const DeviceTap&) = delete;
  DeviceTap& operator=(const DeviceTap&) = delete;

  std::vector<PcapRecord> records() {
    if (dev_.capture()) dev_.capture()->flush();
    return read_pcap(path_);
  }
  // The frames the device transmitted (source MAC is its own).
  std::vector<PcapRecord> transmitted() {
    std::vector<PcapRecord> out;
    for (auto& r : records()) {
      auto eth = wire::EthHdr::parse(r.bytes);
      if (eth && eth->src == dev_.dev_addr()) out.push_back(std::move(r));
    }
    return out;
  }

 private:
  NetDevice& dev_;
  std::string path_;
};

inline TimePoint at(Duration d) { return TimePoint(d); }

// One stack in virtual time on a capture device: 10.0.0.1/24 on eth0, with the peer 10.0.0.2 a
// permanent neighbour, so that replies go out at once. Tests inject frames as if from the peer.
struct Host {
  static constexpr Ipv4Addr kLocal{10, 0, 0, 1};
  static constexpr Ipv4Addr kPeer{10, 0, 0, 2};
  static constexpr MacAddr kLocalMac{{0x02, 0, 0, 0, 0, 0x01}};
  static constexpr MacAddr kPeerMac{{0x02, 0, 0, 0, 0, 0x02}};

  explicit Host(uint32_t mtu = 1500) : st(clock) {
    eth0 =
        &static_cast<CaptureDevice&>(st.add_device(std::make_unique<CaptureDevice>("eth0", kLocalMac, mtu)));
    EXPECT_TRUE(st.add_address(*eth0, Ipv4Cidr{kLocal, 24}));
    st.arp().tbl().neigh_add_permanent(kPeer, *eth0, kPeerMac);
    eth0->sent.clear();  // the gratuitous ARP
  }
  // An IP datagram arrives from the peer's MAC (to ours unless told otherwise).
  void inject_ip(std::span<const std::byte> ip, MacAddr eth_dst = kLocalMac, MacAddr eth_src = kPeerMac) {
    eth0->receive(eth_frame(eth_dst, eth_src, wire::kEthPIp, ip));
  }
  // A UDP datagram from the peer (or `src`) to us, unfragmented.
  void inject_udp(uint16_t sport, uint16_t dport, std::span<const std::byte> payload, Ipv4Addr src = kPeer,
                  Ipv4Addr dst = kLocal, MacAddr eth_dst = kLocalMac) {
    inject_ip(ipv4_packet({src, dst, wire::kIpProtoUdp}, udp_segment(src, dst, sport, dport, payload)),
              eth_dst);
  }
  std::vector<Frame> sent() { return eth0->take_sent(); }
  void run_until(TimePoint t) { run_stack_until(st, clock, t); }
  void run_for(Duration d) { run_until(clock.now() + d); }
  uint64_t mib(Mib m) { return st.net().mib[m]; }
  uint64_t drops(DropReason r) { return st.net().drops[r]; }

  VirtualClock clock;
  Stack st;
  CaptureDevice* eth0;
};

}  // namespace ustack::test
