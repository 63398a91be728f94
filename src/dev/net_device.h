// NetDevice: a network interface as Linux's struct net_device sees it. The driver implements transmit
// (ndo_start_xmit) and, if it has something to read, poll(); everything else is the device layer's.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/skbuff.h"
#include "sched/qdisc.h"
#include "ustack/addr.h"

namespace ustack {

class DevCore;
class PcapWriter;

enum DevFlags : uint32_t {
  kIffUp = 1u << 0,
  kIffBroadcast = 1u << 1,
  kIffLoopback = 1u << 3,
  kIffRunning = 1u << 6,
  kIffNoArp = 1u << 7,
};

// What the device does in the frame's place (netdev_features_t). The stack hands such a device packets
// that rely on it; on the way to one that lacks a feature, the device layer does the work in software
// (validate_xmit_skb).
enum NetifFeatures : uint32_t {
  kNetifHwCsum = 1u << 0,  // completes a CHECKSUM_PARTIAL transport checksum (NETIF_F_HW_CSUM)
  kNetifTso = 1u << 1,     // carries TCP segments larger than the MTU, cut at gso_size (NETIF_F_TSO)
};

struct DevStats {
  uint64_t rx_packets = 0, rx_bytes = 0, rx_errors = 0, rx_dropped = 0;
  uint64_t tx_packets = 0, tx_bytes = 0, tx_errors = 0, tx_dropped = 0;
};

enum class XmitResult { kOk, kBusy };

class NetDevice {
 public:
  NetDevice(std::string name, MacAddr addr, uint32_t mtu, uint32_t flags)
      : name_(std::move(name)), dev_addr_(addr), mtu_(mtu), flags_(flags) {}
  virtual ~NetDevice() = default;
  NetDevice(const NetDevice&) = delete;
  NetDevice& operator=(const NetDevice&) = delete;

  // ndo_start_xmit: kOk takes the frame (sent or dropped by the driver, which counts it); kBusy leaves it
  // with the caller, which requeues it and tries again when the driver can take more.
  virtual XmitResult ndo_start_xmit(SkbPtr& skb) = 0;
  // The end of a batch of ndo_start_xmit calls: a driver that defers handing frames to the hardware
  // (Linux's xmit_more) hands them over now. The device layer calls it once at the end of a poll round
  // for everything the round's input made the stack send, and after each transmit outside a round.
  virtual void ndo_flush() {}
  // Receive up to `budget` frames into the stack (NAPI poll). Returns how many were taken.
  virtual size_t poll(size_t /*budget*/) { return 0; }
  // A file descriptor that becomes readable when poll() has work, or -1.
  virtual int fd() const { return -1; }
  // True while the driver holds back frames that it will take later (the qdisc must be retried).
  virtual bool tx_blocked() const { return false; }
  virtual const char* driver() const = 0;

  const std::string& name() const { return name_; }
  int ifindex() const { return ifindex_; }
  const MacAddr& dev_addr() const { return dev_addr_; }
  uint32_t mtu() const { return mtu_; }
  void set_mtu(uint32_t mtu) { mtu_ = mtu; }
  uint32_t flags() const { return flags_; }
  uint32_t features() const { return features_; }
  bool has_feature(NetifFeatures f) const { return (features_ & f) != 0; }
  // The largest TCP segment (IP header and all) the device takes as one TSO frame (gso_max_size).
  uint32_t gso_max_size() const { return gso_max_size_; }
  bool is_up() const { return (flags_ & kIffUp) != 0; }
  void set_up(bool up) { flags_ = up ? (flags_ | kIffUp | kIffRunning) : (flags_ & ~(kIffUp | kIffRunning)); }
  // Link-layer header bytes that transmit needs in front of the network header.
  uint16_t hard_header_len() const { return 14; }
  uint16_t needed_headroom() const { return needed_headroom_; }
  // The headroom a layer above should reserve: link header plus the driver's own, rounded as
  // LL_RESERVED_SPACE does.
  size_t ll_reserved_space() const { return (hard_header_len() + needed_headroom_ + 15u) & ~15u; }

  DevStats stats;
  Qdisc& qdisc() { return *qdisc_; }
  void set_qdisc(std::unique_ptr<Qdisc> q) { qdisc_ = std::move(q); }
  void set_tx_queue_len(size_t n) { qdisc_->set_limit(n); }
  // Capture every frame sent and received on this device (AF_PACKET taps, dev_queue_xmit_nit).
  void set_capture(std::shared_ptr<PcapWriter> w) { capture_ = std::move(w); }
  PcapWriter* capture() const { return capture_.get(); }
  DevCore* core() const { return core_; }

 protected:
  uint16_t needed_headroom_ = 0;
  uint32_t features_ = 0;
  uint32_t gso_max_size_ = 65535;

 private:
  friend class DevCore;
  std::string name_;
  MacAddr dev_addr_;
  uint32_t mtu_;
  uint32_t flags_;
  int ifindex_ = 0;
  DevCore* core_ = nullptr;
  std::unique_ptr<Qdisc> qdisc_ = std::make_unique<PfifoFast>();
  std::shared_ptr<PcapWriter> capture_;
};

}  // namespace ustack
