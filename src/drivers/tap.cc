#include "drivers/tap.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "dev/dev.h"

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
}  // namespace

Result<std::unique_ptr<TapDevice>> TapDevice::open(const std::string& ifname, MacAddr mac, uint32_t mtu) {
  if (ifname.empty() || ifname.size() >= IFNAMSIZ) return make_error(Errc::kInval);
  int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return make_error(static_cast<Errc>(errno));
  ifreq ifr{};
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  if (::ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int e = errno;
    ::close(fd);
    return make_error(static_cast<Errc>(e));
  }
  set_link_up(ifr.ifr_name);
  return std::unique_ptr<TapDevice>(new TapDevice(fd, ifr.ifr_name, mac, mtu));
}

TapDevice::~TapDevice() { ::close(fd_); }

XmitResult TapDevice::ndo_start_xmit(SkbPtr& skb) {
  ssize_t n = ::write(fd_, skb->data(), skb->len());
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return XmitResult::kBusy;
  if (n < 0 || static_cast<size_t>(n) != skb->len()) ++stats.tx_errors;
  skb.reset();
  return XmitResult::kOk;
}

size_t TapDevice::poll(size_t budget) {
  size_t n = 0;
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

}  // namespace ustack
