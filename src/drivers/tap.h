// TapDevice: a Linux TAP interface through /dev/net/tun (created if absent), non-blocking and
// readiness-driven: the event loop watches fd() and calls poll(), which reads frames until the kernel has
// no more or the budget is spent. TAP has no batched write; a frame the kernel refuses (EAGAIN) stays in
// the qdisc and is retried on the next round.
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
  static Result<std::unique_ptr<TapDevice>> open(const std::string& ifname, MacAddr mac, uint32_t mtu = 1500);
  ~TapDevice() override;

  XmitResult ndo_start_xmit(SkbPtr& skb) override;
  size_t poll(size_t budget) override;
  int fd() const override { return fd_; }
  bool tx_blocked() const override { return false; }
  const char* driver() const override { return "tap"; }

 private:
  TapDevice(int fd, std::string name, MacAddr mac, uint32_t mtu)
      : NetDevice(std::move(name), mac, mtu, kIffBroadcast), fd_(fd) {}
  int fd_;
};

}  // namespace ustack
