#!/usr/bin/env bash
# mpi_scaling.sh — `lnet cost --ranks R`'s predicted examples/s against the
# measured examples/s of `mpirun -np R lnet train`, for R = 1 .. 4 ranks.
#
#   bench/mpi_scaling.sh [MODEL]        (default examples/fmnist_mlp.lnet)
#
# The model trains with --method chunked --blocks K (K >= the most ranks) at
# its own batch size. Rows:
#   1 rank, 1 thread     plain `lnet train --threads 1` (no mpirun)
#   1 rank, 2 threads    the threaded local schedule, `lnet train --threads 2`
#   R ranks, 1 thread    `mpirun -np R lnet train --threads 1`, R = 2 .. 4
# Each row's prediction is `lnet cost MODEL --ranks R --threads N` (block
# step times measured on this machine); its measurement is the median of
# REPS runs' "samples_per_s" from --report. Settings, from the environment:
#   BLOCKS=4  STEPS=120  REPS=3  RANKS="2 3 4" ("": no mpirun rows)  LNET=build/lnet
#   MPIRUN="mpirun --allow-run-as-root --oversubscribe"
#   COST_FLAGS=""   extra `lnet cost` flags, e.g. "--link 1.25 --latency 50"
# A run that fails is reported as such; the table goes on.
set -u
cd "$(dirname "$0")/.." || exit 1
MODEL=${1:-examples/fmnist_mlp.lnet}
BLOCKS=${BLOCKS:-4}
STEPS=${STEPS:-120}
REPS=${REPS:-3}
RANKS=${RANKS-2 3 4}
LNET=${LNET:-build/lnet}
MPIRUN=${MPIRUN:-mpirun --allow-run-as-root --oversubscribe}
COST_FLAGS=${COST_FLAGS:-}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# json_get FILE EXPR: the Python expression EXPR of the JSON document d in FILE.
json_get() {
    python3 -c "import json, sys; d = json.load(open(sys.argv[1])); print($2)" "$1"
}

# predict R N: examples/s that `lnet cost --ranks R --threads N` predicts.
predict() {
    # shellcheck disable=SC2086
    if "$LNET" cost "$MODEL" --method chunked --blocks "$BLOCKS" --ranks "$1" --threads "$2" \
           $COST_FLAGS --json > "$tmp/cost.json" 2> "$tmp/cost.err"; then
        json_get "$tmp/cost.json" "'%.0f' % d['ranks']['examples_per_s']"
    else
        sed 's/^/  /' "$tmp/cost.err" >&2
        echo failed
    fi
}

# measure N LAUNCH...: the median samples_per_s of REPS runs of
# `LAUNCH lnet train --threads N`.
measure() {
    local threads=$1 rates=() r
    shift
    for ((i = 0; i < REPS; i++)); do
        rm -f "$tmp/report.json"
        if "$@" "$LNET" train "$MODEL" --method chunked --blocks "$BLOCKS" --threads "$threads" \
               --max-steps "$STEPS" --test-limit 64 --quiet --report "$tmp/report.json" > "$tmp/train.log" 2>&1 &&
           r=$(json_get "$tmp/report.json" "d['samples_per_s']" 2>/dev/null); then
            rates+=("$r")
        else
            sed 's/^/  /' "$tmp/train.log" | tail -3 >&2
        fi
    done
    if [ ${#rates[@]} -eq 0 ]; then
        echo failed
        return
    fi
    printf '%s\n' "${rates[@]}" | python3 -c \
        "import statistics, sys; print('%.0f' % statistics.median(float(x) for x in sys.stdin))"
}

# row LABEL R N LAUNCH...: one line of the table.
row() {
    local label=$1 ranks=$2 threads=$3
    shift 3
    local pred meas err
    pred=$(predict "$ranks" "$threads")
    meas=$(measure "$threads" "$@")
    err=$(python3 -c "import sys
p, m = sys.argv[1:]
print('%+.1f%%' % (100 * (float(p) - float(m)) / float(m)) if 'failed' not in (p, m) else '-')" \
        "$pred" "$meas")
    printf '| %-24s | %5d | %7d | %14s | %13s | %7s |\n' "$label" "$ranks" "$threads" "$pred" \
        "$meas" "$err"
}

echo "$MODEL: chunked, $BLOCKS blocks, $STEPS steps, median of $REPS runs; $(nproc) cores"
echo
printf '| %-24s | %5s | %7s | %14s | %13s | %7s |\n' configuration ranks threads \
    "predicted ex/s" "measured ex/s" error
echo "|--------------------------|-------|---------|----------------|---------------|---------|"
row "lnet train --threads 1" 1 1 env
row "lnet train --threads 2" 1 2 env
for R in $RANKS; do
    # shellcheck disable=SC2086
    row "mpirun -np $R --threads 1" "$R" 1 $MPIRUN -np "$R"
done
