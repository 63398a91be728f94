#!/usr/bin/env bash
# The main job: install what is missing, build the release preset, run `ustack demo` on the in-memory
# default (two stacks on a memory wire; no root needed once the packages are there).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh build
cmake --preset release >/dev/null
cmake --build --preset release -j"$(nproc)"
exec build/release/ustack demo "$@"
