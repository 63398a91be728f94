#include "drivers/loopback.h"

#include "dev/dev.h"

namespace ustack {

XmitResult LoopbackDevice::ndo_start_xmit(SkbPtr& skb) {
  core()->netif_rx(std::move(skb), *this);
  return XmitResult::kOk;
}

}  // namespace ustack
