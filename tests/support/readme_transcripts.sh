#!/usr/bin/env bash
# readme_transcripts.sh LNET README WHICH — every transcript in README of an
# lnet command matching the regex WHICH (e.g. "cost"): a code-block line
# "$ lnet WHICH ..." or "$ build/lnet WHICH ...", then the output the README
# shows, up to the next "$ " line or the block's end. What LNET prints now,
# run from README's folder, must hold every line shown, in order (the README
# may leave lines out, never change one).
set -u
lnet=$1 readme=$2 which=$3
cd "$(dirname "$readme")" || exit 1
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
n=0 fail=0
while IFS= read -r cmd; do
  awk -v c="$cmd" '$0 == c { p = 1; next } p && (/^```/ || /^\$ /) { exit } p' "$readme" > "$t/want"
  args=${cmd#\$ }
  args=${args#build/}
  "$lnet" ${args#lnet } > "$t/got" 2>&1
  # every wanted line, in order, among the lines printed
  if ! awk 'NR == FNR { want[++n] = $0; next } i < n && $0 == want[i + 1] { i++ }
            END { exit i == n ? 0 : 1 }' "$t/want" "$t/got"; then
    echo "readme_transcripts: FAIL: '$cmd' now prints:"
    cat "$t/got"
    echo "readme_transcripts: README shows:"
    cat "$t/want"
    fail=1
  fi
  n=$((n + 1))
done < <(grep -E "^\\$ (build/)?lnet ($which) " "$readme")
echo "readme_transcripts: $n transcripts checked"
[ "$n" -gt 0 ] && exit $fail
exit 1
