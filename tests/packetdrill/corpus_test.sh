#!/usr/bin/env bash
# Runs the public packetdrill corpora (google, gvisor with the linux profile; freebsd-sample with the rfc
# profile) through `ustack drill --json` and fails only on a regression: a script listed in
# expected_pass.txt (next to this file) that no longer passes. New passes are reported; add them to the
# list in the same commit as the fix.
#
# The corpus is test data outside the repository: $PACKETDRILL_CORPUS if set, else /work/shared/packetdrill
# (an absolute path, since CI clones the repository elsewhere). Without it the test is skipped (exit 77).
#
# usage: corpus_test.sh USTACK_BINARY
set -u
ustack=${1:?usage: corpus_test.sh USTACK_BINARY}
ustack=$(cd "$(dirname "$ustack")" && pwd)/$(basename "$ustack")
here=$(cd "$(dirname "$0")" && pwd)
corpus=${PACKETDRILL_CORPUS:-/work/shared/packetdrill}
if [[ ! -d $corpus/google || ! -d $corpus/gvisor || ! -d $corpus/freebsd-sample ]]; then
  echo "SKIP: packetdrill corpus not found at $corpus (set PACKETDRILL_CORPUS)"
  exit 77
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cd "$corpus" || exit 1
"$ustack" drill --json google gvisor >"$out/linux.json"
"$ustack" drill --json --profile rfc freebsd-sample >"$out/rfc.json"
for f in linux rfc; do
  if ! grep -q '"passed":' "$out/$f.json"; then
    echo "FAIL: ustack drill did not finish ($f profile)"
    exit 1
  fi
done
# One result per line: {"script": "PATH", "outcome": "PASS", ...}
sed -n 's/^  {"script": "\([^"]*\)", "outcome": "PASS".*/\1/p' "$out/linux.json" "$out/rfc.json" | sort >"$out/pass.txt"
grep -v '^#' "$here/expected_pass.txt" | sed '/^$/d' | sort >"$out/expected.txt"
for f in linux rfc; do
  sed -n 's/.*"passed": \([0-9]*\), "failed": \([0-9]*\), "skipped": \([0-9]*\)}/\1 passed, \2 failed, \3 skipped/p' \
    "$out/$f.json" | sed "s/^/$f profile: /"
done
regressions=$(comm -23 "$out/expected.txt" "$out/pass.txt")
new=$(comm -13 "$out/expected.txt" "$out/pass.txt")
if [[ -n $new ]]; then
  echo "New passes (add them to tests/packetdrill/expected_pass.txt):"
  echo "$new" | sed 's/^/  /'
fi
if [[ -n $regressions ]]; then
  echo "FAIL: scripts in expected_pass.txt that no longer pass:"
  echo "$regressions" | sed 's/^/  /'
  for s in $regressions; do
    grep -h "\"script\": \"$s\"" "$out/linux.json" "$out/rfc.json" | sed 's/^/    /'
  done
  exit 1
fi
echo "OK: all $(wc -l <"$out/expected.txt") expected passes pass"
