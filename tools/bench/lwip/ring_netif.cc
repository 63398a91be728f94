#include "ring_netif.h"

#include <time.h>

#include <cstring>

#include "lwip/etharp.h"
#include "lwip/ip4_addr.h"
#include "lwip/pbuf.h"
#include "netif/ethernet.h"

namespace ustack::bench::lwip {

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

Impairment::Impairment(double loss_pct, uint32_t delay_us, uint64_t seed)
    : delay_ns_(uint64_t(delay_us) * 1000u), state_(seed | 1) {
  if (loss_pct >= 100) {
    loss_ = ~uint64_t{0};
  } else if (loss_pct > 0) {
    loss_ = uint64_t(loss_pct / 100.0 * 18446744073709551616.0);
  }
}

bool Impairment::drop() {
  ++frames_;
  if (loss_ == 0) return false;
  // xorshift64*: cheap, and seeded so that a run's loss pattern repeats.
  state_ ^= state_ >> 12;
  state_ ^= state_ << 25;
  state_ ^= state_ >> 27;
  bool lost = state_ * 0x2545F4914F6CDD1Dull < loss_;
  dropped_ += lost;
  return lost;
}

void DelayLine::hold(uint64_t due_ns, const std::byte* data, size_t len) {
  q_.push_back(Frame{due_ns, std::vector<std::byte>(data, data + len)});
}

bool RingNetif::attach(const RingNetifConfig& cfg) {
  cfg_ = cfg;
  scratch_.resize(cfg_.tx->frame_max());
  ip4_addr_t addr, mask, gw;
  IP4_ADDR(&addr, cfg_.addr[0], cfg_.addr[1], cfg_.addr[2], cfg_.addr[3]);
  uint32_t m = cfg_.prefix_len == 0 ? 0 : ~uint32_t{0} << (32 - cfg_.prefix_len);
  mask.addr = lwip_htonl(m);
  ip4_addr_set_zero(&gw);
  if (!netif_add(&nif_, &addr, &mask, &gw, this, &RingNetif::init_cb, ethernet_input)) return false;
  netif_set_default(&nif_);
  netif_set_up(&nif_);
  netif_set_link_up(&nif_);
  return true;
}

err_t RingNetif::init_cb(struct netif* nif) {
  auto* self = static_cast<RingNetif*>(nif->state);
  nif->name[0] = 'r';
  nif->name[1] = 'g';
  nif->hwaddr_len = ETH_HWADDR_LEN;
  std::memcpy(nif->hwaddr, self->cfg_.mac.data(), ETH_HWADDR_LEN);
  // netif->mtu is 16 bits; 65535 is the largest the benchmark asks for.
  nif->mtu = static_cast<u16_t>(self->cfg_.mtu > 65535 ? 65535 : self->cfg_.mtu);
  nif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_LINK_UP;
  nif->output = etharp_output;
  nif->linkoutput = &RingNetif::linkoutput_cb;
  return ERR_OK;
}

bool RingNetif::push_tx(const std::byte* data, size_t len, bool wait) {
  std::byte* slot = cfg_.tx->reserve();
  if (!slot && wait) {
    // lwIP has no transmit queue below IP, so a full ring would lose the frame. The far side drains
    // the ring continuously; give it up to a millisecond before counting a drop.
    uint64_t deadline = now_ns() + 1000000;
    while (!(slot = cfg_.tx->reserve()) && now_ns() < deadline) {
    }
  }
  if (!slot) return false;
  std::memcpy(slot, data, len);
  cfg_.tx->commit(static_cast<uint32_t>(len));
  return true;
}

err_t RingNetif::linkoutput_cb(struct netif* nif, struct pbuf* p) {
  auto* self = static_cast<RingNetif*>(nif->state);
  FrameRing& tx = *self->cfg_.tx;
  if (p->tot_len > tx.frame_max()) return ERR_IF;
  Impairment& imp = self->cfg_.tx_impair;
  if (imp.active()) {
    if (imp.drop()) return ERR_OK;
    if (imp.delay_ns() != 0) {
      pbuf_copy_partial(p, self->scratch_.data(), p->tot_len, 0);
      self->tx_delay_.hold(now_ns() + imp.delay_ns(), self->scratch_.data(), p->tot_len);
      return ERR_OK;
    }
  }
  std::byte* slot = tx.reserve();
  if (slot && !self->tx_delay_.empty()) slot = nullptr;  // keep order behind delayed frames
  if (slot) {
    pbuf_copy_partial(p, slot, p->tot_len, 0);
    tx.commit(p->tot_len);
    return ERR_OK;
  }
  pbuf_copy_partial(p, self->scratch_.data(), p->tot_len, 0);
  if (!self->push_tx(self->scratch_.data(), p->tot_len, true)) ++self->tx_full_drops_;
  return ERR_OK;
}

void RingNetif::input(const std::byte* data, size_t len) {
  struct pbuf* p = pbuf_alloc(PBUF_RAW, static_cast<u16_t>(len), PBUF_RAM);
  if (!p) return;
  std::memcpy(p->payload, data, len);
  if (nif_.input(p, &nif_) != ERR_OK) pbuf_free(p);
}

size_t RingNetif::poll(size_t budget) {
  size_t n = 0;
  if (!tx_delay_.empty() || !rx_delay_.empty()) {
    uint64_t now = now_ns();
    n += tx_delay_.release(now, [this](const std::byte* d, size_t len) { return push_tx(d, len, false); });
    n += rx_delay_.release(now, [this](const std::byte* d, size_t len) {
      input(d, len);
      return true;
    });
  }
  Impairment& imp = cfg_.rx_impair;
  if (!imp.active()) {
    return n + cfg_.rx->consume(budget, [this](std::span<const std::byte> f) { input(f.data(), f.size()); });
  }
  return n + cfg_.rx->consume(budget, [this, &imp](std::span<const std::byte> f) {
    if (imp.drop()) return;
    if (imp.delay_ns() != 0) {
      rx_delay_.hold(now_ns() + imp.delay_ns(), f.data(), f.size());
    } else {
      input(f.data(), f.size());
    }
  });
}

}  // namespace ustack::bench::lwip
