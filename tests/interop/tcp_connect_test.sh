#!/usr/bin/env bash
# `ustack connect` (run inside the namespace, on the TAP device) against Linux listeners:
#   - 100 MiB of random bytes from ustack's standard input to a Linux socat listener, which must receive
#     them intact (SHA-256); ustack half-closes at the end of its input and exits 0 when socat closes;
#   - 100 MiB the other way: a Linux socat listener sends a file, ustack writes it to standard output;
#   - a closed Linux port: ustack connect exits non-zero with "Connection refused".
# Only one ustack runs on the TAP device at a time. Prints the rates.
# usage: tcp_connect_test.sh /path/to/ustack   (exit 77: skipped)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
interop_init "$@"
need_tools python3 socat ss sha256sum head awk stat grep

SIZE=$((100 * 1024 * 1024))
IN="$WORKDIR/in"
head -c "$SIZE" /dev/urandom >"$IN"
make_netns

# ustack_connect SECONDS PORT [ARGS...]: ustack connect to Linux's PORT, bounded; standard input and
# output as the caller redirects them. Sets CONNECT_ERR (its standard error) and CONNECT_RC.
CONNECT_RC=0
CONNECT_ERR=""
ustack_connect() {
  local secs=$1 port=$2
  shift 2
  CONNECT_ERR="$WORKDIR/connect.$port.err"
  add_log "$CONNECT_ERR"
  CONNECT_RC=0
  timeout "$secs" ip netns exec "$NS" "$USTACK" connect --tap "$TAP" --addr "$USTACK_ADDR/24" \
    --mac "$USTACK_MAC" "$@" "$LINUX_ADDR" "$port" 2>"$CONNECT_ERR" || CONNECT_RC=$?
}

# 1. ustack -> Linux.
RECV="$WORKDIR/linux-received"
bg_in_ns "$WORKDIR/socat-recv.log" socat -u "TCP-LISTEN:5001,bind=$LINUX_ADDR,reuseaddr" "CREATE:$RECV"
listener=$BG_PID
wait_tcp_listen 5001
log "ustack connect $LINUX_ADDR 5001 < 100 MiB"
t0=$(now_s)
ustack_connect 60 5001 <"$IN" >"$WORKDIR/connect-5001.out"
t1=$(now_s)
[[ $CONNECT_RC -eq 0 ]] || fail "ustack connect to port 5001 exited with status $CONNECT_RC"
wait_pid "$listener" 10 "socat listener on 5001"
[[ $WAIT_RC -eq 0 ]] || fail "socat listener on 5001 exited with status $WAIT_RC"
expect_same_file "$RECV" "$IN" "ustack connect -> Linux, 100 MiB"
log "ustack connect -> Linux: $(mib_rate "$SIZE" "$t0" "$t1") MiB/s (whole ustack run: TAP open, ARP, handshake, data, close)"

# 2. Linux -> ustack.
GOT="$WORKDIR/ustack-received"
bg_in_ns "$WORKDIR/socat-send.log" socat -u "OPEN:$IN" "TCP-LISTEN:5002,bind=$LINUX_ADDR,reuseaddr"
listener=$BG_PID
wait_tcp_listen 5002
log "ustack connect $LINUX_ADDR 5002 > 100 MiB"
t0=$(now_s)
ustack_connect 60 5002 </dev/null >"$GOT"
t1=$(now_s)
[[ $CONNECT_RC -eq 0 ]] || fail "ustack connect to port 5002 exited with status $CONNECT_RC"
wait_pid "$listener" 10 "socat sender on 5002"
[[ $WAIT_RC -eq 0 ]] || fail "socat sender on 5002 exited with status $WAIT_RC"
expect_same_file "$GOT" "$IN" "Linux -> ustack connect, 100 MiB"
log "Linux -> ustack connect: $(mib_rate "$SIZE" "$t0" "$t1") MiB/s (whole ustack run)"

# 3. A closed port: Linux answers the SYN with RST.
[[ -z "$(in_ns ss -Hltn 'sport = :5003')" ]] || fail "port 5003 is open in $NS"
log "ustack connect $LINUX_ADDR 5003 (closed)"
ustack_connect 20 5003 </dev/null >/dev/null
[[ $CONNECT_RC -ne 0 && $CONNECT_RC -ne 124 ]] ||
  fail "ustack connect to a closed port exited with status $CONNECT_RC, expected a failure (not a timeout)"
grep -q 'Connection refused' "$CONNECT_ERR" || fail "no 'Connection refused' from ustack connect: $(cat "$CONNECT_ERR")"
log "closed port: exit status $CONNECT_RC, stderr: $(cat "$CONNECT_ERR")"

pass
