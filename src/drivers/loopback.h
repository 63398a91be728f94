// The loopback device (Linux drivers/net/loopback.c): what is sent is received, through the backlog.
#pragma once

#include "dev/net_device.h"

namespace ustack {

class LoopbackDevice final : public NetDevice {
 public:
  // Nothing on the way can corrupt a looped frame: checksums are left undone, as Linux's lo does
  // (NETIF_F_HW_CSUM), and the receive side trusts them.
  LoopbackDevice() : NetDevice("lo", MacAddr{}, 65536, kIffLoopback | kIffNoArp) { features_ = kNetifHwCsum; }
  XmitResult ndo_start_xmit(SkbPtr& skb) override;
  const char* driver() const override { return "loopback"; }
};

}  // namespace ustack
