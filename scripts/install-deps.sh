#!/usr/bin/env bash
# Installs the Debian packages ustack needs that are missing. Usage: install-deps.sh build|test|bench
# The package mirror sometimes fails to resolve for a minute: every apt-get step is retried.
set -euo pipefail

build_pkgs=(cmake g++ make pkg-config libgtest-dev libgmock-dev clang-format)
test_pkgs=(iproute2 iputils-ping socat tshark clang libclang-rt-14-dev curl ethtool procps python3)
# `ustack bench`: lwIP to compare with, callgrind for instructions per byte, matplotlib for the plot.
bench_pkgs=(liblwip-dev valgrind python3-matplotlib iproute2 ethtool procps python3)

want=("${build_pkgs[@]}")
[ "${1:-build}" = test ] && want+=("${test_pkgs[@]}" "${bench_pkgs[@]}")
[ "${1:-build}" = bench ] && want+=("${bench_pkgs[@]}")

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
  echo "install-deps: missing packages (${missing[*]}); run as root to install them" >&2
  exit 1
fi

retry() {
  local n
  for n in 1 2 3 4 5 6; do
    "$@" && return 0
    echo "install-deps: '$*' failed (attempt $n), retrying in 20 s" >&2
    sleep 20
  done
  return 1
}

export DEBIAN_FRONTEND=noninteractive
echo "install-deps: installing ${missing[*]}"
retry apt-get update -q
retry apt-get install -y -q --no-install-recommends "${missing[@]}"
