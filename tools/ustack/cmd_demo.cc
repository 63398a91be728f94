// ustack demo: the seeds' socket() and connect() path, traced, between two stacks on a memory wire.
#include <cstdio>
#include <cstring>
#include <vector>

#include "commands.h"
#include "dev/pcap.h"
#include "host.h"

namespace ustack::cli {

namespace {
void say(const char* s) {
  std::printf("\n== %s\n", s);
  std::fflush(stdout);
}
bool check(const Status& s, const char* what) {
  if (!s)
    std::printf("%s failed: %s (%s)\n", what, std::string(errc_name(s.error())).c_str(),
                errc_message(s.error()));
  return s.has_value();
}
}  // namespace

int cmd_demo(int argc, char** argv) {
  Options o(argc, argv, {"--pcap", "--seed", "--bytes", "--loss", "--delay"}, {"--quiet"});
  long bytes = o.get_long("--bytes", 1 << 20);
  double loss = o.get_double("--loss", 0);
  double delay_ms = o.get_double("--delay", 0.1);
  auto seed = static_cast<uint64_t>(o.get_long("--seed", 1));
  if (!o.ok() || bytes < 1 || loss < 0 || loss >= 100 || delay_ms < 0) {
    std::fprintf(stderr, "ustack demo: %s\n", o.ok() ? "bad option value" : o.error().c_str());
    return 2;
  }
  bool quiet = o.has("--quiet");
  std::string pcap_path = o.get("--pcap").value_or("ustack-demo.pcap");

  Sim sim(seed);
  Stack& client = sim.add_stack("client");
  Stack& server = sim.add_stack("server");
  Impairments imp;
  imp.delay = std::chrono::microseconds(static_cast<int64_t>(delay_ms * 1000));
  imp.loss = loss / 100;
  MemWire& wire = sim.connect(client, Ipv4Cidr{kLocalAddr, 24}, server, Ipv4Cidr{kPeerAddr, 24}, imp);
  auto pcap = PcapWriter::open(pcap_path);
  if (pcap) client.devs().devices().back()->set_capture(*pcap);
  sim.run_for(1ms);  // let the gratuitous ARPs go by

  std::printf(
      "ustack demo: two stacks on a memory wire in virtual time (one-way delay %.3f ms, loss %.1f%%)\n",
      delay_ms, loss);
  std::printf("  client %s on %s, server %s on %s\n", kLocalAddr.to_string().c_str(),
              client.devs().devices().back()->name().c_str(), kPeerAddr.to_string().c_str(),
              server.devs().devices().back()->name().c_str());

  SocketApi& cs = client.sockets();
  SocketApi& ss = server.sockets();
  const uint16_t port = 5000;
  say("server: socket(AF_INET, SOCK_STREAM, 0), bind(198.18.0.2:5000), listen(8)");
  int lfd = *ss.socket(kAfInet, kSockStream, 0);
  if (!check(ss.bind(lfd, SockAddrIn{kPeerAddr, port}), "bind") || !check(ss.listen(lfd, 8), "listen"))
    return 1;

  if (!quiet) {
    enable_trace(client, "[client] ");
    enable_trace(server, "[server] ");
  }
  say("client: socket(AF_INET, SOCK_STREAM, 0)  (sock_create -> inet_create -> tcp_v4_init_sock -> "
      "sock_map_fd)");
  int cfd = *cs.socket(kAfInet, kSockStream, 0);
  say("client: connect(198.18.0.2:5000)  (inet_stream_connect -> tcp_v4_connect -> tcp_connect -> ... -> "
      "driver)");
  TimePoint t0 = sim.now();
  Status cr = cs.connect(cfd, SockAddrIn{kPeerAddr, port});
  TimePoint t1 = sim.now();
  client.net().trace.set_sink(nullptr);
  server.net().trace.set_sink(nullptr);
  if (!check(cr, "connect")) return 1;
  std::printf("connect() returned 0 after %.3f ms of virtual time\n", to_ms(t1 - t0));

  say("server: accept()");
  SockAddrIn peer;
  auto afd = ss.accept(lfd, &peer);
  if (!afd) return check(make_error(afd.error()), "accept"), 1;
  std::printf("accepted %s\n", peer.to_string().c_str());

  say("data: client send()s, server recv()s and send()s it back, client recv()s (non-blocking, interleaved)");
  std::vector<std::byte> out(static_cast<size_t>(bytes)), back;
  for (size_t i = 0; i < out.size(); ++i) out[i] = std::byte(uint8_t(i * 131 + 7));
  back.reserve(out.size());
  (void)cs.set_nonblock(cfd, true);
  (void)ss.set_nonblock(*afd, true);
  std::vector<std::byte> pending, buf(65536);
  size_t sent = 0, pending_off = 0;
  Errc failure = Errc::kOk;
  TimePoint d0 = sim.now();
  bool done = sim.run_until(
      [&] {
        if (sent < out.size()) {
          if (auto n =
                  cs.send(cfd, std::span(out).subspan(sent, std::min<size_t>(out.size() - sent, 65536)))) {
            sent += *n;
          } else if (n.error() != Errc::kAgain) {
            failure = n.error();
          }
        }
        // The server echoes what it reads, holding at most one buffer that the client has not taken.
        if (pending_off == pending.size()) {
          pending.clear();
          pending_off = 0;
          if (auto n = ss.recv(*afd, buf)) pending.assign(buf.begin(), buf.begin() + long(*n));
        }
        if (pending_off < pending.size()) {
          if (auto n = ss.send(*afd, std::span(pending).subspan(pending_off))) pending_off += *n;
        }
        while (auto n = cs.recv(cfd, buf)) {
          if (*n == 0) break;
          back.insert(back.end(), buf.begin(), buf.begin() + long(*n));
        }
        return back.size() == out.size() || failure != Errc::kOk;
      },
      std::chrono::hours(24));
  TimePoint d1 = sim.now();
  if (!done || failure != Errc::kOk) {
    std::printf("transfer failed after %zu bytes: %s\n", back.size(), errc_message(failure));
    return 1;
  }
  bool same = back == out;
  std::printf("sent %zu bytes, echoed back %zu, identical: %s, in %.3f ms virtual (%.1f Mbit/s each way)\n",
              sent, back.size(), same ? "yes" : "NO", to_ms(d1 - d0),
              double(sent) * 8 / 1e3 / std::max(to_ms(d1 - d0), 1e-9));
  (void)cs.set_nonblock(cfd, false);
  (void)ss.set_nonblock(*afd, false);

  TcpInfo info{};
  (void)cs.getsockopt(cfd, kSolTcp, kTcpInfo, std::as_writable_bytes(std::span(&info, 1)));

  say("close: client close(), server reads EOF and close()s");
  bool ok = cs.close(cfd).has_value();
  std::byte b[1];
  auto eof = ss.recv(*afd, b);
  ok = ok && eof && *eof == 0;
  ok = ok && ss.close(*afd).has_value() && ss.close(lfd).has_value();
  sim.run_for(1s);
  std::printf("client TIME_WAIT socks: %zu (expire after 60 s)\n", client.tcp().timewait_count());
  sim.run_for(61s);
  std::printf("after 61 s: client TIME_WAIT socks %zu, socks %zu; server socks %zu\n",
              client.tcp().timewait_count(), client.tcp().sock_count(), server.tcp().sock_count());

  say("summary");
  std::printf(
      "handshake: %.3f ms; rtt %.3f ms (rttvar %.3f), rto %.0f ms, mss %u, cwnd %u, wscale %u/%u, ts %s, "
      "sack %s\n",
      to_ms(t1 - t0), info.rtt_us / 1000.0, info.rttvar_us / 1000.0, info.rto_us / 1000.0, info.snd_mss,
      info.snd_cwnd, info.snd_wscale, info.rcv_wscale, info.ts ? "on" : "off", info.sack ? "on" : "off");
  std::printf("client: segs out %u in %u, retransmits %u; wire: %llu frames sent, %llu lost\n", info.segs_out,
              info.segs_in, info.total_retrans, static_cast<unsigned long long>(wire.stats().sent),
              static_cast<unsigned long long>(wire.stats().lost));
  if (pcap) {
    (*pcap)->flush();
    std::printf("pcap: %s (%llu frames; open with wireshark or tshark -r)\n", pcap_path.c_str(),
                static_cast<unsigned long long>((*pcap)->frames()));
  }
  std::printf("result: %s\n", ok && same ? "OK" : "FAILED");
  return ok && same ? 0 : 1;
}

}  // namespace ustack::cli
