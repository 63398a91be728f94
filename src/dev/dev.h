// DevCore: one stack's device layer (Linux net/core/dev.c). It owns the devices, the receive backlog and
// the table of packet handlers by EtherType (ptype_base), and moves frames between drivers and the
// protocols:
//
//   transmit: dev_queue_xmit -> qdisc enqueue -> qdisc_run -> dev_hard_start_xmit -> ndo_start_xmit
//   receive:  driver -> netif_rx (backlog) -> net_rx_action -> netif_receive_skb -> handler (ip_rcv,
//             arp_rcv) chosen by EtherType
//
// The backlog decouples a driver's receive from protocol processing, as the kernel's softirq does, so a
// loopback transmit never recurses into the receive path.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <vector>

#include "core/net.h"
#include "dev/net_device.h"
#include "ustack/result.h"

namespace ustack {

class DevCore {
 public:
  // A protocol's receive entry (packet_type.func). It owns the skb: data starts at the network header.
  using PacketHandler = std::function<void(SkbPtr skb, NetDevice& dev)>;

  explicit DevCore(NetCore& net) : net_(net) {}
  DevCore(const DevCore&) = delete;
  DevCore& operator=(const DevCore&) = delete;

  // register_netdevice: assigns the ifindex and brings the device up.
  NetDevice& register_netdevice(std::unique_ptr<NetDevice> dev);
  NetDevice* dev_get_by_index(int ifindex) const;
  NetDevice* dev_get_by_name(std::string_view name) const;
  const std::vector<std::unique_ptr<NetDevice>>& devices() const { return devs_; }

  // dev_add_pack: the handler for one EtherType.
  void dev_add_pack(uint16_t ethertype, PacketHandler h);

  // dev_queue_xmit: the frame is complete, link header included. kNoBufs if the qdisc dropped it.
  Status dev_queue_xmit(SkbPtr skb);
  // netif_rx: a driver hands over a received frame (data at the link header).
  void netif_rx(SkbPtr skb, NetDevice& dev);
  // net_rx_action: process up to `budget` frames from the backlog. Returns how many.
  size_t net_rx_action(size_t budget);
  // netif_receive_skb: deliver one frame now (drivers that already run in the stack's loop may call it).
  void netif_receive_skb(SkbPtr skb, NetDevice& dev);
  // Poll every driver for received frames, then drain the backlog, then retry blocked transmit queues.
  // Returns true if anything was done.
  bool poll(size_t budget = 64);
  bool has_backlog() const { return !backlog_.empty(); }
  // __qdisc_run for one device: feed the driver until it is busy or the queue is empty.
  void qdisc_run(NetDevice& dev);

 private:
  // __dev_xmit_skb: straight to the driver past an empty queue that allows it, else into the qdisc (a
  // packet it refuses is dropped and counted) and the queue run.
  Status dev_xmit_skb(NetDevice& dev, SkbPtr skb);

  // dev_queue_xmit_nit and the receive tap: the frame to the device's capture, its checksum completed
  // if it was left to the device, so that captures read as what the wire carries.
  void capture(NetDevice& dev, const SkBuff& skb);

  // dev_hard_start_xmit: taps, then the driver. False if the driver was busy: the frame went back to the
  // head of the device's queue.
  bool dev_hard_start_xmit(NetDevice& dev, SkbPtr& skb);

  NetCore& net_;
  std::vector<std::unique_ptr<NetDevice>> devs_;
  std::vector<std::pair<uint16_t, PacketHandler>> ptypes_;
  SkbQueue backlog_;
  size_t backlog_limit_ = 1000;  // netdev_max_backlog
  bool in_poll_ = false;         // inside poll(): drivers' deferred transmits are flushed at its end
};

}  // namespace ustack
