#!/usr/bin/env bash
# Builds the fuzz preset (clang, ASan + UBSan, libFuzzer) and runs fuzz_rx for SECONDS on a copy of the
# seed corpus (fuzz/corpus/rx stays as checked in). Prints the number of executions. Exits non-zero on
# any crash, leak, sanitizer report or timeout, and keeps the input that caused it in
# build/fuzz/artifacts/ (reproduce: build/fuzz/fuzz/fuzz_rx FILE; FUZZ_RX_REPORT=1 shows what it did).
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

target=build/fuzz/fuzz/fuzz_rx
artifacts=$root/build/fuzz/artifacts
mkdir -p "$artifacts"
work=$(mktemp -d "${TMPDIR:-/tmp}/ustack-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus"
cp fuzz/corpus/rx/* "$work/corpus/"

echo "fuzz_rx: ${seconds}s on a copy of fuzz/corpus/rx ($(ls fuzz/corpus/rx | wc -l) seeds)"
rc=0
# -entropic=0: every input builds a whole stack and so touches tens of thousands of features; for runs of
# minutes, entropic scheduling's bookkeeping over them costs more executions than it gains.
"$target" -max_total_time="$seconds" -max_len=8192 -timeout=10 -entropic=0 -print_final_stats=1 \
  -artifact_prefix="$artifacts/" "$work/corpus" >"$work/log" 2>&1 || rc=$?

# The progress lines are many; show the start, the end and anything that went wrong.
grep -E '^INFO: (Seed|Loaded|seed corpus)|INITED' "$work/log" || true
grep -vE '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)|^INFO:|^"|^###### |NEW_FUNC|INITED' "$work/log" | tail -n 40
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log" | tail -1)
echo "fuzz_rx: ${runs:-?} executions in ${seconds}s (${speed:-?} exec/s), corpus grew to $(ls "$work/corpus" | wc -l) inputs"
if [[ $rc -ne 0 ]]; then
  echo "fuzz_rx: FAILED (exit $rc); the crashing input is in $artifacts/:" >&2
  ls -t "$artifacts" | head -5 >&2
  exit 1
fi
echo "fuzz_rx: no crashes"
