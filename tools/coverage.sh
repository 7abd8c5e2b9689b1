#!/usr/bin/env bash
# coverage.sh [DIR] — line coverage of lnet's library code by the ctest suite.
#
# 1. configures DIR (default build-cov/) as a Debug build with gcc's --coverage and
#    builds it;
# 2. clears old counters and runs the whole ctest suite (one BLAS thread, -j2). The
#    trainers that `lnet build` links call `cc` from PATH, so a wrapper in DIR/cov-bin
#    adds --coverage to those links (the libraries they link are instrumented);
# 3. runs `gcov -n` on every object of the libraries and prints, per module folder
#    (ir/, frontend/, passes/, codegen/, runtime/ and its subfolders) and in total,
#    the executable lines, the lines run and the percentage; tools/ is reported
#    apart, not in the total. `-v` after DIR also lists every file.
# Only the C sources are measured: the code the LLVM JIT generates is not.
# Exits with ctest's status, after the summary.
set -uo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build-cov}
verbose=${2:-}
root=$(pwd)

cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS=--coverage \
      -DCMAKE_EXE_LINKER_FLAGS=--coverage >/dev/null || exit 1
cmake --build "$dir" -j "$(nproc)" >/dev/null || exit 1

find "$dir" -name '*.gcda' -delete
mkdir -p "$dir/cov-bin"
bin=$(cd "$dir/cov-bin" && pwd)
real_cc=$(command -v cc)
printf '#!/bin/sh\nexec %s "$@" --coverage\n' "$real_cc" >"$dir/cov-bin/cc"
chmod +x "$dir/cov-bin/cc"
PATH="$bin:$PATH" OPENBLAS_NUM_THREADS=1 \
  ctest --test-dir "$dir" -j2 --no-tests=error --output-on-failure
tests_rc=$?

# One line per source file: "path lines covered", from gcov's
# "File 'x.c'" / "Lines executed:P% of N" pairs. Each .c file is compiled
# into one object, so no file is counted twice.
per_file() {
  find "$dir" -name '*.gcno' -not -path '*/tests/*' | while read -r gcno; do
    ( cd "$(dirname "$gcno")" && gcov -n "$(basename "$gcno")" 2>/dev/null )
  done | awk -v root="$root/" '
    /^File / {      # absolute, or relative to DIR when ccache rewrote it
      f = $2; gsub(/\x27/, "", f); sub("^" root, "", f); sub(/^(\.\.\/)+/, "", f); next
    }
    /^Lines executed:/ && f ~ /^(ir|frontend|passes|codegen|runtime|tools)\/.*\.c$/ {
      split($2, a, ":"); pct = a[2]; sub(/%/, "", pct); n = $4
      printf "%s %d %d\n", f, n, int(pct * n / 100 + 0.5)
    }
    { f = "" }' | sort -u
}

per_file | awk -v verbose="$verbose" '
  function module(f,   d) { d = f; sub(/\/[^\/]*$/, "", d); return d }
  {
    m = module($1); lines[m] += $2; cov[m] += $3
    if (verbose == "-v") printf "  %-40s %6d %6d %6.1f%%\n", $1, $2, $3, $2 ? 100 * $3 / $2 : 100
  }
  END {
    printf "%-20s %8s %8s %8s\n", "module", "lines", "covered", "percent"
    n = split("ir frontend passes codegen runtime runtime/kernels runtime/exec runtime/data runtime/io runtime/schedules", order, " ")
    for (i = 1; i <= n; i++) {
      m = order[i]; tl += lines[m]; tc += cov[m]
      printf "%-20s %8d %8d %7.1f%%\n", m, lines[m], cov[m], lines[m] ? 100 * cov[m] / lines[m] : 0
    }
    printf "%-20s %8d %8d %7.1f%%\n", "total (library)", tl, tc, tl ? 100 * tc / tl : 0
    printf "%-20s %8d %8d %7.1f%%\n", "tools (apart)", lines["tools"], cov["tools"],
           lines["tools"] ? 100 * cov["tools"] / lines["tools"] : 0
  }'
exit $tests_rc
