#!/usr/bin/env bash
# ICMP echo between ustack and the Linux kernel over a TAP device:
#   - the kernel pings `ustack serve` (5 of 5 replies), then with 8000-byte payloads, fragmented both
#     ways (the serve's counters must show IpReasmOKs and IpFragCreates);
#   - `ustack ping` pings the kernel (3 of 3, then 3 of 3 with 8000-byte payloads);
#   - both of ustack's captures are clean for tshark.
# usage: ping_test.sh /path/to/ustack   (exit 77: skipped)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
interop_init "$@"
need_tools ping tshark awk grep

make_netns
SERVE_PCAP="$WORKDIR/serve.pcap"
start_serve --pcap "$SERVE_PCAP"
wait_reachable

# received COUNT OUTPUT_FILE: the ping summary says COUNT received.
expect_received() {
  local want=$1 f=$2 got
  got=$(sed -n 's/.* \([0-9]\+\) received.*/\1/p' "$f" | tail -1)
  [[ "${got:-0}" -eq "$want" ]] || fail "expected $want replies, got ${got:-none} ($(basename "$f"))"
}

# iputils ping checks the echoed data and flags duplicates.
expect_clean_replies() {
  if grep -qE 'wrong data|DUP!|corrupted' "$1"; then
    fail "replies with wrong data or duplicates ($(basename "$1"))"
  fi
}

# 1. Linux pings ustack: 5 of 5.
out="$WORKDIR/linux-ping.txt"
add_log "$out"
log "ping -c 5 $USTACK_ADDR"
in_ns ping -n -c 5 -i 0.2 -W 2 "$USTACK_ADDR" >"$out" 2>&1 || fail "ping -c 5 failed"
cat "$out"
expect_received 5 "$out"
expect_clean_replies "$out"

# 2. Linux pings ustack with 8000 bytes: the kernel fragments the requests, ustack reassembles them and
#    fragments its replies, the kernel reassembles those.
out="$WORKDIR/linux-ping-8000.txt"
add_log "$out"
log "ping -c 5 -s 8000 $USTACK_ADDR"
in_ns ping -n -c 5 -i 0.2 -W 2 -s 8000 "$USTACK_ADDR" >"$out" 2>&1 || fail "ping -s 8000 failed"
cat "$out"
expect_received 5 "$out"
expect_clean_replies "$out"
grep -q '^8008 bytes from' "$out" || fail "no 8008-byte replies"

stop_serve
expect_counter_positive IpReasmOKs IpFragCreates IpFragOKs IcmpInEchos IcmpOutEchoReps
check_pcap "$SERVE_PCAP"

# 3. ustack pings Linux. Same MAC and address as the serve above, so the kernel's neighbour entry stays
#    right.
PING_PCAP="$WORKDIR/ping.pcap"
out="$WORKDIR/ustack-ping.txt"
add_log "$out"
log "ustack ping -c 3 $LINUX_ADDR"
in_ns timeout 30 "$USTACK" ping --tap "$TAP" --addr "$USTACK_ADDR/24" --mac "$USTACK_MAC" --pcap "$PING_PCAP" \
  -c 3 -i 0.2 -W 3 "$LINUX_ADDR" >"$out" 2>&1 || fail "ustack ping exited with status $?"
cat "$out"
expect_received 3 "$out"
grep -q 'wrong data' "$out" && fail "ustack ping saw corrupted replies"
check_pcap "$PING_PCAP"

# 4. ustack pings Linux with 8000 bytes, fragmented both ways.
PING_PCAP2="$WORKDIR/ping-8000.pcap"
out="$WORKDIR/ustack-ping-8000.txt"
add_log "$out"
log "ustack ping -c 3 -s 8000 $LINUX_ADDR"
in_ns timeout 30 "$USTACK" ping --tap "$TAP" --addr "$USTACK_ADDR/24" --mac "$USTACK_MAC" --pcap "$PING_PCAP2" \
  -c 3 -i 0.2 -W 3 -s 8000 "$LINUX_ADDR" >"$out" 2>&1 || fail "ustack ping -s 8000 exited with status $?"
cat "$out"
expect_received 3 "$out"
grep -q 'wrong data' "$out" && fail "ustack ping -s 8000 saw corrupted replies"
check_pcap "$PING_PCAP2"

pass
