#include "packetdrill/settings.h"

#include <map>
#include <sstream>
#include <vector>

namespace ustack::drill {

using namespace std::chrono_literals;

// ---------------------------------------------------------------------------------------------------
// TCP_INFO fields for %{ }% blocks: struct tcp_info's tcpi_* names over ustack's TcpInfo, in Linux's units
// (microseconds for rto/ato/rtt, Linux's numbering for state and ca_state).

std::optional<int64_t> tcpi_field(const TcpInfo& i, const std::string& name) {
  static const std::map<std::string, int64_t (*)(const TcpInfo&)> m = {
      {"tcpi_state", [](const TcpInfo& x) -> int64_t { return int64_t(x.state); }},
      {"tcpi_ca_state", [](const TcpInfo& x) -> int64_t { return int64_t(x.ca_state); }},
      {"tcpi_retransmits", [](const TcpInfo& x) -> int64_t { return x.retransmits; }},
      {"tcpi_backoff", [](const TcpInfo& x) -> int64_t { return x.backoff; }},
      {"tcpi_snd_wscale", [](const TcpInfo& x) -> int64_t { return x.snd_wscale; }},
      {"tcpi_rcv_wscale", [](const TcpInfo& x) -> int64_t { return x.rcv_wscale; }},
      {"tcpi_rto", [](const TcpInfo& x) -> int64_t { return x.rto_us; }},
      {"tcpi_ato", [](const TcpInfo& x) -> int64_t { return x.ato_us; }},
      {"tcpi_snd_mss", [](const TcpInfo& x) -> int64_t { return x.snd_mss; }},
      {"tcpi_rcv_mss", [](const TcpInfo& x) -> int64_t { return x.rcv_mss; }},
      {"tcpi_unacked", [](const TcpInfo& x) -> int64_t { return x.unacked; }},
      {"tcpi_sacked", [](const TcpInfo& x) -> int64_t { return x.sacked; }},
      {"tcpi_lost", [](const TcpInfo& x) -> int64_t { return x.lost; }},
      {"tcpi_retrans", [](const TcpInfo& x) -> int64_t { return x.retrans; }},
      {"tcpi_total_retrans", [](const TcpInfo& x) -> int64_t { return x.total_retrans; }},
      {"tcpi_rtt", [](const TcpInfo& x) -> int64_t { return x.rtt_us; }},
      {"tcpi_rttvar", [](const TcpInfo& x) -> int64_t { return x.rttvar_us; }},
      {"tcpi_snd_ssthresh", [](const TcpInfo& x) -> int64_t { return x.snd_ssthresh; }},
      {"tcpi_snd_cwnd", [](const TcpInfo& x) -> int64_t { return x.snd_cwnd; }},
      {"tcpi_advmss", [](const TcpInfo& x) -> int64_t { return x.advmss; }},
      {"tcpi_reordering", [](const TcpInfo& x) -> int64_t { return x.reordering; }},
      {"tcpi_rcv_space", [](const TcpInfo& x) -> int64_t { return x.rcv_space; }},
      {"tcpi_snd_wnd", [](const TcpInfo& x) -> int64_t { return x.snd_wnd; }},
      {"tcpi_bytes_acked", [](const TcpInfo& x) -> int64_t { return int64_t(x.bytes_acked); }},
      {"tcpi_bytes_received", [](const TcpInfo& x) -> int64_t { return int64_t(x.bytes_received); }},
      {"tcpi_bytes_sent", [](const TcpInfo& x) -> int64_t { return int64_t(x.bytes_sent); }},
      {"tcpi_bytes_retrans", [](const TcpInfo& x) -> int64_t { return int64_t(x.bytes_retrans); }},
      {"tcpi_segs_out", [](const TcpInfo& x) -> int64_t { return x.segs_out; }},
      {"tcpi_segs_in", [](const TcpInfo& x) -> int64_t { return x.segs_in; }},
      {"tcpi_data_segs_out", [](const TcpInfo& x) -> int64_t { return x.data_segs_out; }},
      {"tcpi_data_segs_in", [](const TcpInfo& x) -> int64_t { return x.data_segs_in; }},
  };
  auto it = m.find(name);
  if (it == m.end()) return std::nullopt;
  return it->second(i);
}

// ---------------------------------------------------------------------------------------------------
// Shell commands and sysctls that map to a ustack setting.

std::string trim(std::string s) {
  size_t a = s.find_first_not_of(" \t\r\n\\");
  size_t b = s.find_last_not_of(" \t\r\n\\");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

// A multi-line shell block on one line, for reports: its lines joined by "; ".
static std::string one_line(const std::string& text) {
  std::string out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    line = trim(line);
    if (line.empty()) continue;
    if (!out.empty()) out += "; ";
    out += line;
  }
  return out;
}

// One sysctl NAME=VALUE (Linux net.ipv4.* or /proc/sys/net/ipv4/*, FreeBSD net.inet.* / kern.ipc.*).
// Applies it to `sc`; returns "" or why it can't be honoured.
std::string apply_sysctl(std::string name, std::string value, TcpSysctl& sc) {
  for (char& c : name)
    if (c == '/') c = '.';
  if (name.rfind(".proc.sys.", 0) == 0) name = name.substr(10);
  if (value.size() >= 2 && (value.front() == '"' || value.front() == '\''))
    value = value.substr(1, value.size() - 2);
  int64_t v = std::strtoll(value.c_str(), nullptr, 0);
  auto triple = [&](size_t& def, size_t& max) {
    std::istringstream in(value);
    size_t lo = 0, d = 0, mx = 0;
    if (!(in >> lo >> d >> mx)) return std::string("sysctl ") + name + " value '" + value + "'";
    def = d;
    max = mx;
    return std::string();
  };
  if (name == "net.ipv4.tcp_timestamps") return sc.tcp_timestamps = v != 0, "";
  if (name == "net.ipv4.tcp_sack") return sc.tcp_sack = v != 0, "";
  if (name == "net.ipv4.tcp_dsack") return sc.tcp_dsack = v != 0, "";
  if (name == "net.ipv4.tcp_window_scaling") return sc.tcp_window_scaling = v != 0, "";
  if (name == "net.ipv4.tcp_syn_retries") return sc.tcp_syn_retries = uint8_t(v), "";
  if (name == "net.ipv4.tcp_synack_retries") return sc.tcp_synack_retries = uint8_t(v), "";
  if (name == "net.ipv4.tcp_retries2") return sc.tcp_retries2 = uint8_t(v), "";
  if (name == "net.ipv4.tcp_orphan_retries") return sc.tcp_orphan_retries = uint8_t(v), "";
  if (name == "net.ipv4.tcp_fin_timeout") return sc.tcp_fin_timeout = std::chrono::seconds(v), "";
  if (name == "net.ipv4.tcp_keepalive_time") return sc.tcp_keepalive_time = std::chrono::seconds(v), "";
  if (name == "net.ipv4.tcp_keepalive_intvl") return sc.tcp_keepalive_intvl = std::chrono::seconds(v), "";
  if (name == "net.ipv4.tcp_keepalive_probes") return sc.tcp_keepalive_probes = uint8_t(v), "";
  if (name == "net.ipv4.tcp_rmem") return triple(sc.tcp_rmem_default, sc.tcp_rmem_max);
  if (name == "net.ipv4.tcp_wmem") return triple(sc.tcp_wmem_default, sc.tcp_wmem_max);
  if (name == "net.ipv4.tcp_congestion_control") {
    if (value == sc.congestion_control) return "";
    return std::string("congestion control ") + value + " (ustack has " + sc.congestion_control + ")";
  }
  // FreeBSD (tcp-testsuite).
  if (name == "net.inet.tcp.rfc1323") return sc.tcp_timestamps = sc.tcp_window_scaling = v != 0, "";
  if (name == "net.inet.tcp.sack.enable") return sc.tcp_sack = v != 0, "";
  if (name == "net.inet.tcp.recvspace") return sc.tcp_rmem_default = size_t(v), "";
  if (name == "net.inet.tcp.sendspace") return sc.tcp_wmem_default = size_t(v), "";
  // No-ops: a cache ustack doesn't have, a cap above ustack's, the default behaviour.
  if (name == "net.inet.tcp.hostcache.purgenow" || name == "kern.ipc.maxsockbuf") return "";
  if (name == "net.inet.tcp.blackhole" && v == 0) return "";
  if (name == "net.inet.tcp.ecn.enable" && (v == 0 || v == 2)) return "";  // ustack never asks for ECN
  if (name == "net.inet.tcp.fastopen.client_enable" && v == 0) return "";
  return std::string("sysctl ") + name + "=" + value + " has no ustack setting";
}

// Linux's settings from gtests/net/common/defaults.sh that ustack has. The others (FRTO, RACK, TSO
// divisor, pacing, Fast Open, ECN off, syncookies) have no ustack knob; cubic isn't in ustack (reno).
void apply_linux_defaults(TcpSysctl& sc) {
  sc.tcp_rmem_default = 540000;
  sc.tcp_rmem_max = 15 << 20;
  sc.tcp_wmem_default = 256 << 10;
  sc.tcp_wmem_max = 4194304;
  sc.tcp_timestamps = true;
  sc.tcp_syn_retries = 5;
  sc.tcp_synack_retries = 5;
  sc.tcp_sack = true;
  sc.tcp_dsack = true;
}

// A `shell command`: defaults.sh, set_sysctls.py, sysctl -w/-q and the sysctl restore script are
// honoured; anything else is a reason to skip.
std::string apply_command(const std::string& text, TcpSysctl& sc) {
  std::vector<std::vector<std::string>> cmds;
  std::istringstream in(text);
  std::string line, acc;
  while (std::getline(in, line)) {
    size_t l = line.find_last_not_of(" \t\r");
    bool cont = l != std::string::npos && line[l] == '\\';
    acc += ' ';
    acc += trim(line);
    if (cont) continue;
    std::istringstream w(acc);
    std::vector<std::string> words;
    for (std::string x; w >> x;) words.push_back(x);
    if (!words.empty()) cmds.push_back(words);
    acc.clear();
  }
  for (auto& w : cmds) {
    const std::string& prog = w[0];
    auto ends = [&](const std::string& s) {
      return prog.size() >= s.size() && prog.compare(prog.size() - s.size(), s.size(), s) == 0;
    };
    if (ends("defaults.sh")) {
      apply_linux_defaults(sc);
    } else if (prog.rfind("/tmp/sysctl_restore", 0) == 0) {
      // Restores what set_sysctls.py changed: each script gets a fresh stack anyway.
    } else if (ends("set_sysctls.py") || prog == "sysctl") {
      for (size_t i = 1; i < w.size(); ++i) {
        if (w[i][0] == '-') continue;  // -w, -q
        size_t eq = w[i].find('=');
        std::string name = w[i].substr(0, eq);
        if (eq == std::string::npos) return std::string("shell command `") + one_line(text) + "`";
        std::string value = w[i].substr(eq + 1);
        // sysctl -q net.ipv4.tcp_rmem="4096 540000 15728640" arrives in pieces.
        if (!value.empty() && value[0] == '"' && value.back() != '"') {
          while (++i < w.size()) {
            value += std::string(" ") + w[i];
            if (w[i].back() == '"') break;
          }
        }
        std::string r = apply_sysctl(name, value, sc);
        if (!r.empty()) return r;
      }
    } else {
      return std::string("shell command `") + one_line(text) + "`";
    }
  }
  return "";
}

}  // namespace ustack::drill
