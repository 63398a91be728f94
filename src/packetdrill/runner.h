// The packetdrill runner: runs a parsed script against one ustack Stack in this process, in virtual time.
// The runner is the remote peer: it injects the script's inbound packets on a capture device and checks
// the packets the stack sends against the script's outbound ones (flags, seq/ack relative to the ISNs,
// window, options in kind and order, payload length, time within the tolerance). System calls go to
// the stack's SocketApi; a blocking call waits through a Waiter that keeps running the script's later
// packet events until the call returns, as packetdrill's syscall thread does.
//
// Outcomes are honest: a script that needs something the runner or ustack doesn't have (IPv6, UDP/ICMP
// packets, %{ }% python blocks, unknown shell commands or sysctls, TCP Fast Open, unsupported calls
// or socket options) is SKIP with the reason, never PASS.
#pragma once

#include <string>
#include <vector>

#include "packetdrill/script.h"

namespace ustack::drill {

enum class Outcome { kPass, kFail, kSkip };
const char* outcome_name(Outcome o);

struct RunOptions {
  // "linux": packetdrill's exact comparison. "rfc": flags (without PSH), seq/ack, SACK blocks, payload
  // length and RST/ACK choice, but not window values, option order or timestamps (for FreeBSD's scripts).
  std::string profile = "linux";
  uint64_t seed = 1;
};

struct ScriptResult {
  std::string path;
  Outcome outcome = Outcome::kPass;
  std::string reason;  // FAIL: what differed; SKIP: why
  int line = 0;        // FAIL: the script line
  std::string source;  // FAIL: its text
  std::string expected, actual;
  int64_t virtual_usecs = 0;  // how far the script ran in virtual time
};

ScriptResult run_script(const Script& script, const RunOptions& opts = {});
// Reads and parses `path` (a parse error is a FAIL with the line) and runs it.
ScriptResult run_script_file(const std::string& path, const RunOptions& opts = {});

// Why the runner would skip this script, or "" if it can run it (a pre-pass over options and events).
std::string skip_reason(const Script& script);

}  // namespace ustack::drill
