// ustack ping: echo requests with iputils-like output and summary.
#include <cmath>
#include <csignal>
#include <cstdio>
#include <map>
#include <vector>

#include "commands.h"
#include "host.h"

namespace ustack::cli {

namespace {
Host* g_host = nullptr;
volatile std::sig_atomic_t g_interrupted = 0;
void on_signal(int) {
  g_interrupted = 1;
  if (g_host) g_host->stop();
}

const char* unreach_text(uint8_t type, uint8_t code) {
  if (type == wire::kIcmpTimeExceeded)
    return code == 0 ? "Time to live exceeded" : "Frag reassembly time exceeded";
  switch (code) {
    case wire::kIcmpNetUnreach:
      return "Destination Net Unreachable";
    case wire::kIcmpHostUnreach:
      return "Destination Host Unreachable";
    case wire::kIcmpProtUnreach:
      return "Destination Protocol Unreachable";
    case wire::kIcmpPortUnreach:
      return "Destination Port Unreachable";
    case wire::kIcmpFragNeeded:
      return "Frag needed";
    default:
      return "Destination Unreachable";
  }
}
}  // namespace

int cmd_ping(int argc, char** argv) {
  auto value_opts = kHostOptions;
  value_opts.insert({"-c", "-s", "-i", "-W", "-t"});
  Options o(argc, argv, value_opts, {"--trace", "-q", "--no-offload"});
  if (!o.ok()) {
    std::fprintf(stderr, "ustack ping: %s\n", o.error().c_str());
    return 2;
  }
  long count = o.get_long("-c", 4);
  long size = o.get_long("-s", 56);
  double interval = o.get_double("-i", 1.0);
  double wait_s = o.get_double("-W", 2.0);
  long ttl = o.get_long("-t", 0);
  if (!o.ok() || count < 1 || size < 0 || size > 65507 - 8 || interval <= 0 || ttl < 0 || ttl > 255) {
    std::fprintf(stderr, "ustack ping: bad option value%s%s\n", o.ok() ? "" : ": ", o.error().c_str());
    return 2;
  }
  auto host = make_host(o);
  if (!host) return 2;
  Ipv4Addr target = kPeerAddr;
  if (!o.positional().empty()) {
    auto a = Ipv4Addr::parse(o.positional().back());
    if (!a) {
      std::fprintf(stderr, "ustack ping: %s: Name or service not known\n", o.positional().back().c_str());
      return 2;
    }
    target = *a;
  } else if (!host->virtual_time()) {
    std::fprintf(stderr, "ustack ping: with --tap, give the address to ping\n");
    return 2;
  }
  Stack& st = host->stack();
  if (o.has("--trace")) {
    enable_trace(st, "[" + st.name() + "] ");
    if (host->peer()) enable_trace(*host->peer(), "[" + host->peer()->name() + "] ");
  }
  g_host = host.get();
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  const uint16_t id = static_cast<uint16_t>(st.net().rng.next_u32());
  std::map<uint16_t, TimePoint> sent;
  std::vector<double> rtts;
  long received = 0, errors = 0;
  bool quiet = o.has("-q");
  st.icmp().set_echo_listener(
      id, Icmp::EchoListener{[&](const EchoReply& r) {
                               auto it = sent.find(r.seq);
                               if (it == sent.end()) return;  // a duplicate or a stranger's
                               double ms = to_ms(st.net().now() - it->second);
                               sent.erase(it);
                               // The payload must come back as sent (pattern of the sequence's low byte
                               // onwards).
                               bool intact = r.payload.size() == static_cast<size_t>(size);
                               for (size_t i = 0; intact && i < r.payload.size(); ++i)
                                 intact = r.payload[i] == std::byte(uint8_t(r.seq + i));
                               rtts.push_back(ms);
                               ++received;
                               if (!quiet) {
                                 std::printf("%zu bytes from %s: icmp_seq=%u ttl=%u time=%.3f ms%s\n",
                                             r.payload.size() + 8, r.from.to_string().c_str(), r.seq, r.ttl,
                                             ms, intact ? "" : " (wrong data)");
                               }
                             },
                             [&](const EchoError& e) {
                               ++errors;
                               sent.erase(e.seq);
                               if (!quiet)
                                 std::printf("From %s icmp_seq=%u %s\n", e.from.to_string().c_str(), e.seq,
                                             unreach_text(e.type, e.code));
                             }});

  std::printf("PING %s (%s) %ld(%ld) bytes of data.\n", target.to_string().c_str(),
              target.to_string().c_str(), size, size + 28);
  std::fflush(stdout);
  TimePoint start = host->now();
  std::vector<std::byte> payload(static_cast<size_t>(size));
  long transmitted = 0;
  for (long seq = 1; seq <= count && !g_interrupted; ++seq) {
    for (size_t i = 0; i < payload.size(); ++i) payload[i] = std::byte(uint8_t(seq + long(i)));
    sent[static_cast<uint16_t>(seq)] = host->now();
    Status s =
        st.icmp().send_echo(target, id, static_cast<uint16_t>(seq), payload, static_cast<uint8_t>(ttl));
    ++transmitted;
    if (!s) {
      std::printf("ping: sendmsg: %s\n", errc_message(s.error()));
      sent.erase(static_cast<uint16_t>(seq));
      ++errors;
    }
    std::fflush(stdout);
    TimePoint next =
        start + std::chrono::duration_cast<Duration>(std::chrono::duration<double>(interval * double(seq)));
    if (seq == count) {
      host->run_until([&] { return sent.empty(); },
                      std::chrono::duration_cast<Duration>(std::chrono::duration<double>(wait_s)));
    } else {
      host->run_until([&] { return g_interrupted != 0; }, next - host->now());
    }
  }
  double elapsed_ms = to_ms(host->now() - start);
  std::printf("\n--- %s ping statistics ---\n", target.to_string().c_str());
  std::printf("%ld packets transmitted, %ld received,", transmitted, received);
  if (errors) std::printf(" +%ld errors,", errors);
  std::printf(" %.0f%% packet loss, time %.0fms\n",
              transmitted ? 100.0 * double(transmitted - received) / double(transmitted) : 0.0, elapsed_ms);
  if (!rtts.empty()) {
    double mn = rtts[0], mx = rtts[0], sum = 0, sq = 0;
    for (double r : rtts) {
      mn = std::min(mn, r);
      mx = std::max(mx, r);
      sum += r;
      sq += r * r;
    }
    double avg = sum / double(rtts.size());
    double mdev = std::sqrt(std::max(0.0, sq / double(rtts.size()) - avg * avg));
    std::printf("rtt min/avg/max/mdev = %.3f/%.3f/%.3f/%.3f ms\n", mn, avg, mx, mdev);
  }
  st.icmp().remove_echo_listener(id);
  g_host = nullptr;
  return received > 0 ? 0 : 1;
}

}  // namespace ustack::cli
