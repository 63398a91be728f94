#include "ipv4/ip_fragment.h"

#include "ipv4/icmp.h"
#include "ipv4/ip.h"

namespace ustack {

using namespace wire;

namespace {
// What a fragment occupies of the datagram, kept in the skb's control block while queued.
struct FragCb {
  uint32_t offset;
  uint32_t end;
};
constexpr size_t kFragOverhead = sizeof(SkBuff) + 64;  // truesize beyond the bytes themselves
constexpr uint32_t kIpMaxMtu = 65535;
}  // namespace

IpFragQueues::~IpFragQueues() = default;

SkbPtr IpFragQueues::ip_defrag(SkbPtr skb) {
  NetCore& net = ip_.net();
  net.mib.inc(Mib::IpReasmReqds);
  const std::byte* h = skb->network_header();
  Key key{load_be32(h + 12), load_be32(h + 16), load_be16(h + 4), load8(h + 9)};
  auto it = queues_.find(key);
  if (it == queues_.end()) {
    if (mem_ + skb->len() + kFragOverhead > ip_.sysctl().ipfrag_high_thresh) {
      net.mib.inc(Mib::IpReasmFails);
      kfree_skb(net, std::move(skb), DropReason::FRAG_MEM_LIMIT);
      return nullptr;
    }
    auto q = std::make_unique<Queue>();
    q->fqdir = this;
    q->key = key;
    q->timer.setup<ip_expire_fn>(*q);
    net.mod_timer(q->timer, ip_.sysctl().ipfrag_time);
    it = queues_.emplace(key, std::move(q)).first;
  }
  Queue& q = *it->second;
  switch (ip_frag_queue(q, skb)) {
    case Insert::kDuplicate:
      kfree_skb(net, std::move(skb), DropReason::FRAG_DUP);
      return nullptr;
    case Insert::kCorrupt:
      net.mib.inc(Mib::IpReasmFails);
      kill(q);
      return nullptr;
    case Insert::kQueued:
      break;
  }
  if (!(q.first_in && q.last_in && q.meat == q.len)) return nullptr;
  SkbPtr whole = ip_frag_reasm(q);
  kill(q);
  if (whole) net.mib.inc(Mib::IpReasmOKs);
  return whole;
}

IpFragQueues::Insert IpFragQueues::ip_frag_queue(Queue& q, SkbPtr& skb) {
  NetCore& net = ip_.net();
  const std::byte* h = skb->network_header();
  size_t ihl = size_t(load8(h) & 0xf) * 4;
  uint16_t frag_off = load_be16(h + 6);
  uint32_t offset = uint32_t(frag_off & kIpOffsetMask) * 8;
  uint32_t end = offset + uint32_t(load_be16(h + 2) - ihl);
  auto corrupt = [&](DropReason r) {
    kfree_skb(net, std::move(skb), r);
    return Insert::kCorrupt;
  };
  // RFC 791: the datagram cannot exceed 65535 bytes with its header (the "ping of death").
  if (end + ihl > kIpMaxMtu) return corrupt(DropReason::FRAG_BAD_LENGTH);
  if (!(frag_off & kIpMf)) {
    // The last fragment fixes the length: nothing may lie beyond it, and it may not move.
    if (end < q.len || (q.last_in && end != q.len)) return corrupt(DropReason::FRAG_BAD_LENGTH);
    q.last_in = true;
    q.len = end;
  } else {
    // Every fragment but the last carries a multiple of 8 bytes.
    if (end & 7) end &= ~7u;
    if (end > q.len) {
      if (q.last_in) return corrupt(DropReason::FRAG_BAD_LENGTH);
      q.len = end;
    }
  }
  if (end <= offset) return corrupt(DropReason::FRAG_BAD_LENGTH);
  (void)skb->pull(ihl);
  skb->trim(end - offset);

  // Find the place in offset order; any overlap with a neighbour is fatal unless it is an exact copy.
  SkBuff* pos = q.frags.front();
  while (pos && pos->cb<FragCb>().offset < offset) pos = SkbQueue::next(pos);
  SkBuff* prev = pos ? SkbQueue::prev(pos) : q.frags.back();
  for (SkBuff* n : {prev, pos}) {
    if (!n) continue;
    const FragCb& c = n->cb<FragCb>();
    if (c.offset < end && offset < c.end) {
      if (c.offset == offset && c.end == end) return Insert::kDuplicate;
      return corrupt(DropReason::FRAG_OVERLAP);
    }
  }
  size_t truesize = skb->len() + kFragOverhead;
  if (mem_ + truesize > ip_.sysctl().ipfrag_high_thresh) return corrupt(DropReason::FRAG_MEM_LIMIT);
  skb->cb<FragCb>() = FragCb{offset, end};
  if (offset == 0) q.first_in = true;
  q.meat += end - offset;
  q.mem += truesize;
  mem_ += truesize;
  q.frags.insert_before(pos, std::move(skb));
  return Insert::kQueued;
}

SkbPtr IpFragQueues::ip_frag_reasm(Queue& q) {
  SkBuff* first = q.frags.front();
  const std::byte* fh = first->network_header();
  size_t ihl = size_t(load8(fh) & 0xf) * 4;
  // One copy into a linear buffer with headroom enough for any reply we may build in place.
  SkbPtr skb = SkBuff::alloc(128, ihl + q.len);
  skb->reset_network_header();
  std::byte* out = skb->put(ihl + q.len).data();
  std::memcpy(out, fh, ihl);
  for (SkBuff* f = first; f; f = SkbQueue::next(f)) {
    const FragCb& c = f->cb<FragCb>();
    std::memcpy(out + ihl + c.offset, f->data(), c.end - c.offset);
  }
  store_be16(out + 2, static_cast<uint16_t>(ihl + q.len));
  store_be16(out + 6, load_be16(fh + 6) & kIpDf);
  ip_send_check(out);
  skb->ifindex = first->ifindex;
  skb->pkt_type = first->pkt_type;
  skb->protocol = first->protocol;
  skb->set_transport_header(ihl);
  return skb;
}

void IpFragQueues::ip_expire(Queue& q) {
  NetCore& net = ip_.net();
  net.mib.inc(Mib::IpReasmFails);
  net.mib.inc(Mib::IpReasmTimeout);
  net.drops.inc(DropReason::FRAG_REASM_TIMEOUT);
  // RFC 792 / RFC 1122 §3.3.2: time exceeded (code 1) only if the first fragment, which the error
  // quotes, was received.
  if (q.first_in) {
    SkBuff* first = q.frags.front();
    ip_.icmp().icmp_send(*first, kIcmpTimeExceeded, kIcmpExcFragTime);
  }
  kill(q);
}

void IpFragQueues::kill(Queue& q) {
  mem_ -= q.mem;
  queues_.erase(q.key);  // the Timer's destructor disarms it
}

}  // namespace ustack
