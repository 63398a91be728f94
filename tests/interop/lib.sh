# Shared helpers for the interop tests: ustack on a TAP interface against the Linux kernel, each test
# in network namespaces of its own. Source it from a test script that was given the ustack binary as $1:
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#   interop_init "$@"              # checks, work directory, cleanup trap
#   need_tools ping tshark         # exit 77 (skip) if a tool is missing
#   make_netns                     # sets NS, TAP, SUBNET, LINUX_ADDR, USTACK_ADDR
#   start_serve --udp-echo 7       # ustack serve inside the namespace, stdout to a log
#   wait_reachable                 # polls with ping until ustack answers
#   stop_serve                     # SIGINT, waits, the counters are in $SERVE_LOG
#
# Addresses come from 198.18.0.0/15 only and nothing is routed out of the namespace. The EXIT trap kills
# every process the test started and deletes every namespace it made, also on failure; on failure it
# prints the logs first.

set -euo pipefail

readonly SKIP=77
USTACK=""
WORKDIR=""
NS=""
TAP=""
SUBNET=""
LINUX_ADDR=""
USTACK_ADDR=""
USTACK_MAC=""
SERVE_PID=""
SERVE_LOG=""
declare -a _NAMESPACES=()
declare -a _PIDS=()
declare -a _LOGS=()
_PASSED=0

log() { printf '[%s] %s\n' "$(date +%T.%3N)" "$*"; }
skip() {
  echo "SKIP: $*"
  exit "$SKIP"
}
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

need_tools() {
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null 2>&1 || skip "$t is not installed"
  done
}

_cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  local pid ns f
  for pid in "${_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null
  done
  for pid in "${_PIDS[@]}"; do
    # Bounded: a process that ignores SIGTERM gets SIGKILL after about two seconds.
    for _ in $(seq 20); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  for ns in "${_NAMESPACES[@]}"; do
    # Anything still running in our namespace was started by this test.
    for pid in $(ip netns pids "$ns" 2>/dev/null); do
      kill -KILL "$pid" 2>/dev/null
    done
    ip netns del "$ns" 2>/dev/null
  done
  if [[ $rc -ne 0 && $rc -ne $SKIP ]]; then
    for f in "${_LOGS[@]}"; do
      [[ -s "$f" ]] || continue
      echo "----- $(basename "$f") -----" >&2
      cat "$f" >&2
    done
    echo "FAILED (exit $rc)" >&2
  elif [[ $rc -eq 0 && $_PASSED -eq 1 ]]; then
    echo "PASS"
  fi
  [[ -n "$WORKDIR" ]] && rm -rf "$WORKDIR"
  exit "$rc"
}

# interop_init USTACK_BINARY: the checks every test needs, then the work directory and the trap.
interop_init() {
  [[ $# -ge 1 ]] || {
    echo "usage: $0 /path/to/ustack" >&2
    exit 2
  }
  USTACK=$(readlink -f "$1")
  [[ -x "$USTACK" ]] || fail "ustack binary $1 not found or not executable"
  [[ $(id -u) -eq 0 ]] || skip "needs root (network namespaces and TAP devices)"
  [[ -c /dev/net/tun ]] || skip "no /dev/net/tun"
  need_tools ip seq timeout
  WORKDIR=$(mktemp -d "${TMPDIR:-/tmp}/ustack-interop.XXXXXX")
  trap _cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# Register a log file to print if the test fails.
add_log() { _LOGS+=("$1"); }

# In the test's namespace.
in_ns() { ip netns exec "$NS" "$@"; }

# make_netns: a fresh namespace with a TAP device in it, the kernel's side at 198.18.X.1/24. Sets NS, TAP,
# SUBNET (198.18.X), LINUX_ADDR, USTACK_ADDR (198.18.X.2) and USTACK_MAC.
make_netns() {
  local x=$((RANDOM % 254 + 1))
  NS="us-$$-$RANDOM"
  TAP="ustap$((RANDOM % 10000))"
  SUBNET="198.18.$x"
  LINUX_ADDR="$SUBNET.1"
  USTACK_ADDR="$SUBNET.2"
  # Fixed for the whole test, so that successive ustack runs on the TAP look like one host to the
  # kernel's neighbour cache. Locally administered.
  USTACK_MAC=$(printf '02:75:73:%02x:%02x:%02x' $((RANDOM % 256)) $((RANDOM % 256)) "$x")
  ip netns add "$NS" || fail "cannot create namespace $NS"
  _NAMESPACES+=("$NS")
  in_ns ip link set lo up
  # No IPv6 chatter (router solicitations, MLD) on the link: the captures hold only what the test sends.
  in_ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 >/dev/null 2>&1 || true
  in_ns sysctl -qw net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1 || true
  in_ns ip tuntap add dev "$TAP" mode tap || fail "cannot create TAP $TAP in $NS"
  in_ns ip addr add "$LINUX_ADDR/24" dev "$TAP"
  in_ns ip link set "$TAP" up
  log "namespace $NS: $TAP $LINUX_ADDR/24 (kernel), ustack $USTACK_ADDR $USTACK_MAC"
}

# start_serve [EXTRA ARGS...]: ustack serve on the TAP inside the namespace, in the background. Its
# output goes to $SERVE_LOG; waits (bounded) until it has opened the TAP device.
start_serve() {
  SERVE_LOG="$WORKDIR/serve.$RANDOM.log"
  add_log "$SERVE_LOG"
  # ip netns exec execs the command, so $! is ustack itself.
  ip netns exec "$NS" "$USTACK" serve --tap "$TAP" --addr "$USTACK_ADDR/24" --mac "$USTACK_MAC" "$@" \
    >"$SERVE_LOG" 2>&1 &
  SERVE_PID=$!
  _PIDS+=("$SERVE_PID")
  local i
  for i in $(seq 100); do
    grep -q '^ustack serve:' "$SERVE_LOG" 2>/dev/null && return 0
    kill -0 "$SERVE_PID" 2>/dev/null || fail "ustack serve exited early"
    sleep 0.05
  done
  fail "ustack serve did not start within 5 s"
}

# stop_serve: SIGINT, then wait (bounded) for it to print its counters and exit 0.
stop_serve() {
  [[ -n "$SERVE_PID" ]] || return 0
  kill -INT "$SERVE_PID" 2>/dev/null || true
  local i rc=0
  for i in $(seq 50); do
    kill -0 "$SERVE_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$SERVE_PID" 2>/dev/null && fail "ustack serve did not exit within 5 s of SIGINT"
  wait "$SERVE_PID" || rc=$?
  SERVE_PID=""
  [[ $rc -eq 0 ]] || fail "ustack serve exited with status $rc"
  log "ustack serve stopped; counters:"
  sed -n '/^ustack serve:/,$p' "$SERVE_LOG" | tail -n +2 | sed 's/^/    /'
}

# wait_reachable [ADDR]: ping from the kernel's side until ustack answers (at most about 20 s).
wait_reachable() {
  local addr=${1:-$USTACK_ADDR} i
  for i in $(seq 20); do
    if in_ns ping -n -q -c 1 -W 1 "$addr" >/dev/null 2>&1; then
      log "$addr answers (after $i probe(s))"
      return 0
    fi
    [[ -z "$SERVE_PID" ]] || kill -0 "$SERVE_PID" 2>/dev/null || fail "ustack serve died"
  done
  fail "$addr did not answer ping within 20 probes"
}

# counter NAME: the value of a MIB counter in the stopped serve's report (0 if it did not print it).
counter() {
  local v
  v=$(awk -v n="$1" '$1 == n { print $2; exit }' "$SERVE_LOG")
  echo "${v:-0}"
}

# expect_counter_positive NAME...
expect_counter_positive() {
  local n v
  for n in "$@"; do
    v=$(counter "$n")
    [[ "$v" -gt 0 ]] || fail "counter $n is $v, expected > 0"
    log "counter $n = $v"
  done
}

# check_pcap FILE: tshark reads it, it holds packets, and none is malformed or has a bad IPv4, ICMP or
# UDP checksum.
check_pcap() {
  local f=$1 out n bad
  [[ -s "$f" ]] || fail "capture $f is missing or empty"
  out="$WORKDIR/tshark.$RANDOM.txt"
  add_log "$out"
  tshark -n -r "$f" >"$out" 2>&1 || fail "tshark cannot read $f"
  n=$(tshark -n -r "$f" -T fields -e frame.number 2>/dev/null | wc -l)
  [[ "$n" -gt 0 ]] || fail "capture $f has no packets"
  bad=$(tshark -n -r "$f" -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE \
    -Y 'ip.checksum.status == "Bad" || udp.checksum.status == "Bad" || icmp.checksum.status == "Bad" || _ws.malformed || _ws.expert.severity == "error"' \
    2>/dev/null) || fail "tshark failed on $f"
  if [[ -n "$bad" ]]; then
    echo "$bad" >&2
    fail "capture $f has malformed packets or bad checksums"
  fi
  log "capture $(basename "$f"): $n packets, no malformed packets, no bad checksums"
}

# The test's last step.
pass() { _PASSED=1; }
