#include "dev/dev.h"

#include <cstring>

#include "dev/gso.h"
#include "dev/pcap.h"
#include "wire/ethernet.h"

namespace ustack {

NetDevice& DevCore::register_netdevice(std::unique_ptr<NetDevice> dev) {
  dev->ifindex_ = static_cast<int>(devs_.size()) + 1;
  dev->core_ = this;
  dev->set_up(true);
  devs_.push_back(std::move(dev));
  return *devs_.back();
}

NetDevice* DevCore::dev_get_by_index(int ifindex) const {
  if (ifindex < 1 || static_cast<size_t>(ifindex) > devs_.size()) return nullptr;
  return devs_[ifindex - 1].get();
}

NetDevice* DevCore::dev_get_by_name(std::string_view name) const {
  for (auto& d : devs_)
    if (d->name() == name) return d.get();
  return nullptr;
}

void DevCore::dev_add_pack(uint16_t ethertype, PacketHandler h) {
  ptypes_.emplace_back(ethertype, std::move(h));
}

// flatten: dev_hard_start_xmit and qdisc_run without a call of their own per packet.
[[gnu::flatten]] Status DevCore::dev_queue_xmit(SkbPtr skb) {
  NetDevice* dev = dev_get_by_index(skb->ifindex);
  NET_ASSERT(dev != nullptr);
  if (!dev->is_up()) {
    ++dev->stats.tx_dropped;
    kfree_skb(net_, std::move(skb), DropReason::DEV_DOWN);
    return make_error(Errc::kNetDown);
  }
  if (net_.trace.on()) {
    net_.trace.emit("dev_queue_xmit", "dev=%s qdisc=%s qlen=%zu len=%zu", dev->name().c_str(),
                    dev->qdisc().kind(), dev->qdisc().qlen(), skb->len());
  }
  // validate_xmit_skb: what the device cannot do for the packet is done here, in software.
  if (skb->is_gso() && !dev->has_feature(kNetifTso)) {
    SkbQueue segs = skb_gso_segment(*skb, size_t(skb->network_offset()));
    if (segs.empty()) {
      ++dev->stats.tx_dropped;
      kfree_skb(net_, std::move(skb), DropReason::PKT_TOO_BIG);
      return make_error(Errc::kMsgSize);
    }
    Status s;
    while (!segs.empty())
      if (Status r = dev_xmit_skb(*dev, segs.pop_front()); !r) s = r;
    return s;
  }
  if (skb->ip_summed == CsumState::kPartial && !dev->has_feature(kNetifHwCsum)) skb_checksum_help(*skb);
  return dev_xmit_skb(*dev, std::move(skb));
}

Status DevCore::dev_xmit_skb(NetDevice& dev, SkbPtr skb) {
  Qdisc& q = dev.qdisc();
  if (q.can_bypass()) {
    // The queue would hand the frame straight back: give it to the driver without the round trip
    // (Linux's sch_direct_xmit for a TCQ_F_CAN_BYPASS qdisc). What is sent, counted and traced is the
    // same as through the queue.
    q.bypassed();
    (void)dev_hard_start_xmit(dev, skb);
    if (!in_poll_) dev.ndo_flush();
    return {};
  }
  if (SkbPtr dropped = q.enqueue(std::move(skb))) {
    ++dev.stats.tx_dropped;
    kfree_skb(net_, std::move(dropped), DropReason::QDISC_DROP);
    return make_error(Errc::kNoBufs);
  }
  qdisc_run(dev);
  return {};
}

bool DevCore::dev_hard_start_xmit(NetDevice& dev, SkbPtr& skb) {
  if (dev.capture()) capture(dev, *skb);
  size_t len = skb->len();
  if (net_.trace.on()) {
    net_.trace.emit("dev_hard_start_xmit", "dev=%s driver=%s len=%zu", dev.name().c_str(), dev.driver(), len);
  }
  if (dev.ndo_start_xmit(skb) == XmitResult::kBusy) {
    dev.qdisc().requeue(std::move(skb));
    return false;
  }
  ++dev.stats.tx_packets;
  dev.stats.tx_bytes += len;
  return true;
}

void DevCore::qdisc_run(NetDevice& dev) {
  while (SkbPtr skb = dev.qdisc().dequeue()) {
    if (!dev_hard_start_xmit(dev, skb)) break;
  }
  // Inside a poll round the hand-over waits for the round's end (one per burst of ACK-clocked sends);
  // a send from the application outside one goes at once, for latency.
  if (!in_poll_) dev.ndo_flush();
}

void DevCore::capture(NetDevice& dev, const SkBuff& skb) {
  if (skb.ip_summed != CsumState::kPartial || !skb.has_transport_header() || skb.transport_offset() < 0) {
    dev.capture()->write(skb.bytes(), net_.now());
    return;
  }
  SkbPtr copy = skb.copy();
  skb_checksum_help(*copy);
  dev.capture()->write(copy->bytes(), net_.now());
}

void DevCore::netif_rx(SkbPtr skb, NetDevice& dev) {
  if (backlog_.size() >= backlog_limit_) {
    ++dev.stats.rx_dropped;
    kfree_skb(net_, std::move(skb), DropReason::QDISC_DROP);
    return;
  }
  skb->ifindex = dev.ifindex();
  backlog_.push_back(std::move(skb));
}

// flatten: netif_receive_skb without a call of its own per packet.
[[gnu::flatten]] size_t DevCore::net_rx_action(size_t budget) {
  size_t n = 0;
  while (n < budget && !backlog_.empty()) {
    SkbPtr skb = backlog_.pop_front();
    NetDevice* dev = dev_get_by_index(skb->ifindex);
    netif_receive_skb(std::move(skb), *dev);
    ++n;
  }
  return n;
}

void DevCore::netif_receive_skb(SkbPtr skb, NetDevice& dev) {
  ++dev.stats.rx_packets;
  dev.stats.rx_bytes += skb->len();
  if (dev.capture()) capture(dev, *skb);
  skb->ifindex = dev.ifindex();
  if (!dev.is_up()) {
    kfree_skb(net_, std::move(skb), DropReason::DEV_DOWN);
    return;
  }
  // eth_type_trans: classify by destination MAC, note the EtherType, pull the link header. The fields
  // are read where they lie: a parsed copy of the header (EthHdr) would be built with narrow stores and
  // read back wide, which the CPU cannot forward, once per received frame.
  if (skb->len() < wire::kEthHeaderLen) {
    ++dev.stats.rx_errors;
    kfree_skb(net_, std::move(skb), DropReason::MAC_HEADER);
    return;
  }
  const std::byte* eh = skb->data();
  MacAddr dst = wire::EthHdr::mac_at(eh);
  uint16_t ethertype = wire::load_be16(eh + 12);
  skb->reset_mac_header();
  if (dst.is_broadcast()) {
    skb->pkt_type = PacketType::kBroadcast;
  } else if (dst.is_multicast()) {
    skb->pkt_type = PacketType::kMulticast;
  } else if (std::memcmp(eh, dev.dev_addr().bytes().data(), 6) != 0 && !(dev.flags() & kIffLoopback)) {
    skb->pkt_type = PacketType::kOtherHost;
  } else {
    skb->pkt_type = PacketType::kHost;
  }
  skb->protocol = ethertype;
  (void)skb->pull(wire::kEthHeaderLen);  // the length was checked above
  skb->reset_network_header();
  if (net_.trace.on()) {
    net_.trace.emit("netif_receive_skb", "dev=%s %s > %s type=0x%04x len=%zu", dev.name().c_str(),
                    wire::EthHdr::mac_at(eh + 6).to_string().c_str(), dst.to_string().c_str(), ethertype,
                    skb->len());
  }
  for (auto& [type, handler] : ptypes_) {
    if (type == ethertype) {
      handler(std::move(skb), dev);
      return;
    }
  }
  kfree_skb(net_, std::move(skb), DropReason::UNHANDLED_PROTO);
}

bool DevCore::poll(size_t budget) {
  bool did = false;
  in_poll_ = true;
  for (auto& d : devs_) did |= d->poll(budget) > 0;
  did |= net_rx_action(budget) > 0;
  for (auto& d : devs_) {
    if (d->qdisc().qlen() > 0 && !d->tx_blocked()) {
      size_t before = d->qdisc().qlen();
      qdisc_run(*d);
      did |= d->qdisc().qlen() != before;
    }
    // One hand-over per round for everything this round's input made the stack send.
    d->ndo_flush();
  }
  in_poll_ = false;
  return did;
}

}  // namespace ustack
