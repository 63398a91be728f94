// TapDevice: a Linux TAP interface through /dev/net/tun (created if absent), non-blocking and
// readiness-driven: the event loop watches fd() and calls poll(), which reads frames until the kernel has
// no more or the budget is spent. TAP has no batched write; a frame the kernel refuses (EAGAIN) stays in
// the qdisc and is retried on the next round.
//
// Offloads, as QEMU uses them (IFF_VNET_HDR): every frame carries a virtio-net header, so a TCP segment of
// up to 64 KiB crosses in one read or write with its checksum left to the other side. The kernel cuts
// what we send into MTU-sized segments (or keeps it whole for its own sockets), and hands us the segments
// GRO merged. A system call then moves up to 64 KiB instead of one MTU. Opened without offloads, or on a
// kernel that refuses them, the device reads and writes plain frames.
#pragma once

#include <memory>
#include <string>

#include "dev/net_device.h"
#include "ustack/result.h"

namespace ustack {

class TapDevice final : public NetDevice {
 public:
  // Attaches to `ifname` (IFF_TAP | IFF_NO_PI), creating it if needed, and sets it up. Our side of the
  // link uses `mac`, which must differ from the kernel's side.
  static Result<std::unique_ptr<TapDevice>> open(const std::string& ifname, MacAddr mac, uint32_t mtu = 1500,
                                                 bool offload = true);
  // A descriptor that already speaks the TAP protocol, owned from now on: one opened elsewhere (by a
  // privileged helper that passes it over a UNIX socket, say) or a datagram socket standing in for the
  // kernel. With `vnet_hdr` every frame carries a virtio-net header both ways; `offloads` says whether
  // the other side takes partial checksums and TSO frames (TUN_F_CSUM | TUN_F_TSO4), which open() asks
  // the kernel for itself.
  static std::unique_ptr<TapDevice> attach(int fd, std::string name, MacAddr mac, uint32_t mtu, bool vnet_hdr,
                                           bool offloads);
  ~TapDevice() override;

  XmitResult ndo_start_xmit(SkbPtr& skb) override;
  size_t poll(size_t budget) override;
  int fd() const override { return fd_; }
  bool tx_blocked() const override { return false; }
  const char* driver() const override { return "tap"; }

 private:
  TapDevice(int fd, std::string name, MacAddr mac, uint32_t mtu, bool vnet_hdr);
  // A frame from the kernel with its virtio-net header: into the stack, or dropped and counted.
  void receive(SkbPtr skb, const std::byte* vnet_hdr);

  int fd_;
  bool vnet_hdr_;
  // With offloads, a read may bring up to 64 KiB: it goes into this spare skb, which a large frame
  // keeps and a small one is copied out of.
  SkbPtr spare_;
};

}  // namespace ustack
