// The loopback device (Linux drivers/net/loopback.c): what is sent is received, through the backlog.
#pragma once

#include "dev/net_device.h"

namespace ustack {

class LoopbackDevice final : public NetDevice {
 public:
  LoopbackDevice() : NetDevice("lo", MacAddr{}, 65536, kIffLoopback | kIffNoArp) {}
  XmitResult ndo_start_xmit(SkbPtr& skb) override;
  const char* driver() const override { return "loopback"; }
};

}  // namespace ustack
