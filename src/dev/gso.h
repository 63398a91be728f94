// Segmentation and checksum offload done in software (Linux net/core/gso.c, tcp4_gso_segment in
// net/ipv4/tcp_offload.c, skb_checksum_help in net/core/dev.c), for a packet that relies on a feature
// the device it is going to lacks (validate_xmit_skb), and for a frame a device must cut up itself.
//
// TCP hands a device with TSO one large segment and the segment size (gso_size); cutting it here gives
// the segments TCP would have sent one by one: each with its own sequence number, IP ID and length, the
// flags that belong on the first (CWR) or the last (FIN, PSH) only, and complete checksums.
#pragma once

#include "core/skbuff.h"

namespace ustack {

// Complete a kPartial transport checksum in place: the field already holds the pseudo-header sum.
// Needs the transport header set. The skb's checksum state becomes kNone.
void skb_checksum_help(SkBuff& skb);

// Where the transport header of an Ethernet frame carrying IPv4 starts, or 0 if it carries no
// well-formed IPv4 header: for a driver told where a frame's checksum field lies.
size_t ipv4_transport_offset(std::span<const std::byte> frame);
// Whether GSO metadata from outside (a TAP device's virtio-net header, a ring's descriptor) is to be
// believed, as the kernel checks a frame from an untrusted source (SKB_GSO_DODGY) before it segments
// it: the frame is IPv4 carrying TCP with the whole TCP header present, and the segment size is one TCP
// could have chosen. TCP never sends segments below 48 bytes (Linux's TCP_MIN_SND_MSS); a smaller size
// would only make one frame into thousands of segments.
inline constexpr uint16_t kMinGsoSize = 48;
bool gso_metadata_ok(std::span<const std::byte> frame, uint16_t gso_size);

// Cut an IPv4/TCP GSO packet whose data starts `mac_len` bytes before the IP header (the link-layer
// header, copied to every segment) into gso_size segments. Returns an empty queue if the packet is not
// a well-formed IPv4/TCP packet (the caller drops it and counts).
SkbQueue skb_gso_segment(const SkBuff& skb, size_t mac_len);

}  // namespace ustack
