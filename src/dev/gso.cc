#include "dev/gso.h"

#include <algorithm>
#include <cstring>

#include "core/checksum.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"

namespace ustack {

using namespace wire;

void skb_checksum_help(SkBuff& skb) {
  NET_ASSERT(skb.ip_summed == CsumState::kPartial && skb.has_transport_header());
  std::byte* th = skb.transport_header();
  size_t len = skb.len() - size_t(skb.transport_offset());
  // The field holds the folded pseudo-header sum: summing over it adds the pseudo header in.
  store_be16(th + skb.csum_offset, csum_fold(csum_partial(th, len, 0)));
  skb.ip_summed = CsumState::kNone;
}

size_t ipv4_transport_offset(std::span<const std::byte> frame) {
  constexpr size_t kEth = 14;
  if (frame.size() < kEth + kIpv4HeaderLen || load_be16(frame.data() + 12) != 0x0800) return 0;
  size_t ihl = size_t(load8(frame.data() + kEth) & 0xf) * 4;
  return ihl >= kIpv4HeaderLen && frame.size() >= kEth + ihl ? kEth + ihl : 0;
}

bool gso_metadata_ok(std::span<const std::byte> frame, uint16_t gso_size) {
  if (gso_size < kMinGsoSize) return false;
  size_t t = ipv4_transport_offset(frame);  // nonzero: the IPv4 header follows a 14-byte link header
  if (t == 0 || load8(frame.data() + 14 + 9) != kIpProtoTcp || frame.size() < t + kTcpHeaderLen) return false;
  return frame.size() >= t + size_t(load8(frame.data() + t + 12) >> 4) * 4;
}

SkbQueue skb_gso_segment(const SkBuff& skb, size_t mac_len) {
  SkbQueue segs;
  std::span<const std::byte> b = skb.bytes();
  if (b.size() < mac_len + kIpv4HeaderLen) return segs;
  const std::byte* ip = b.data() + mac_len;
  size_t ihl = size_t(load8(ip) & 0xf) * 4;
  if ((load8(ip) >> 4) != 4 || ihl < kIpv4HeaderLen || load8(ip + 9) != kIpProtoTcp ||
      b.size() < mac_len + ihl + kTcpHeaderLen)
    return segs;
  const std::byte* tcp = ip + ihl;
  size_t thl = size_t(load8(tcp + 12) >> 4) * 4;
  size_t hdrs = mac_len + ihl + thl;
  if (thl < kTcpHeaderLen || b.size() < hdrs || skb.gso_size == 0) return segs;
  size_t payload = b.size() - hdrs;
  Ipv4Addr saddr{load_be32(ip + 12)}, daddr{load_be32(ip + 16)};
  uint16_t id = load_be16(ip + 4);
  uint32_t seq = load_be32(tcp + 4);
  uint8_t flags = load8(tcp + 13);
  // A bare header (no payload) still makes one segment.
  size_t nsegs = std::max<size_t>((payload + skb.gso_size - 1) / skb.gso_size, 1);
  for (size_t i = 0; i < nsegs; ++i) {
    size_t off = i * skb.gso_size;
    size_t n = std::min<size_t>(skb.gso_size, payload - off);
    bool first = i == 0, last = i + 1 == nsegs;
    SkbPtr seg = SkBuff::alloc(skb.headroom(), hdrs + n);
    std::byte* p = seg->put(hdrs + n).data();
    std::memcpy(p, b.data(), hdrs);
    std::memcpy(p + hdrs, b.data() + hdrs + off, n);
    std::byte* sip = p + mac_len;
    std::byte* stcp = sip + ihl;
    store_be16(sip + 2, static_cast<uint16_t>(ihl + thl + n));
    store_be16(sip + 4, id++);
    store_be16(sip + 10, 0);
    store_be16(sip + 10, ip_fast_csum(sip, unsigned(ihl / 4)));
    store_be32(stcp + 4, seq + uint32_t(off));
    uint8_t f = flags;
    if (!first) f &= static_cast<uint8_t>(~kTcpCwr);
    if (!last) f &= static_cast<uint8_t>(~(kTcpFin | kTcpPsh));
    store8(stcp + 13, f);
    store_be16(stcp + 16, 0);
    uint32_t tlen = uint32_t(thl + n);
    store_be16(stcp + 16,
               csum_fold(csum_pseudo(saddr, daddr, kIpProtoTcp, tlen, csum_partial(stcp, tlen, 0))));
    seg->ifindex = skb.ifindex;
    seg->protocol = skb.protocol;
    seg->pkt_type = skb.pkt_type;
    seg->priority = skb.priority;
    seg->reset_mac_header();
    (void)seg->pull(mac_len);
    seg->reset_network_header();
    seg->set_transport_header(ihl);
    (void)seg->push(mac_len);
    segs.push_back(std::move(seg));
  }
  return segs;
}

}  // namespace ustack
