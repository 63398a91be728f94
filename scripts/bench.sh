#!/usr/bin/env bash
# The benchmark: install what is missing (lwIP, valgrind, matplotlib), build the release preset and run
# `ustack bench` with the given options (e.g. --quick, --json FILE, --plot FILE.png). The Linux systems
# need root (network namespaces). See docs/BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh bench
cmake --preset release >/dev/null
cmake --build --preset release -j"$(nproc)"
exec build/release/ustack bench "$@"
