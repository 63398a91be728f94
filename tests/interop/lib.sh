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

# ---- Helpers for the TCP tests (additive; nothing above depends on them) ----

# now_s: wall-clock seconds with nanoseconds, for timing a transfer.
now_s() { date +%s.%N; }

# mib_rate BYTES START END: BYTES over the interval from START to END (now_s values), in MiB/s.
mib_rate() {
  awk -v b="$1" -v s="$2" -v e="$3" 'BEGIN { d = e - s; if (d <= 0) d = 1e-6; printf "%.1f", b / 1048576 / d }'
}

# sha256_of FILE: the hex digest alone.
sha256_of() { sha256sum <"$1" | awk '{print $1}'; }

# expect_same_file GOT WANT WHAT: same size and the same SHA-256, or fail.
expect_same_file() {
  local got=$1 want=$2 what=$3 gs ws gh wh
  gs=$(stat -c %s "$got")
  ws=$(stat -c %s "$want")
  [[ "$gs" -eq "$ws" ]] || fail "$what: got $gs bytes, expected $ws"
  gh=$(sha256_of "$got")
  wh=$(sha256_of "$want")
  [[ "$gh" == "$wh" ]] || fail "$what: sha256 $gh, expected $wh"
  log "$what: $gs bytes, sha256 ${gh:0:16}... matches"
}

# bg_in_ns LOG CMD...: CMD in the namespace in the background, stdout and stderr to LOG (shown on
# failure), killed by the cleanup trap. Sets BG_PID (ip netns exec execs, so it is CMD itself).
BG_PID=""
bg_in_ns() {
  local logf=$1
  shift
  add_log "$logf"
  ip netns exec "$NS" "$@" >"$logf" 2>&1 &
  BG_PID=$!
  _PIDS+=("$BG_PID")
}

# wait_pid PID SECONDS WHAT: wait (bounded) for a background process; fail if it is still running after
# SECONDS. Sets WAIT_RC to its exit status.
WAIT_RC=0
wait_pid() {
  local pid=$1 secs=$2 what=$3 i
  for i in $(seq $((secs * 20))); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -0 "$pid" 2>/dev/null && fail "$what still running after $secs s"
  WAIT_RC=0
  wait "$pid" || WAIT_RC=$?
}

# wait_tcp_listen PORT: wait (at most 5 s) until a Linux socket listens on TCP PORT in the namespace.
wait_tcp_listen() {
  local port=$1 i
  for i in $(seq 100); do
    [[ -n "$(in_ns ss -Hltn "sport = :$port" 2>/dev/null)" ]] && return 0
    sleep 0.05
  done
  fail "nothing listens on TCP port $port in $NS after 5 s"
}

# tcp_stream_client ADDR PORT INPUT OUTPUT SECONDS: from the namespace (Linux's stack), connect, send
# INPUT in one thread and read into OUTPUT in another until the peer closes; the sender half-closes
# (shutdown SHUT_WR) after the last byte. The whole exchange must end within SECONDS. Prints one line:
# "sent N received M seconds T".
tcp_stream_client() {
  timeout "$(($5 + 5))" ip netns exec "$NS" python3 - "$@" <<'PY'
import socket, sys, threading, time
addr, port, inp, outp, limit = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], float(sys.argv[5])
deadline = time.monotonic() + limit
t0 = time.monotonic()
s = socket.create_connection((addr, port), timeout=10)
s.settimeout(limit)
sent, errors = 0, []
def sender():
    global sent
    try:
        with open(inp, "rb") as f:
            while True:
                b = f.read(262144)
                if not b:
                    break
                s.sendall(b)
                sent += len(b)
        s.shutdown(socket.SHUT_WR)
    except Exception as e:
        errors.append("send: %r" % e)
th = threading.Thread(target=sender, daemon=True)
th.start()
got = 0
try:
    with open(outp, "wb") as f:
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError("no EOF within %.0f s" % limit)
            b = s.recv(262144)
            if not b:
                break
            f.write(b)
            got += len(b)
except Exception as e:
    errors.append("recv: %r" % e)
th.join(max(0.1, deadline - time.monotonic()))
t1 = time.monotonic()
s.close()
print("sent %d received %d seconds %.3f" % (sent, got, t1 - t0))
if errors or th.is_alive():
    print("errors: %s%s" % ("; ".join(errors), " (sender still running)" if th.is_alive() else ""), file=sys.stderr)
    sys.exit(1)
PY
}

# linux_counter NAME: one of the Linux kernel's SNMP counters in the test's namespace, named as nstat
# names them (TcpRetransSegs, TcpExtTCPSynRetrans, ...); 0 if there is no such counter.
linux_counter() {
  in_ns awk -v want="$1" '
    /^[A-Za-z]+: / {
      p = substr($1, 1, length($1) - 1)
      if (!(p in seen)) { seen[p] = 1; for (i = 2; i <= NF; i++) name[p, i] = $i; next }
      for (i = 2; i <= NF; i++) if (p name[p, i] == want) { print $i; found = 1; exit }
    }
    END { if (!found) print 0 }' /proc/net/snmp /proc/net/netstat
}
