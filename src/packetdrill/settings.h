// How a script's environment maps onto ustack: `shell` commands and sysctls that have a ustack setting
// (Linux's net.ipv4.* and FreeBSD's net.inet.*), gtests/net/common/defaults.sh, and the tcpi_* names
// of struct tcp_info over ustack's TcpInfo for %{ }% blocks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "tcp/tcp.h"

namespace ustack::drill {

std::string trim(std::string s);
// One sysctl NAME=VALUE applied to `sc`; returns "" or why it can't be honoured.
std::string apply_sysctl(std::string name, std::string value, TcpSysctl& sc);
// Linux's settings from gtests/net/common/defaults.sh that ustack has.
void apply_linux_defaults(TcpSysctl& sc);
// A `shell command`: "" if honoured (defaults.sh, set_sysctls.py, sysctl -w/-q, the sysctl restore
// script), else why not.
std::string apply_command(const std::string& text, TcpSysctl& sc);
// A tcpi_* field's value, or nothing if ustack's TcpInfo doesn't have it.
std::optional<int64_t> tcpi_field(const TcpInfo& i, const std::string& name);

}  // namespace ustack::drill
