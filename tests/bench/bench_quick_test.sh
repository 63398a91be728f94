#!/usr/bin/env bash
# `ustack bench --quick` end to end: every system it can run here, the table, the JSON and the plot. It
# proves the benchmark works; it asserts no speed (figures on a shared CI machine mean little). It checks
# that ustack's own figures are all there and that every peer is either measured or says why not.
#
# usage: bench_quick_test.sh USTACK_BINARY
set -u
ustack=${1:?usage: bench_quick_test.sh USTACK_BINARY}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if ! "$ustack" bench --quick --json "$out/bench.json" --plot "$out/bench.png" >"$out/table.txt" 2>"$out/err.txt"; then
  echo "FAIL: ustack bench --quick failed"
  cat "$out/table.txt" "$out/err.txt"
  exit 1
fi
cat "$out/table.txt"
python3 - "$out/bench.json" <<'PY' || exit 1
import json, sys
d = json.load(open(sys.argv[1]))
for k in ("cpus", "memcpy_cached_gbytes_per_s", "checksum_gbytes_per_s", "cacheline_rtt_ns"):
    assert d["machine"][k] > 0, k
res = {(r["metric"], r["system"]): r for r in d["results"]}
for r in d["results"]:
    assert r["min"] <= r["median"] <= r["max"], r
    assert set(r) >= {"metric", "system", "median", "min", "max", "unit"}, r
metrics = ["bulk_mtu1500_gbps", "bulk_64k_gbps", "rr_1byte_p50_us", "rr_1byte_p99_us", "crr_per_s",
           "idle_conn_bytes", "bulk_mtu1500_loss1pct_gbps", "instructions_per_byte"]
for m in metrics:
    assert (m, "ustack") in res, "no ustack figure for " + m
    assert res[(m, "ustack")]["median"] > 0, m
unavail = {(u["metric"], u["system"]) for u in d["unavailable"]}
for s in ("ustack_1core", "lwip", "linux_veth", "linux_veth_nooffload", "linux_lo"):
    for m in metrics:
        if m == "instructions_per_byte" and s.startswith("linux"):
            continue
        assert (m, s) in res or (m, s) in unavail, "%s %s neither measured nor explained" % (m, s)
print("OK: %d figures, %d explained as unavailable" % (len(d["results"]), len(unavail)))
PY
if [[ ! -s $out/bench.png ]] || [[ $(head -c 4 "$out/bench.png" | od -An -c | tr -d ' ') != '211PNG' ]]; then
  echo "FAIL: no PNG plot"
  exit 1
fi
echo "OK: plot written"
