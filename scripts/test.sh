#!/usr/bin/env bash
# Every test: install what is missing; build and run the whole suite in the release build and again under
# ASan+UBSan; build the libFuzzer targets and run each for a bounded time. Interop tests need root.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh test
jobs=$(nproc)
fuzz_seconds=${USTACK_FUZZ_SECONDS:-60}

for preset in release asan; do
  echo "=== build ($preset)"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j"$jobs"
  echo "=== test ($preset)"
  ctest --preset "$preset" -j"$jobs"
done

if [ -x fuzz/run.sh ]; then
  echo "=== fuzz (${fuzz_seconds}s per target)"
  fuzz/run.sh "$fuzz_seconds"
fi
echo "=== all tests passed"
