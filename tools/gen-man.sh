#!/usr/bin/env bash
# gen-man.sh LNET — print the man page lnet.1 from the binary's own --help
# texts, the same ones docs/cli.md is made of (tools/gen-cli-doc.sh): one
# section per command, its help text verbatim. The build runs it.
set -euo pipefail
lnet=${1:?usage: gen-man.sh path/to/lnet}
version=$("$lnet" --version | head -1 | cut -d' ' -f2)
# roff: a backslash is \e, and a line starting with . or ' is escaped with \&
verbatim() { sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"; }
cat <<HEAD
.TH LNET 1 "" "lnet $version" "User Commands"
.SH NAME
lnet \- compile .lnet models and train them with local parallelism
.SH SYNOPSIS
.B lnet
.I COMMAND
[\fIFILE\fR] [\fIoptions\fR]
.SH DESCRIPTION
.nf
HEAD
"$lnet" --help | verbatim
echo '.fi'
for cmd in $("$lnet" --help | awk '/^commands:/{on=1;next} on&&/^  [a-z]/{print $1} on&&/^$/{on=0}'); do
  printf '.SH "LNET %s"\n.nf\n' "$(echo "$cmd" | tr a-z A-Z)"
  "$lnet" "$cmd" --help | verbatim
  echo '.fi'
done
cat <<'TAIL'
.SH EXIT STATUS
0 success, 1 user error (bad model, bad flag, bad data or checkpoint), 2 internal error.
.SH FILES
.TP
.I PREFIX/lib/lnet/
the static libraries
.B lnet build
links trainers with (found from the path of the lnet executable; see
.BR "lnet --version" )
.TP
.I PREFIX/share/lnet/examples/
example models, and embed/, a program that uses the C library (lnet.h, pkg-config lnet)
.TP
.I PREFIX/share/doc/lnet/
the documentation: language, method, command-line reference
TAIL
