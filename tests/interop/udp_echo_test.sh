#!/usr/bin/env bash
# UDP echo between the Linux kernel and `ustack serve --udp-echo 7` over a TAP device: socat sends
# datagrams of 5, 1472 (one full frame), 8000 and 65507 bytes (the largest; fragmented both ways) and each
# must come back byte for byte. The serve's counters must show the reassembly and fragmentation, and its
# capture must be clean for tshark.
# usage: udp_echo_test.sh /path/to/ustack   (exit 77: skipped)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
interop_init "$@"
need_tools ping socat tshark sha256sum head stat awk

make_netns
SERVE_PCAP="$WORKDIR/serve.pcap"
start_serve --udp-echo 7 --pcap "$SERVE_PCAP"
wait_reachable

# udp_echo SIZE: one datagram of SIZE random bytes to port 7; the echo must be identical. socat sends
# stdin as one datagram (-b 65536 lets it read all of it at once) and writes what comes back; the loop
# polls the output until the echo is complete (bounded), then stops socat.
udp_echo() {
  local size=$1 in out err pid i got want
  in="$WORKDIR/udp-$size.in"
  out="$WORKDIR/udp-$size.out"
  err="$WORKDIR/socat-$size.log"
  add_log "$err"
  head -c "$size" /dev/urandom >"$in"
  : >"$out"
  ip netns exec "$NS" socat -b 65536 -t 10 -T 10 - "UDP:$USTACK_ADDR:7" <"$in" >"$out" 2>"$err" &
  pid=$!
  _PIDS+=("$pid")
  for i in $(seq 200); do
    got=$(stat -c %s "$out")
    [[ "$got" -ge "$size" ]] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  got=$(stat -c %s "$out")
  [[ "$got" -eq "$size" ]] || fail "udp echo of $size bytes: got $got bytes back"
  want=$(sha256sum <"$in" | awk '{print $1}')
  got=$(sha256sum <"$out" | awk '{print $1}')
  [[ "$got" == "$want" ]] || fail "udp echo of $size bytes: the echo differs (sha256 $got, sent $want)"
  log "udp echo of $size bytes: identical (sha256 ${want:0:16}...)"
}

udp_echo 5
udp_echo 1472
udp_echo 8000
udp_echo 65507

stop_serve
expect_counter_positive UdpInDatagrams UdpOutDatagrams IpReasmOKs IpFragCreates
check_pcap "$SERVE_PCAP"

pass
