#!/usr/bin/env bash
# The installed package, as a user gets it: `cmake --install` of this build tree into a temporary prefix,
# then examples/ configured and built against it (find_package(ustack)) and run on the in-memory default,
# and a one-line program built with `pkg-config --cflags --libs ustack`.
# Usage: install_test.sh BUILD_DIR EXAMPLES_DIR CXX
set -euo pipefail

build_dir=$1
examples_dir=$2
cxx=$3

for tool in cmake pkg-config; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not found"; exit 77; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

echo "--- cmake --install $build_dir --prefix $prefix"
cmake --install "$build_dir" --prefix "$prefix" >"$work/install.log" || { cat "$work/install.log"; fail "install"; }
pc=$(find "$prefix" -name ustack.pc)
[ -n "$pc" ] || fail "ustack.pc not installed"
libdir=$(dirname "$(dirname "$pc")")
for f in "$prefix"/include/ustack/{ustack,socket,addr,errc,result}.h "$libdir"/libustack.a \
         "$libdir"/cmake/ustack/ustack{Config,ConfigVersion,Targets}.cmake; do
  [ -f "$f" ] || fail "$f not installed"
done
# Nothing internal leaks through the public headers.
if grep -n '#include "' "$prefix"/include/ustack/*.h | grep -v '"ustack/'; then
  fail "a public header includes a non-public header"
fi

echo "--- examples against the package"
cmake -S "$examples_dir" -B "$work/examples" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS="-Wall -Wextra -Werror" >"$work/configure.log" ||
  { cat "$work/configure.log"; fail "configure examples"; }
cmake --build "$work/examples" -j2 >"$work/build.log" 2>&1 || { cat "$work/build.log"; fail "build examples"; }

msg="hello from the install test"
out=$("$work/examples/echo_client" "$msg") || fail "echo_client exited $?: $out"
echo "$out"
grep -q '^server: connection from 198.18.0.1:' <<<"$out" || fail "echo_client: no connection on the server"
grep -q "^client: sent ${#msg} bytes to 198.18.0.2:7, received \"$msg\"" <<<"$out" ||
  fail "echo_client: wrong echo"

out=$("$work/examples/echo_server") || fail "echo_server exited $?: $out"
echo "$out"
[ "$(grep -c '^client: ".*" came back$' <<<"$out")" = 3 ] || fail "echo_server: expected three round trips"
[ "$(grep -c '^server: 198.18.0.1:[0-9]* done, [0-9]* bytes echoed$' <<<"$out")" = 3 ] ||
  fail "echo_server: expected three connections served"

echo "--- pkg-config"
export PKG_CONFIG_PATH=$libdir/pkgconfig
cat >"$work/one.cc" <<'CC'
#include <ustack/ustack.h>
int main() { return ustack::Host::loopback()->socket(ustack::kAfInet, ustack::kSockStream).has_value() ? 0 : 1; }
CC
# shellcheck disable=SC2046  # the flags are words
"$cxx" -std=c++20 -Wall -Wextra -Werror "$work/one.cc" -o "$work/one" $(pkg-config --cflags --libs ustack) ||
  fail "pkg-config build"
"$work/one" || fail "pkg-config program exited $?"
echo "PASS"
