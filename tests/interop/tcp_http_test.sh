#!/usr/bin/env bash
# HTTP from the Linux kernel's TCP (curl) to `ustack serve --http 80` over a TAP device:
#   - GET / answers 200 with the page that says "Hello from ustack";
#   - GET /bytes/1000000 answers 200 with exactly 1,000,000 bytes, byte i being 'a' + (i mod 26)
#     (compared by SHA-256 with the pattern made here), and the transfer rate is printed;
#   - two requests on one kept-alive connection are both answered;
#   - an unknown path answers 404;
#   - the serve's capture of the small requests is clean for tshark (TCP checksums included).
# usage: tcp_http_test.sh /path/to/ustack   (exit 77: skipped)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
interop_init "$@"
need_tools ping curl python3 tshark sha256sum awk stat ss

make_netns
SERVE_PCAP="$WORKDIR/serve.pcap"
start_serve --http 80 --pcap "$SERVE_PCAP"
wait_reachable
URL="http://$USTACK_ADDR"

# 1. GET /
page="$WORKDIR/index.html"
hdrs="$WORKDIR/index.headers"
add_log "$hdrs"
code=$(in_ns curl -sS --max-time 15 -D "$hdrs" -o "$page" -w '%{http_code}' "$URL/") || fail "curl $URL/ failed"
[[ "$code" == 200 ]] || fail "GET / answered $code"
grep -q 'Hello from ustack' "$page" || fail "GET / body lacks 'Hello from ustack': $(head -c 200 "$page")"
grep -qi '^content-type: text/html' "$hdrs" || fail "GET / is not text/html"
log "GET / -> 200, $(stat -c %s "$page") bytes of HTML with 'Hello from ustack'"

# 2. GET /bytes/1000000 against the pattern.
N=1000000
want="$WORKDIR/pattern"
python3 -c 'import sys
n = int(sys.argv[1]); b = bytes(range(97, 123))
sys.stdout.buffer.write((b * (n // 26 + 1))[:n])' "$N" >"$want"
got="$WORKDIR/bytes"
res=$(in_ns curl -sS --max-time 30 -o "$got" -w '%{http_code} %{time_total}' "$URL/bytes/$N") ||
  fail "curl $URL/bytes/$N failed"
read -r code secs <<<"$res"
[[ "$code" == 200 ]] || fail "GET /bytes/$N answered $code"
expect_same_file "$got" "$want" "GET /bytes/$N"
log "GET /bytes/$N: $(mib_rate "$N" 0 "$secs") MiB/s (curl's time_total $secs s, connect to last byte; ustack -> Linux)"

# 3. Keep-alive: two requests on one connection (curl reuses it for the second URL).
res=$(in_ns curl -sS --max-time 15 -o "$WORKDIR/ka1" -o "$WORKDIR/ka2" -w '%{http_code}:%{num_connects} ' \
  "$URL/" "$URL/bytes/100000") || fail "curl keep-alive failed"
[[ "$res" == "200:1 200:0 " ]] || fail "keep-alive: curl reports '$res' (status:new connections), expected '200:1 200:0 '"
head -c 100000 "$want" | cmp -s - "$WORKDIR/ka2" || fail "keep-alive: the second response's body is wrong"
log "keep-alive: GET / and GET /bytes/100000 on one connection, both 200, body right"

# 4. An unknown path.
code=$(in_ns curl -sS --max-time 15 -o /dev/null -w '%{http_code}' "$URL/nothing-here") || fail "curl 404 failed"
[[ "$code" == 404 ]] || fail "GET /nothing-here answered $code, expected 404"
log "GET /nothing-here -> 404"

stop_serve
[[ $(counter TcpConnectionsAccepted) -eq 4 ]] || fail "TcpConnectionsAccepted is $(counter TcpConnectionsAccepted), expected 4"
out=$(counter TcpAppBytesOut)
[[ "$out" -gt "$N" ]] || fail "TcpAppBytesOut is $out, expected more than $N"
check_pcap "$SERVE_PCAP"
bad=$(tshark -n -r "$SERVE_PCAP" -o tcp.check_checksum:TRUE -Y 'tcp.checksum.status == "Bad"' 2>/dev/null | wc -l)
[[ "$bad" -eq 0 ]] || fail "$bad TCP segments with bad checksums in the capture"
log "capture: no bad TCP checksums"

pass
