// Writes the seed corpus of fuzz_rx (the format is in fuzz_rx.h): a few valid frames a peer at
// 198.18.0.1 would send to the stack under test, alone and in sequences. The seeds in fuzz/corpus/rx are
// its output:  make_corpus fuzz/corpus/rx
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/checksum.h"
#include "fuzz_rx.h"

namespace {

using namespace ustack;
using namespace ustack::fuzz;
using Bytes = std::vector<uint8_t>;

void put16(Bytes& b, uint16_t v) {
  b.push_back(uint8_t(v >> 8));
  b.push_back(uint8_t(v));
}
void put32(Bytes& b, uint32_t v) {
  put16(b, uint16_t(v >> 16));
  put16(b, uint16_t(v));
}
void put_mac(Bytes& b, const MacAddr& m) { b.insert(b.end(), m.bytes().begin(), m.bytes().end()); }
void append(Bytes& b, const Bytes& more) { b.insert(b.end(), more.begin(), more.end()); }
uint16_t csum(const Bytes& b, uint32_t sum = 0) { return csum_fold(csum_partial(b.data(), b.size(), sum)); }
void store16(Bytes& b, size_t at, uint16_t v) {
  b[at] = uint8_t(v >> 8);
  b[at + 1] = uint8_t(v);
}

Bytes eth(const MacAddr& dst, uint16_t type, const Bytes& payload) {
  Bytes f;
  put_mac(f, dst);
  put_mac(f, kPeerMac);
  put16(f, type);
  append(f, payload);
  while (f.size() < 60) f.push_back(0);  // Ethernet padding, as a real peer sends it
  return f;
}

Bytes arp(uint16_t op, const MacAddr& tha, Ipv4Addr tpa) {
  Bytes a;
  put16(a, 1);
  put16(a, 0x0800);
  a.push_back(6);
  a.push_back(4);
  put16(a, op);
  put_mac(a, kPeerMac);
  put32(a, kPeerAddr.to_u32());
  put_mac(a, tha);
  put32(a, tpa.to_u32());
  return eth(op == 1 ? MacAddr::broadcast() : kDevMac, 0x0806, a);
}

// An IPv4 packet; `frag_off` as on the wire (flags and 8-byte units). `options` must be a multiple of 4.
Bytes ipv4(uint8_t proto, const Bytes& payload, uint16_t id = 1, uint16_t frag_off = 0,
           const Bytes& options = {}, Ipv4Addr src = kPeerAddr, Ipv4Addr dst = kOurAddr) {
  Bytes h;
  h.push_back(uint8_t(0x40 | (5 + options.size() / 4)));
  h.push_back(0);
  put16(h, uint16_t(20 + options.size() + payload.size()));
  put16(h, id);
  put16(h, frag_off);
  h.push_back(64);
  h.push_back(proto);
  put16(h, 0);
  put32(h, src.to_u32());
  put32(h, dst.to_u32());
  append(h, options);
  store16(h, 10, csum(h));
  append(h, payload);
  return h;
}

Bytes udp(uint16_t sport, uint16_t dport, const Bytes& data, Ipv4Addr src = kPeerAddr,
          Ipv4Addr dst = kOurAddr) {
  Bytes u;
  put16(u, sport);
  put16(u, dport);
  put16(u, uint16_t(8 + data.size()));
  put16(u, 0);
  append(u, data);
  uint16_t c = csum(u, csum_pseudo(src, dst, 17, uint32_t(u.size()), 0));
  store16(u, 6, c == 0 ? 0xffff : c);
  return u;
}

// A TCP segment; flags as in the header (0x02 SYN, 0x10 ACK, 0x18 PSH|ACK, 0x11 FIN|ACK, 0x04 RST).
Bytes tcp(uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags, const Bytes& options,
          const Bytes& data) {
  Bytes t;
  put16(t, sport);
  put16(t, dport);
  put32(t, seq);
  put32(t, ack);
  t.push_back(uint8_t(((20 + options.size()) / 4) << 4));
  t.push_back(flags);
  put16(t, 64240);
  put16(t, 0);
  put16(t, 0);
  append(t, options);
  append(t, data);
  store16(t, 16, csum(t, csum_pseudo(kPeerAddr, kOurAddr, 6, uint32_t(t.size()), 0)));
  return t;
}

Bytes icmp(uint8_t type, uint8_t code, uint32_t rest, const Bytes& data) {
  Bytes m;
  m.push_back(type);
  m.push_back(code);
  put16(m, 0);
  put32(m, rest);
  append(m, data);
  store16(m, 2, csum(m));
  return m;
}

Bytes pattern(size_t n, uint8_t seed) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = uint8_t(seed + i);
  return b;
}

Bytes ip_frame(const Bytes& packet) { return eth(kDevMac, 0x0800, packet); }

// struct virtio_net_hdr in host (little-endian) byte order, in front of a frame for a kVnet input.
struct Vnet {
  uint8_t flags = 0;     // 1: NEEDS_CSUM
  uint8_t gso_type = 0;  // 1: TCPV4
  uint16_t hdr_len = 0, gso_size = 0, csum_start = 0, csum_offset = 0;
};
Bytes vnet(const Vnet& v, const Bytes& frame) {
  Bytes b{v.flags, v.gso_type};
  for (uint16_t x : {v.hdr_len, v.gso_size, v.csum_start, v.csum_offset}) {
    b.push_back(uint8_t(x));
    b.push_back(uint8_t(x >> 8));
  }
  append(b, frame);
  return b;
}
// An IPv4 TCP frame whose checksum is left to the receiver (CHECKSUM_PARTIAL): the field holds the
// pseudo-header sum, and the header says where it is.
Bytes tcp_partial_frame(Ipv4Addr dst, uint16_t dport, uint32_t seq, uint8_t flags, const Bytes& options,
                        const Bytes& data, Vnet v) {
  Bytes t = tcp(40030, dport, seq, 0, flags, options, data);
  store16(t, 16, uint16_t(~csum_fold(csum_pseudo(kPeerAddr, dst, 6, uint32_t(t.size()), 0))));
  v.flags |= 1;
  v.csum_start = 14 + 20;
  v.csum_offset = 16;
  return vnet(v, ip_frame(ipv4(6, t, 21, 0x4000, {}, kPeerAddr, dst)));
}

// Inputs: one frame, or a sequence of (delay, frame).
Bytes single(const Bytes& frame, uint8_t flags = 0) {
  Bytes in{flags};
  append(in, frame);
  return in;
}
struct Step {
  uint8_t delay;
  Bytes frame;
};
Bytes multi(const std::vector<Step>& steps, uint8_t flags = 0) {
  Bytes in{uint8_t(kMulti | flags)};
  for (auto& s : steps) {
    put16(in, uint16_t(s.frame.size()));
    in.push_back(s.delay);
    append(in, s.frame);
  }
  return in;
}

// Fragments of one datagram (`payload` after the IP header), `chunk` bytes each (a multiple of 8).
std::vector<Bytes> fragments(uint8_t proto, const Bytes& payload, uint16_t id, size_t chunk) {
  std::vector<Bytes> out;
  for (size_t off = 0; off < payload.size(); off += chunk) {
    size_t n = std::min(chunk, payload.size() - off);
    bool more = off + n < payload.size();
    Bytes part(payload.begin() + long(off), payload.begin() + long(off + n));
    out.push_back(ip_frame(ipv4(proto, part, id, uint16_t((more ? 0x2000 : 0) | (off / 8)))));
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  std::string dir = argv[1];
  int written = 0;
  auto write = [&](const char* name, const Bytes& b) {
    std::string path = dir + "/" + name;
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f || std::fwrite(b.data(), 1, b.size(), f) != b.size() || std::fclose(f) != 0) {
      std::perror(path.c_str());
      std::exit(1);
    }
    ++written;
  };
  // The peer asks for us first, which gives the stack its neighbour entry (an unsolicited reply would
  // not, as in Linux), so the replies below go out rather than wait for ARP.
  const Bytes arp_request = arp(1, MacAddr{}, kOurAddr);

  write("arp_request", single(arp_request));
  write("arp_reply", single(arp(2, kDevMac, kOurAddr)));
  write("icmp_echo", single(ip_frame(ipv4(1, icmp(8, 0, 0x12340001, pattern(56, 1))))));
  write("udp_echo", single(ip_frame(ipv4(17, udp(40000, kEchoPort, pattern(32, 7))))));
  write("udp_closed_port", single(ip_frame(ipv4(17, udp(40000, 9, pattern(16, 3))))));
  write("ip_options", single(ip_frame(ipv4(1, icmp(8, 0, 0x12340002, pattern(8, 0)), 7, 0, {1, 1, 1, 0}))));

  // A datagram of 2000 bytes to the echo port in two fragments: the first alone, then both (the echo
  // goes out fragmented, to the peer the ARP request made known).
  const Bytes big = udp(40001, kEchoPort, pattern(1992, 9));
  auto two = fragments(17, big, 0x4242, 1480);
  write("ip_fragment", single(two[0]));
  write("ip_fragments_udp", multi({{0, arp_request}, {1, two[0]}, {1, two[1]}}));
  // Out of order, with an exact duplicate, for an ICMP echo of 3000 bytes.
  auto three = fragments(1, icmp(8, 0, 0x12340003, pattern(2992, 5)), 0x4343, 1024);
  write("ip_fragments_reordered",
        multi({{0, arp_request}, {0, three[2]}, {0, three[0]}, {0, three[0]}, {5, three[1]}}));
  // The first fragment alone, then 31 s: reassembly times out (ICMP time exceeded).
  write("ip_fragment_timeout", multi({{0, arp_request}, {0, two[0]}, {128 + 31, Bytes{}}}, kDrain));
  // An echo request from a peer that never answers ARP: the reply waits, ARP retries, then gives up.
  write("icmp_echo_unresolved",
        single(ip_frame(ipv4(1, icmp(8, 0, 0x12340004, pattern(56, 2)))), kDrain | kTrace));
  // An ICMP port unreachable quoting a datagram from our echo port (the error path to the socket).
  Bytes quoted =
      ipv4(17, udp(kEchoPort, 40002, pattern(8, 4), kOurAddr, kPeerAddr), 9, 0, {}, kOurAddr, kPeerAddr);
  quoted.resize(28);
  write("icmp_port_unreachable", single(ip_frame(ipv4(1, icmp(3, 3, 0, quoted)))));
  // ICMP frag needed (path MTU 576) for the same, then a large datagram whose echo must honour it.
  write("icmp_frag_needed",
        multi({{0, arp_request}, {0, ip_frame(ipv4(1, icmp(3, 4, 576, quoted)))}, {0, two[0]}, {0, two[1]}}));
  // TCP to the echo port: a SYN with the options Linux sends (MSS, SACK permitted, timestamps, window
  // scale), and a SYN to a closed port (RST).
  const Bytes syn_opts{2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7};
  write("tcp_syn", single(ip_frame(ipv4(6, tcp(40010, kEchoPort, 1000, 0, 0x02, syn_opts, {})))));
  write("tcp_syn_closed_port", single(ip_frame(ipv4(6, tcp(40011, 9, 1000, 0, 0x02, syn_opts, {})))));
  // A whole session with the echo server: handshake, "hello", FIN, then time runs out. The ACKs acknowledge
  // the SYN-ACK of the stack under test, whose initial sequence number is deterministic (seed 1, virtual
  // time 0, this 4-tuple): kIsn. If the stack's ISN choice changes, this seed still parses but stops at
  // the handshake (update kIsn from FUZZ_RX_REPORT=1 with the trace bit set).
  constexpr uint32_t kIsn = 1761867827;
  constexpr uint32_t kTsEcho = 4160287193;
  auto ts = [](uint32_t val, uint32_t ecr) {
    Bytes o{1, 1, 8, 10};
    put32(o, val);
    put32(o, ecr);
    return o;
  };
  const Bytes hello{'h', 'e', 'l', 'l', 'o', '\n'};
  write("tcp_echo_session",
        multi({{0, arp_request},
               {0, ip_frame(ipv4(6, tcp(40010, kEchoPort, 1000, 0, 0x02, syn_opts, {}), 2))},
               {1, ip_frame(ipv4(6, tcp(40010, kEchoPort, 1001, kIsn + 1, 0x10, ts(2, kTsEcho), {}), 3))},
               {1, ip_frame(ipv4(6, tcp(40010, kEchoPort, 1001, kIsn + 1, 0x18, ts(3, kTsEcho), hello), 4))},
               {1, ip_frame(ipv4(6, tcp(40010, kEchoPort, 1007, kIsn + 7, 0x11, ts(4, kTsEcho), {}), 5))}},
              kDrain));
  // With forwarding on: a datagram for a host beyond the peer (out again through the same device), and
  // one whose TTL runs out here (ICMP time exceeded).
  write("ip_forward",
        multi({{0, arp_request},
               {0, ip_frame(ipv4(17, udp(40020, 53, pattern(20, 6), kPeerAddr, Ipv4Addr(198, 19, 0, 9)), 11,
                                 0, {}, kPeerAddr, Ipv4Addr(198, 19, 0, 9)))}},
              kForward));
  Bytes ttl1 = ipv4(17, udp(40021, 53, pattern(20, 8), kPeerAddr, Ipv4Addr(198, 19, 0, 9)), 12, 0, {},
                    kPeerAddr, Ipv4Addr(198, 19, 0, 9));
  ttl1[8] = 1;
  ttl1[10] = ttl1[11] = 0;
  store16(ttl1, 10, csum(Bytes(ttl1.begin(), ttl1.begin() + 20)));
  write("ip_forward_ttl_expired", single(ip_frame(ttl1), kForward));
  // Over a TAP device with virtio-net headers: the echo session with plain headers, a SYN whose checksum
  // the "kernel" left partial, and a GRO'd TCP frame of three segments to forward, segmented in software
  // (kVnet alone) or handed on whole (kVnetTso).
  auto plain = [](const Bytes& frame) { return vnet(Vnet{}, frame); };
  write(
      "vnet_tcp_echo_session",
      multi(
          {{0, plain(arp_request)},
           {0, plain(ip_frame(ipv4(6, tcp(40010, kEchoPort, 1000, 0, 0x02, syn_opts, {}), 2)))},
           {1, plain(ip_frame(ipv4(6, tcp(40010, kEchoPort, 1001, kIsn + 1, 0x10, ts(2, kTsEcho), {}), 3)))},
           {1,
            plain(ip_frame(ipv4(6, tcp(40010, kEchoPort, 1001, kIsn + 1, 0x18, ts(3, kTsEcho), hello), 4)))}},
          kVnet | kDrain));
  write("vnet_tcp_syn_partial_csum",
        multi({{0, plain(arp_request)},
               {0, tcp_partial_frame(kOurAddr, kEchoPort, 1000, 0x02, syn_opts, {}, {})}},
              kVnet));
  const Vnet gso{0, 1, 14 + 20 + 20, 1000, 0, 0};
  const Bytes gro = tcp_partial_frame(Ipv4Addr(198, 19, 0, 9), 80, 5000, 0x18, {}, pattern(3000, 11), gso);
  write("vnet_forward_gso", multi({{0, plain(arp_request)}, {0, gro}}, kVnet | kForward));
  write("vnet_forward_tso", multi({{0, plain(arp_request)}, {0, gro}}, kVnet | kVnetTso | kForward));
  std::printf("%d seeds written to %s\n", written, dir.c_str());
  return 0;
}
