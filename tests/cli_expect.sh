#!/usr/bin/env bash
# cli_expect.sh RC REGEX COMMAND — runs COMMAND with bash, shows its output, and
# passes only when all three hold: the exit status is RC, the output (stdout
# and stderr together) matches the Perl regular expression REGEX ("" matches
# anything; "\n" matches across lines), and no sanitizer report is in it.
# ctest's PASS_REGULAR_EXPRESSION would ignore the exit status; this does not.
set -u
want_rc=$1 regex=$2 cmd=$3
out=$(mktemp)
trap 'rm -f "$out"' EXIT
bash -c "$cmd" >"$out" 2>&1
rc=$?
cat "$out"
fail=0
if [ "$rc" -ne "$want_rc" ]; then
  echo "cli_expect: FAIL: exit status $rc, expected $want_rc" >&2
  fail=1
fi
if [ -n "$regex" ] && ! grep -Pzq -- "$regex" "$out"; then
  echo "cli_expect: FAIL: output does not match /$regex/" >&2
  fail=1
fi
if grep -Eq 'ERROR: .*Sanitizer|runtime error:' "$out"; then
  echo "cli_expect: FAIL: sanitizer report in the output" >&2
  fail=1
fi
exit $fail
