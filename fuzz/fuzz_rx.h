// The input format of the fuzz_rx target, shared by the target and the seed corpus generator.
//
//   byte 0: control
//     bit 7 (kMulti)  the rest is a sequence of frames, each  [len: u16 big-endian][delay: u8][len bytes];
//                     before each frame the virtual clock advances by delay_of(delay), running every
//                     timer that falls due on the way. A short last record takes what is left.
//                     Without it, the rest is one Ethernet frame.
//     bit 0 (kDrain)  after the last frame, let virtual time run until no timer is left (bounded), so
//                     every timeout (reassembly, ARP, neighbour) fires.
//     bit 1 (kTrace)  switch the tracer on (into a sink that discards), to run the trace formatting.
//     bit 2 (kForward) net.ipv4.ip_forward = 1: datagrams for other hosts are forwarded (back out of
//                     the one device) instead of dropped.
//     bit 3 (kVnet)   the device is a TAP device with virtio-net headers (IFF_VNET_HDR), over a datagram
//                     socket: every frame starts with a 10-byte struct virtio_net_hdr in host byte order
//                     (flags, gso_type, hdr_len, gso_size, csum_start, csum_offset), which may claim a
//                     partial checksum or a GSO frame. It reaches the stack through the driver's poll.
//     bit 4 (kVnetTso) with kVnet, the device also takes partial checksums and TSO frames on transmit;
//                     without it, what it forwards or sends is segmented and checksummed in software.
//
// The stack under test has one Ethernet device, kDevMac, with 198.18.0.2/24 (kOurAddr) and a default route
// via kPeerAddr, a UDP socket bound to port 7 that echoes what it receives, and a TCP echo server
// (non-blocking socket calls) listening on port 7. The peer the seeds speak for is kPeerAddr / kPeerMac.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "core/clock.h"
#include "ustack/addr.h"

namespace ustack::fuzz {

inline constexpr uint8_t kMulti = 0x80;
inline constexpr uint8_t kDrain = 0x01;
inline constexpr uint8_t kTrace = 0x02;
inline constexpr uint8_t kForward = 0x04;
inline constexpr uint8_t kVnet = 0x08;
inline constexpr uint8_t kVnetTso = 0x10;
inline constexpr size_t kVnetHdrLen = 10;
inline constexpr size_t kMaxFrames = 64;

inline constexpr MacAddr kDevMac{{0x02, 0x00, 0x5e, 0x00, 0x00, 0x02}};
inline constexpr MacAddr kPeerMac{{0x02, 0x00, 0x5e, 0x00, 0x00, 0x01}};
inline constexpr Ipv4Addr kOurAddr{198, 18, 0, 2};
inline constexpr Ipv4Addr kPeerAddr{198, 18, 0, 1};
inline constexpr uint16_t kEchoPort = 7;

// The delay byte: 0..127 in steps of 10 ms (retransmit timers), 128..255 in whole seconds from 0 to
// 127 s (reassembly and neighbour timeouts).
inline Duration delay_of(uint8_t d) {
  return d < 128 ? Duration(std::chrono::milliseconds(10 * d)) : Duration(std::chrono::seconds(d - 128));
}

}  // namespace ustack::fuzz
