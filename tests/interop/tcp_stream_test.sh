#!/usr/bin/env bash
# Bulk TCP between the Linux kernel and `ustack serve` over a TAP device, 100 MiB of random bytes each:
#   - echo (port 7): a Linux client sends in one thread and reads in another, half-closes after the
#     last byte and reads until ustack closes; what comes back has the input's SHA-256;
#   - discard (port 9): a Linux client sends, half-closes and waits for ustack's FIN; the serve (run on
#     its own so that nothing else counts) reports TcpAppBytesIn = 104857600;
#   - echo again with --no-offload (plain frames instead of TSO/GRO frames with virtio-net headers).
# Prints the rates. usage: tcp_stream_test.sh /path/to/ustack   (exit 77: skipped)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
interop_init "$@"
need_tools ping python3 sha256sum head awk stat

SIZE=$((100 * 1024 * 1024))

# Average frame sizes (in, out) on the TAP device, from the counters the last serve printed at exit.
frame_sizes() {
  awk '/dev ustap/ { printf "%d %d\n", $6 / ($4 > 0 ? $4 : 1), $11 / ($9 > 0 ? $9 : 1) }' "$SERVE_LOG" | tail -1
}
IN="$WORKDIR/in"
head -c "$SIZE" /dev/urandom >"$IN"
make_netns

# 1. Echo.
start_serve --echo 7
wait_reachable
OUT="$WORKDIR/echo.out"
log "echo: $SIZE bytes to $USTACK_ADDR:7 and back"
res=$(tcp_stream_client "$USTACK_ADDR" 7 "$IN" "$OUT" 60) || fail "echo client failed: $res"
read -r _ sent _ got _ secs <<<"$res"
log "echo client: $res"
expect_same_file "$OUT" "$IN" "echo of 100 MiB"
log "echo: $(mib_rate "$SIZE" 0 "$secs") MiB/s each way ($SIZE bytes Linux -> ustack -> Linux in $secs s)"
log "echo: Linux retransmitted $(linux_counter TcpRetransSegs) segments so far"
stop_serve
read -r rx_avg tx_avg <<<"$(frame_sizes)"
log "echo: average frame $rx_avg bytes in, $tx_avg out (TSO and GRO through the virtio-net header)"
((tx_avg > 1514)) || fail "echo: ustack sent no TSO frames (average $tx_avg bytes)"
[[ $(counter TcpAppBytesIn) -eq $SIZE ]] || fail "echo: TcpAppBytesIn is $(counter TcpAppBytesIn), expected $SIZE"
[[ $(counter TcpAppBytesOut) -eq $SIZE ]] || fail "echo: TcpAppBytesOut is $(counter TcpAppBytesOut), expected $SIZE"

# 2. Discard, on a serve of its own.
start_serve --discard 9
wait_reachable
OUT="$WORKDIR/discard.out"
log "discard: $SIZE bytes to $USTACK_ADDR:9"
res=$(tcp_stream_client "$USTACK_ADDR" 9 "$IN" "$OUT" 60) || fail "discard client failed: $res"
read -r _ sent _ got _ secs <<<"$res"
log "discard client: $res"
[[ "$sent" -eq "$SIZE" ]] || fail "discard: sent $sent bytes, expected $SIZE"
[[ "$got" -eq 0 ]] || fail "discard: got $got bytes back, expected none"
log "discard: $(mib_rate "$SIZE" 0 "$secs") MiB/s ($SIZE bytes Linux -> ustack in $secs s, until ustack's FIN)"
log "discard: Linux retransmitted $(linux_counter TcpRetransSegs) segments so far"
stop_serve
in_bytes=$(counter TcpAppBytesIn)
[[ "$in_bytes" -eq "$SIZE" ]] || fail "discard: TcpAppBytesIn is $in_bytes, expected $SIZE"
log "discard: TcpAppBytesIn = $in_bytes"

# 3. Echo again over plain frames (--no-offload: no virtio-net header, every frame MTU-sized and
#    checksummed on both sides), the path a TAP device without offloads takes.
start_serve --echo 7 --no-offload
wait_reachable
OUT="$WORKDIR/echo-plain.out"
res=$(tcp_stream_client "$USTACK_ADDR" 7 "$IN" "$OUT" 120) || fail "plain echo client failed: $res"
read -r _ sent _ got _ secs <<<"$res"
expect_same_file "$OUT" "$IN" "echo of 100 MiB over plain frames"
log "plain echo: $(mib_rate "$SIZE" 0 "$secs") MiB/s each way"
stop_serve
read -r rx_avg tx_avg <<<"$(frame_sizes)"
log "plain echo: average frame $rx_avg bytes in, $tx_avg out"
((rx_avg <= 1518 && tx_avg <= 1514)) || fail "plain echo: frames larger than the MTU ($rx_avg in, $tx_avg out)"

pass
