#!/usr/bin/env bash
# compare_logs.sh A.csv B.csv TOL — two `lnet train --log X.csv` logs of the
# same run on two devices: the same rows, and every loss_* and acc_* column
# within TOL (|a - b| <= TOL * max(1, |b|)). Prints the largest difference;
# exit 1 on a mismatch.
set -euo pipefail
a=$1 b=$2 tol=$3
[ "$(wc -l < "$a")" = "$(wc -l < "$b")" ] || { echo "FAIL: $a and $b have different rows"; exit 1; }
paste -d'\n' "$a" "$b" | awk -F, -v tol="$tol" '
  NR == 1 { for (i = 1; i <= NF; i++) if ($i ~ /^(loss|acc)_/) col[i] = $i; next }
  NR == 2 { next }
  NR % 2 == 1 { n = split($0, x, ","); next }
  {
    for (i in col) {
      if (x[i] == "" && $i == "") continue
      d = x[i] - $i; if (d < 0) d = -d
      s = $i < 0 ? -$i : $i; if (s < 1) s = 1
      if (d / s > worst) worst = d / s
      if (d > tol * s) { printf "FAIL: %s step %s: %s vs %s\n", col[i], $2, x[i], $i; bad = 1 }
    }
  }
  END { printf "max relative difference %.3g (tolerance %s)\n", worst, tol; exit bad }'
