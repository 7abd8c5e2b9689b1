#!/usr/bin/env bash
# gen-cli-doc.sh LNET — print docs/cli.md from the binary's own --help texts,
# so the CLI reference cannot drift from the code (a ctest compares them).
# Regenerate with: tools/gen-cli-doc.sh build/lnet > docs/cli.md
set -euo pipefail
lnet=${1:?usage: gen-cli-doc.sh path/to/lnet}
cat <<'HEAD'
# lnet command-line reference

Generated from `lnet --help` and `lnet COMMAND --help` by `tools/gen-cli-doc.sh`;
a test fails when this file and the binary disagree.

Exit status of every command: 0 success, 1 user error (bad model, bad flag, bad
data or checkpoint), 2 internal error. Errors in model files are printed as
`file:line:col: error: message`, the source line, and a caret.

## lnet

```
HEAD
"$lnet" --help
echo '```'
for cmd in $("$lnet" --help | awk '/^commands:/{on=1;next} on&&/^  [a-z]/{print $1} on&&/^$/{on=0}'); do
  printf '\n## lnet %s\n\n```\n' "$cmd"
  "$lnet" "$cmd" --help
  echo '```'
done
