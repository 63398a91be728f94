#include "drivers/tap.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>

#include "dev/dev.h"
#include "dev/gso.h"

namespace ustack {

namespace {
// Bring the kernel's side of the interface up, as `ip link set IFNAME up` would.
void set_link_up(const std::string& ifname) {
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return;
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  if (::ioctl(s, SIOCGIFFLAGS, &ifr) == 0 && !(ifr.ifr_flags & IFF_UP)) {
    ifr.ifr_flags |= IFF_UP;
    (void)::ioctl(s, SIOCSIFFLAGS, &ifr);  // best effort: the caller may have done it already
  }
  ::close(s);
}

// struct virtio_net_hdr (virtio spec 5.1.6; <linux/virtio_net.h> does not compile as C++): in the
// host's byte order, which is what a TAP device without TUNSETVNETLE/BE expects on little-endian hosts.
struct VirtioNetHdr {
  uint8_t flags;
  uint8_t gso_type;
  uint16_t hdr_len;  // link, network and transport headers of a GSO frame
  uint16_t gso_size;
  uint16_t csum_start;
  uint16_t csum_offset;
};
static_assert(sizeof(VirtioNetHdr) == 10);
constexpr uint8_t kVirtioNeedsCsum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
constexpr uint8_t kVirtioDataValid = 2;  // VIRTIO_NET_HDR_F_DATA_VALID
constexpr uint8_t kVirtioGsoNone = 0;
constexpr uint8_t kVirtioGsoTcpv4 = 1;
constexpr uint8_t kVirtioGsoEcn = 0x80;
constexpr size_t kVnetHdrLen = sizeof(VirtioNetHdr);
// The largest frame the kernel hands over with TSO on: a 64 KiB IP datagram, its link header and a VLAN
// tag.
constexpr size_t kTsoFrameMax = 65535 + 14 + 4;
// A read lands in a 64 KiB buffer; what is smaller than this is copied into a buffer of its own size
// rather than pinning 64 KiB while it waits in a socket.
constexpr size_t kCopyBelow = 2048;

}  // namespace

Result<std::unique_ptr<TapDevice>> TapDevice::open(const std::string& ifname, MacAddr mac, uint32_t mtu,
                                                   bool offload) {
  if (ifname.empty() || ifname.size() >= IFNAMSIZ) return make_error(Errc::kInval);
  int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return make_error(static_cast<Errc>(errno));
  ifreq ifr{};
  ifr.ifr_flags = static_cast<short>(IFF_TAP | IFF_NO_PI | (offload ? IFF_VNET_HDR : 0));
  std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  if (::ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int e = errno;
    ::close(fd);
    return make_error(static_cast<Errc>(e));
  }
  set_link_up(ifr.ifr_name);
  auto dev = std::unique_ptr<TapDevice>(new TapDevice(fd, ifr.ifr_name, mac, mtu, offload));
  if (!offload) {
    // Offloads set by an earlier user stay on the interface; without the header we could not tell a
    // frame whose checksum the kernel left to us.
    (void)::ioctl(fd, TUNSETOFFLOAD, 0u);
  } else {
    // The header size first, then what we can take: partial checksums and IPv4 TSO. A kernel that
    // refuses still puts the header on every frame; we then send and take only finished frames.
    int hdr_len = static_cast<int>(kVnetHdrLen);
    unsigned int tun_offloads = TUN_F_CSUM | TUN_F_TSO4;
    if (::ioctl(fd, TUNSETVNETHDRSZ, &hdr_len) == 0 && ::ioctl(fd, TUNSETOFFLOAD, tun_offloads) == 0) {
      dev->features_ = kNetifHwCsum | kNetifTso;
      dev->gso_max_size_ = 65535;
    }
  }
  return dev;
}

std::unique_ptr<TapDevice> TapDevice::attach(int fd, std::string name, MacAddr mac, uint32_t mtu,
                                             bool vnet_hdr, bool offloads) {
  auto dev = std::unique_ptr<TapDevice>(new TapDevice(fd, std::move(name), mac, mtu, vnet_hdr));
  if (vnet_hdr && offloads) {
    dev->features_ = kNetifHwCsum | kNetifTso;
    dev->gso_max_size_ = 65535;
  }
  return dev;
}

TapDevice::TapDevice(int fd, std::string name, MacAddr mac, uint32_t mtu, bool vnet_hdr)
    : NetDevice(std::move(name), mac, mtu, kIffBroadcast), fd_(fd), vnet_hdr_(vnet_hdr) {}

TapDevice::~TapDevice() { ::close(fd_); }

XmitResult TapDevice::ndo_start_xmit(SkbPtr& skb) {
  ssize_t n;
  size_t want = skb->len();
  if (vnet_hdr_) {
    // The data starts at the Ethernet header: offsets into the frame are offsets from data().
    VirtioNetHdr h{};
    if (skb->ip_summed == CsumState::kPartial) {
      h.flags = kVirtioNeedsCsum;
      h.csum_start = static_cast<uint16_t>(skb->transport_offset());
      h.csum_offset = skb->csum_offset;
    }
    if (skb->is_gso()) {
      size_t thl = size_t(static_cast<uint8_t>(skb->transport_header()[12]) >> 4) * 4;
      h.gso_type = kVirtioGsoTcpv4;
      h.gso_size = skb->gso_size;
      h.hdr_len = static_cast<uint16_t>(size_t(skb->transport_offset()) + thl);
    }
    iovec iov[2] = {{&h, sizeof h}, {skb->data(), skb->len()}};
    n = ::writev(fd_, iov, 2);
    want += sizeof h;
  } else {
    n = ::write(fd_, skb->data(), skb->len());
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return XmitResult::kBusy;
  if (n < 0 || static_cast<size_t>(n) != want) ++stats.tx_errors;
  skb.reset();
  return XmitResult::kOk;
}

size_t TapDevice::poll(size_t budget) {
  size_t n = 0;
  if (!vnet_hdr_) {
    const size_t frame_max = mtu() + hard_header_len() + 4;  // room for a VLAN tag we will drop anyway
    while (n < budget) {
      SkbPtr skb = SkBuff::alloc(64, frame_max);
      ssize_t r = ::read(fd_, skb->data(), frame_max);
      if (r < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) ++stats.rx_errors;
        break;
      }
      (void)skb->put(static_cast<size_t>(r));
      core()->netif_rx(std::move(skb), *this);
      ++n;
    }
    return n;
  }
  while (n < budget) {
    if (!spare_) spare_ = SkBuff::alloc(64, kTsoFrameMax);
    std::byte hdr[kVnetHdrLen];
    iovec iov[2] = {{hdr, sizeof hdr}, {spare_->data(), kTsoFrameMax}};
    ssize_t r = ::readv(fd_, iov, 2);
    if (r < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) ++stats.rx_errors;
      break;
    }
    ++n;
    if (static_cast<size_t>(r) < sizeof hdr) {
      ++stats.rx_errors;
      continue;
    }
    size_t len = static_cast<size_t>(r) - sizeof hdr;
    SkbPtr skb;
    if (len < kCopyBelow) {
      skb = SkBuff::alloc(64, len);
      (void)skb->put_data({spare_->data(), len});
    } else {
      skb = std::move(spare_);
      (void)skb->put(len);
    }
    receive(std::move(skb), hdr);
  }
  return n;
}

void TapDevice::receive(SkbPtr skb, const std::byte* vnet_hdr) {
  VirtioNetHdr h;
  std::memcpy(&h, vnet_hdr, sizeof h);
  if (h.flags & kVirtioNeedsCsum) {
    // The checksum field holds the pseudo-header sum. Where it is the transport header's own (always,
    // for TCP and UDP over IPv4 without surprises) it stays so, trusted; anywhere else it is completed
    // now, since the layers above find the transport header for themselves.
    size_t start = h.csum_start, off = h.csum_offset;
    if (start + off + 2 > skb->len() || off > 0xff) {
      ++stats.rx_errors;
      return;
    }
    skb->set_transport_header(start);
    skb->csum_offset = static_cast<uint8_t>(off);
    skb->ip_summed = CsumState::kPartial;
    if (start != ipv4_transport_offset(skb->bytes())) skb_checksum_help(*skb);
  } else if (h.flags & kVirtioDataValid) {
    skb->ip_summed = CsumState::kUnnecessary;
  }
  if (h.gso_type != kVirtioGsoNone) {
    // Only what we offered to take (TUN_F_TSO4): IPv4 TCP, ECN or not.
    if ((h.gso_type & ~kVirtioGsoEcn) != kVirtioGsoTcpv4 || !gso_metadata_ok(skb->bytes(), h.gso_size)) {
      ++stats.rx_errors;
      return;
    }
    skb->gso_size = h.gso_size;
  }
  core()->netif_rx(std::move(skb), *this);
}

}  // namespace ustack
