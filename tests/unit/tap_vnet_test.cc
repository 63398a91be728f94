// The TAP driver's virtio-net header (IFF_VNET_HDR) both ways, without root: the device is attached to
// one end of a datagram socket pair, and the test plays the kernel at the other, one frame per datagram.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <vector>

#include "core/checksum.h"
#include "drivers/tap.h"
#include "socket/socket.h"
#include "stack/stack.h"
#include "wire/ethernet.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"

namespace ustack {
namespace {

using namespace wire;

const Ipv4Addr kUs(198, 18, 7, 2);
const Ipv4Addr kPeer(198, 18, 7, 1);
const Ipv4Addr kFar(198, 19, 7, 9);  // beyond the peer: forwarded back out through it
const MacAddr kUsMac{{0x02, 0, 0, 0, 7, 2}};
const MacAddr kPeerMac{{0x02, 0, 0, 0, 7, 1}};
constexpr uint16_t kPort = 7;

struct VnetHdr {
  uint8_t flags = 0;     // 1: NEEDS_CSUM
  uint8_t gso_type = 0;  // 1: TCPV4
  uint16_t hdr_len = 0, gso_size = 0, csum_start = 0, csum_offset = 0;
};
static_assert(sizeof(VnetHdr) == 10);

// The header of a frame whose TCP checksum the kernel left partial (NEEDS_CSUM at the TCP checksum).
VnetHdr partial_csum_hdr() {
  VnetHdr h;
  h.flags = 1;
  h.csum_start = kEthHeaderLen + kIpv4HeaderLen;
  h.csum_offset = 16;
  return h;
}

// The header of a GRO'd TCP frame of `gso_size`-byte segments, its checksum partial.
VnetHdr gro_hdr(uint16_t gso_size) {
  VnetHdr h = partial_csum_hdr();
  h.gso_type = 1;
  h.gso_size = gso_size;
  h.hdr_len = kEthHeaderLen + kIpv4HeaderLen + kTcpHeaderLen;
  return h;
}

// An Ethernet + IPv4 + TCP frame from the peer; its checksum field holds the pseudo-header sum only (the
// kernel leaves the rest to us, CHECKSUM_PARTIAL).
std::vector<std::byte> tcp_frame(Ipv4Addr dst, uint8_t flags, uint32_t seq, size_t payload) {
  size_t tcplen = kTcpHeaderLen + payload;
  std::vector<std::byte> f(kEthHeaderLen + kIpv4HeaderLen + tcplen);
  EthHdr{kUsMac, kPeerMac, kEthPIp}.emit(f.data());
  Ipv4Hdr ip;
  ip.tot_len = static_cast<uint16_t>(kIpv4HeaderLen + tcplen);
  ip.protocol = kIpProtoTcp;
  ip.saddr = kPeer;
  ip.daddr = dst;
  ip.frag_off = kIpDf;
  ip.id = 77;
  ip.emit(f.data() + kEthHeaderLen);
  std::byte* t = f.data() + kEthHeaderLen + kIpv4HeaderLen;
  TcpHdr th;
  th.source = 40000;
  th.dest = kPort;
  th.seq = seq;
  th.doff = 5;
  th.flags = flags;
  th.window = 65535;
  th.emit(t);
  for (size_t i = 0; i < payload; ++i) t[kTcpHeaderLen + i] = std::byte(uint8_t(i * 3));
  store_be16(t + 16,
             static_cast<uint16_t>(~csum_fold(csum_pseudo(kPeer, dst, kIpProtoTcp, uint32_t(tcplen), 0))));
  return f;
}

// Whether a frame's TCP checksum is complete and right.
bool tcp_csum_ok(std::span<const std::byte> f) {
  auto ip = Ipv4Hdr::parse(f.subspan(kEthHeaderLen));
  if (!ip) return false;
  auto tcp = f.subspan(kEthHeaderLen + ip->header_len(), ip->tot_len - ip->header_len());
  return csum_fold(csum_pseudo(ip->saddr, ip->daddr, kIpProtoTcp, uint32_t(tcp.size()),
                               csum_partial(tcp.data(), tcp.size(), 0))) == 0;
}

class TapVnet : public ::testing::Test {
 protected:
  void make(bool offloads) {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    kernel_ = sv[1];
    dev_ = &stack_.add_device(TapDevice::attach(sv[0], "vt0", kUsMac, 1500, true, offloads));
    ASSERT_TRUE(stack_.add_address(*dev_, Ipv4Cidr{kUs, 24}));
    ASSERT_TRUE(stack_.add_default_route(kPeer, *dev_));
    stack_.arp().tbl().neigh_add_permanent(kPeer, *dev_, kPeerMac);
    settle();
    while (read_frame()) {
    }  // the gratuitous ARP
  }
  ~TapVnet() override {
    if (kernel_ >= 0) ::close(kernel_);
  }
  void settle() {
    for (int i = 0; i < 100 && stack_.poll(); ++i) {
    }
  }
  void write_frame(const VnetHdr& h, const std::vector<std::byte>& frame) {
    std::vector<std::byte> d(sizeof h + frame.size());
    std::memcpy(d.data(), &h, sizeof h);
    std::memcpy(d.data() + sizeof h, frame.data(), frame.size());
    ASSERT_EQ(::send(kernel_, d.data(), d.size(), 0), ssize_t(d.size()));
    settle();
  }
  struct Sent {
    VnetHdr h;
    std::vector<std::byte> frame;
  };
  std::optional<Sent> read_frame() {
    std::vector<std::byte> d(70000);
    ssize_t n = ::recv(kernel_, d.data(), d.size(), MSG_DONTWAIT);
    if (n < ssize_t(sizeof(VnetHdr))) return std::nullopt;
    Sent s;
    std::memcpy(&s.h, d.data(), sizeof s.h);
    s.frame.assign(d.begin() + sizeof s.h, d.begin() + n);
    return s;
  }

  VirtualClock clock_;
  Stack stack_{clock_, StackConfig{"vnet", 1}};
  NetDevice* dev_ = nullptr;
  int kernel_ = -1;
};

// Frames whose checksum the kernel left partial are taken as they are; the data we send leaves its
// checksum to the kernel (NEEDS_CSUM with where to put it), and is right once the kernel completes it.
TEST_F(TapVnet, PartialChecksumsBothWays) {
  make(true);
  SocketApi& api = stack_.sockets();
  int l = *api.socket(kAfInet, kSockStream | kSockNonblock);
  ASSERT_TRUE(api.bind(l, SockAddrIn{Ipv4Addr::any(), kPort}));
  ASSERT_TRUE(api.listen(l, 4));
  const VnetHdr partial = partial_csum_hdr();
  // What the kernel does with a frame we sent: sum from csum_start, store at csum_offset.
  auto complete = [](Sent& s) {
    if (!(s.h.flags & 1)) return;
    std::byte* t = s.frame.data() + s.h.csum_start;
    store_be16(t + s.h.csum_offset, csum_fold(csum_partial(t, s.frame.size() - s.h.csum_start, 0)));
  };
  auto tcp_of = [](const Sent& s) {
    return TcpHdr::parse(std::span<const std::byte>(s.frame).subspan(kEthHeaderLen + kIpv4HeaderLen));
  };
  write_frame(partial, tcp_frame(kUs, kTcpSyn, 1000, 0));
  auto synack = read_frame();
  ASSERT_TRUE(synack);
  complete(*synack);
  EXPECT_TRUE(tcp_csum_ok(synack->frame));
  auto sa = tcp_of(*synack);
  ASSERT_TRUE(sa);
  EXPECT_EQ(sa->flags, kTcpSyn | kTcpAck);
  EXPECT_EQ(sa->ack_seq, 1001u);
  auto ack = tcp_frame(kUs, kTcpAck, 1001, 0);
  store_be32(ack.data() + kEthHeaderLen + kIpv4HeaderLen + 8, sa->seq + 1);
  write_frame(partial, ack);
  auto c = api.accept(l, nullptr, kSockNonblock);
  ASSERT_TRUE(c);
  const char hi[] = "hello";
  ASSERT_TRUE(api.send(*c, std::as_bytes(std::span(hi, 5))));
  settle();
  auto data = read_frame();
  ASSERT_TRUE(data);
  EXPECT_EQ(data->h.flags, 1);  // NEEDS_CSUM
  EXPECT_EQ(data->h.csum_start, kEthHeaderLen + kIpv4HeaderLen);
  EXPECT_EQ(data->h.csum_offset, 16);
  EXPECT_EQ(data->h.gso_type, 0);
  EXPECT_FALSE(tcp_csum_ok(data->frame));  // not until the kernel completes it
  complete(*data);
  EXPECT_TRUE(tcp_csum_ok(data->frame));
  auto th = tcp_of(*data);
  ASSERT_TRUE(th);
  EXPECT_EQ(th->seq, sa->seq + 1);
  EXPECT_EQ(std::memcmp(data->frame.data() + data->frame.size() - 5, hi, 5), 0);
  EXPECT_EQ(dev_->stats.rx_errors, 0u);
}

// GSO metadata is believed only on an IPv4 TCP frame with its whole header (SKB_GSO_DODGY's checks):
// anything else claiming to be a TSO frame is dropped and counted, never forwarded as one.
TEST_F(TapVnet, GsoMetadataOnAFrameThatIsNotTcpIsDropped) {
  make(true);
  stack_.ipv4().sysctl().ip_forward = true;
  std::vector<std::byte> f = tcp_frame(kFar, kTcpAck, 1, 0);
  f[kEthHeaderLen + 9] = std::byte{kIpProtoUdp};  // the header checksum is not checked (data valid)
  f.resize(kEthHeaderLen + kIpv4HeaderLen + 8);
  store_be16(f.data() + kEthHeaderLen + 2, kIpv4HeaderLen + 8);
  VnetHdr h;
  h.gso_type = 1;
  h.gso_size = 100;
  write_frame(h, f);
  EXPECT_EQ(dev_->stats.rx_errors, 1u);
  EXPECT_FALSE(read_frame());
  EXPECT_EQ(stack_.net().mib.get(Mib::IpForwDatagrams), 0u);
}

// A segment size TCP would never choose (below 48 bytes) on an otherwise good TCP frame: dropped and
// counted, rather than cut into thousands of segments.
TEST_F(TapVnet, GsoSizeBelowTcpsMinimumIsDropped) {
  make(false);
  stack_.ipv4().sysctl().ip_forward = true;
  VnetHdr h;
  h.gso_type = 1;
  h.gso_size = 1;
  write_frame(h, tcp_frame(kFar, kTcpAck, 5000, 3000));
  EXPECT_EQ(dev_->stats.rx_errors, 1u);
  EXPECT_FALSE(read_frame());
  h.gso_size = 48;  // the smallest TCP sends: 63 segments
  write_frame(h, tcp_frame(kFar, kTcpAck, 5000, 3000));
  EXPECT_EQ(dev_->stats.rx_errors, 1u);
  size_t segs = 0;
  while (auto s = read_frame()) ++segs;
  EXPECT_EQ(segs, 63u);
}

// A GRO'd frame of three segments forwarded to a device without offloads leaves as three checksummed
// MTU-sized frames; to one with TSO, whole, with the GSO metadata rebuilt.
TEST_F(TapVnet, ForwardedGroFrameIsSegmentedInSoftwareWhereTheDeviceCannot) {
  make(false);
  stack_.ipv4().sysctl().ip_forward = true;
  write_frame(gro_hdr(1000), tcp_frame(kFar, kTcpAck | kTcpPsh, 5000, 3000));
  EXPECT_EQ(dev_->stats.rx_errors, 0u);
  for (uint32_t i = 0; i < 3; ++i) {
    auto s = read_frame();
    ASSERT_TRUE(s) << i;
    EXPECT_EQ(s->h.flags, 0);
    EXPECT_EQ(s->h.gso_type, 0);
    EXPECT_EQ(s->frame.size(), kEthHeaderLen + kIpv4HeaderLen + kTcpHeaderLen + 1000);
    EXPECT_TRUE(tcp_csum_ok(s->frame)) << i;
    auto th = TcpHdr::parse(std::span<const std::byte>(s->frame).subspan(kEthHeaderLen + kIpv4HeaderLen));
    ASSERT_TRUE(th);
    EXPECT_EQ(th->seq, 5000 + 1000 * i);
    EXPECT_EQ((th->flags & kTcpPsh) != 0, i == 2);  // PSH on the last segment only
  }
  EXPECT_FALSE(read_frame());
}

TEST_F(TapVnet, ForwardedGroFrameStaysWholeToATsoDevice) {
  make(true);
  stack_.ipv4().sysctl().ip_forward = true;
  write_frame(gro_hdr(1000), tcp_frame(kFar, kTcpAck | kTcpPsh, 5000, 3000));
  auto s = read_frame();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->h.gso_type, 1);
  EXPECT_EQ(s->h.gso_size, 1000);
  EXPECT_EQ(s->h.hdr_len, kEthHeaderLen + kIpv4HeaderLen + kTcpHeaderLen);
  EXPECT_EQ(s->h.flags, 1);
  EXPECT_EQ(s->frame.size(), kEthHeaderLen + kIpv4HeaderLen + kTcpHeaderLen + 3000);
  EXPECT_FALSE(read_frame());
}

}  // namespace
}  // namespace ustack
