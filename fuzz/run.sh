#!/usr/bin/env bash
# Builds the fuzz preset (clang, ASan + UBSan, libFuzzer) and runs each target for SECONDS: fuzz_rx on a
# copy of its seed corpus (fuzz/corpus/rx stays as checked in), then fuzz_tcp (TCP segments and socket
# calls against a listener and two connections) from fuzz/corpus/tcp if there is one, else from scratch.
# Prints the number of executions. Exits non-zero on any crash, leak, sanitizer report or timeout, and
# keeps the input that caused it in build/fuzz/artifacts/ (reproduce: build/fuzz/fuzz/fuzz_rx FILE, with
# FUZZ_RX_REPORT=1 to show what it did; build/fuzz/fuzz/fuzz_tcp FILE, with FUZZ_TCP_TRACE=1).
# usage: fuzz/run.sh SECONDS
set -euo pipefail

if [[ $# -ne 1 || ! "$1" =~ ^[0-9]+$ || "$1" -lt 1 ]]; then
  echo "usage: $0 SECONDS" >&2
  exit 2
fi
seconds=$1
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

cmake --preset fuzz
cmake --build --preset fuzz -j2

artifacts=$root/build/fuzz/artifacts
mkdir -p "$artifacts"
work=$(mktemp -d "${TMPDIR:-/tmp}/ustack-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

# run_target NAME SEEDS MAX_LEN
run_target() {
  local name=$1 seeds=$2 max_len=$3
  local target=build/fuzz/fuzz/$name
  mkdir "$work/$name"
  local nseeds=0
  if [[ -d $seeds ]] && compgen -G "$seeds/*" >/dev/null; then
    cp "$seeds"/* "$work/$name/"
    nseeds=$(ls "$seeds" | wc -l)
  fi
  echo "$name: ${seconds}s on a copy of $seeds ($nseeds seeds)"
  local rc=0
  # -entropic=0: every input builds a whole stack and so touches tens of thousands of features; for runs
  # of minutes, entropic scheduling's bookkeeping over them costs more executions than it gains.
  "$target" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -entropic=0 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$work/$name" >"$work/$name.log" 2>&1 || rc=$?

  # The progress lines are many; show the start, the end and anything that went wrong.
  grep -E '^INFO: (Seed|Loaded|seed corpus)|INITED' "$work/$name.log" || true
  grep -vE '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)|^INFO:|^"|^###### |NEW_FUNC|INITED' "$work/$name.log" | tail -n 40
  local runs speed
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$name.log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/$name.log" | tail -1)
  echo "$name: ${runs:-?} executions in ${seconds}s (${speed:-?} exec/s), corpus grew to $(ls "$work/$name" | wc -l) inputs"
  if [[ $rc -ne 0 ]]; then
    echo "$name: FAILED (exit $rc); the crashing input is in $artifacts/:" >&2
    ls -t "$artifacts" | head -5 >&2
    return 1
  fi
  echo "$name: no crashes"
}

status=0
run_target fuzz_rx fuzz/corpus/rx 8192 || status=1
run_target fuzz_tcp fuzz/corpus/tcp 4096 || status=1
exit $status
