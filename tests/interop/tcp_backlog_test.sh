#!/usr/bin/env bash
# The listen backlog (128) of `ustack serve --echo 7` against bursts of 300 concurrent Linux clients:
# each client opens a connection (all 300 SYNs go out at once), sends one line and must get exactly that
# line back, within 60 s.
#   1. ustack running: it accepts as fast as it can; whatever its listener drops is served later.
#   2. ustack paused with SIGSTOP for 0.5 s while the SYNs arrive: they wait in the TAP device's queue
#      and ustack meets all 300 in one batch, more than its SYN queue (256) and accept queue (128) hold.
#      The dropped SYNs and handshake ACKs must be served once the queue drains, after Linux
#      retransmits (SYN after 1 s; data, which completes the handshake, after its RTO).
# usage: tcp_backlog_test.sh /path/to/ustack   (exit 77: skipped)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
interop_init "$@"
need_tools ping python3 awk

N=300
make_netns
start_serve --echo 7
wait_reachable

BURST_PY="$WORKDIR/burst.py"
cat >"$BURST_PY" <<'PY'
import errno, selectors, socket, sys, time
addr, port, n, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
t0 = time.monotonic()
sel = selectors.DefaultSelector()
conns = {}
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    rc = s.connect_ex((addr, port))
    if rc not in (0, errno.EINPROGRESS):
        sys.exit("connect %d: %s" % (i, errno.errorcode.get(rc, rc)))
    line = ("connection %d of %d %s\n" % (i, n, "x" * (i % 50))).encode()
    conns[s] = {"i": i, "line": line, "sent": 0, "got": b"", "connected": None, "done": None}
    sel.register(s, selectors.EVENT_WRITE)
print("issued %d connects" % n, flush=True)
done = 0
while done < n:
    left = t0 + limit - time.monotonic()
    if left <= 0:
        missing = sorted(c["i"] for c in conns.values() if c["done"] is None)
        sys.exit("%d of %d connections not echoed within %.0f s: %s" % (len(missing), n, limit, missing[:20]))
    for key, ev in sel.select(min(left, 1.0)):
        s = key.fileobj
        c = conns[s]
        if c["connected"] is None:
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                sys.exit("connection %d: %s" % (c["i"], errno.errorcode.get(err, err)))
            c["connected"] = time.monotonic() - t0
        if c["sent"] < len(c["line"]):
            c["sent"] += s.send(c["line"][c["sent"]:])
            if c["sent"] == len(c["line"]):
                sel.modify(s, selectors.EVENT_READ)
            continue
        b = s.recv(4096)
        if not b:
            sys.exit("connection %d: closed after %r" % (c["i"], c["got"]))
        c["got"] += b
        if len(c["got"]) >= len(c["line"]):
            if c["got"] != c["line"]:
                sys.exit("connection %d: echoed %r, sent %r" % (c["i"], c["got"], c["line"]))
            c["done"] = time.monotonic() - t0
            sel.unregister(s)
            s.close()
            done += 1
conn_t = sorted(c["connected"] for c in conns.values())
done_t = sorted(c["done"] for c in conns.values())
print("all %d echoed in %.3f s; connected: median %.3f s, max %.3f s; echoed: median %.3f s, max %.3f s" %
      (n, time.monotonic() - t0, conn_t[n // 2], conn_t[-1], done_t[n // 2], done_t[-1]))
PY

# burst NAME: the N clients in the background; sets BURST_PID and BURST_OUT.
burst() {
  BURST_OUT="$WORKDIR/$1.txt"
  bg_in_ns "$BURST_OUT" timeout 70 python3 "$BURST_PY" "$USTACK_ADDR" 7 "$N" 60
  BURST_PID=$BG_PID
}
# burst_issued: waits (at most 10 s) until the clients have called connect() on every socket.
burst_issued() {
  for _ in $(seq 200); do
    grep -q '^issued' "$BURST_OUT" && return 0
    kill -0 "$BURST_PID" 2>/dev/null || break
    sleep 0.05
  done
  fail "the burst client did not start its connections within 10 s"
}
# burst_result: waits for the clients (bounded) and prints their summary and how often Linux had to
# retransmit SYNs and segments meanwhile.
burst_result() {
  wait_pid "$BURST_PID" 75 "burst client"
  [[ $WAIT_RC -eq 0 ]] || fail "burst client failed (status $WAIT_RC): $(tail -3 "$BURST_OUT")"
  log "  $(tail -1 "$BURST_OUT")"
  SYN_RETRANS=$(($(linux_counter TcpExtTCPSynRetrans) - SYN_RETRANS0))
  RETRANS=$(($(linux_counter TcpRetransSegs) - RETRANS0))
  log "  Linux retransmitted $SYN_RETRANS SYNs and $RETRANS segments in all"
}
SYN_RETRANS0=$(linux_counter TcpExtTCPSynRetrans)
RETRANS0=$(linux_counter TcpRetransSegs)

log "1. $N concurrent connections to $USTACK_ADDR:7, one line each"
burst running
burst_result

log "2. $N concurrent connections while ustack is paused for 0.5 s"
SYN_RETRANS0=$(linux_counter TcpExtTCPSynRetrans)
RETRANS0=$(linux_counter TcpRetransSegs)
kill -STOP "$SERVE_PID"
burst paused
burst_issued
sleep 0.5
kill -CONT "$SERVE_PID"
burst_result
[[ $((SYN_RETRANS + RETRANS)) -gt 0 ]] ||
  log "  note: nothing needed a retransmission this time (ustack's listener held every connection)"

stop_serve
accepted=$(counter TcpConnectionsAccepted)
[[ "$accepted" -eq $((2 * N)) ]] || fail "TcpConnectionsAccepted is $accepted, expected $((2 * N))"
log "ustack accepted $accepted connections; its listener dropped $(counter drop:TCP_LISTEN_OVERFLOW) segments (accept or SYN queue full)"

pass
