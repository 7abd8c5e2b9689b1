#!/usr/bin/env bash
# train_compare.sh LNET MODEL "COMMON" "A" "B" [SPLIT] — trains MODEL twice with
# `LNET train MODEL COMMON A` and `... COMMON B`, and passes only when both runs
# are the same training: the checkpoints (--save) are equal byte for byte, and
# the logs (--log) hold the same steps with the same losses — for every train
# line the task loss (a local run's auxiliary heads log whatever their block
# last posted, which varies), for every evaluation line everything but the
# timings. With SPLIT, run B stops after SPLIT steps (--max-steps SPLIT, which
# COMMON's own --max-steps must exceed), saves, and a second run resumes from
# that checkpoint to the end; its two logs are read as one, without the
# evaluation at the stop (SPLIT should be mid-epoch).
# LAUNCH_A, LAUNCH_B (the stopped run: LAUNCH_B1, the resumed one: LAUNCH_B2)
# in the environment start a run's lnet through a launcher, e.g.
# LAUNCH_B="mpirun -np 2" for a distributed run B.
set -u
lnet=$1 model=$2 common=$3 a=$4 b=$5 split=${6:-}
launch_a=${LAUNCH_A:-} launch_b=${LAUNCH_B:-}
launch_b1=${LAUNCH_B1:-$launch_b} launch_b2=${LAUNCH_B2:-$launch_b}
runs="A: ${launch_a:+$launch_a }'$a'; B: ${launch_b1:+$launch_b1 }'$b'${split:+, stopped after step $split and resumed${launch_b2:+ by $launch_b2}}"
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
run() { # run NAME LAUNCHER ARGS...: one training run, logging to $d/NAME.jsonl
  local name=$1 launch=$2
  shift 2
  $launch "$lnet" train "$model" $common "$@" --quiet --log "$d/$name.jsonl" || {
    echo "train_compare: FAIL: $launch lnet train $model $common $* exited with $?"
    exit 1
  }
}
run a "$launch_a" $a --save "$d/a.ckpt"
if [ -n "$split" ]; then
  run b1 "$launch_b1" $b --max-steps "$split" --save "$d/b1.ckpt"
  run b2 "$launch_b2" $b --resume "$d/b1.ckpt" --save "$d/b.ckpt"
  # the stop at SPLIT evaluates, which the straight run does not
  grep -v "^{\"kind\":\"eval\",\"step\":$split," "$d/b1.jsonl" | cat - "$d/b2.jsonl" > "$d/b.jsonl"
else
  run b "$launch_b" $b --save "$d/b.ckpt"
fi
# kind, step and loss of a train line; an eval line without its timings
losses() {
  sed -E -e 's/^\{"kind":"train","step":([0-9]+),.*"examples_per_s":[^,]*,"loss":([^,]*),.*/train \1 \2/' \
         -e 's/"(train_s|examples_per_s)":[^,]*,//g' "$1"
}
losses "$d/a.jsonl" > "$d/a.txt"
losses "$d/b.jsonl" > "$d/b.txt"
steps=$(grep -c '^train ' "$d/a.txt")
if [ "$steps" -eq 0 ]; then
  echo "train_compare: FAIL: run A logged no training step"
  exit 1
fi
if [ -n "$split" ] && [ "$steps" -le "$split" ]; then
  echo "train_compare: FAIL: run A trained $steps steps, not more than SPLIT ($split)"
  exit 1
fi
if ! diff -u "$d/a.txt" "$d/b.txt"; then
  echo "train_compare: FAIL: the logged losses differ ($runs)"
  exit 1
fi
if ! cmp "$d/a.ckpt" "$d/b.ckpt"; then
  echo "train_compare: FAIL: the checkpoints differ ($runs)"
  exit 1
fi
echo "train_compare: the same training: $steps steps, $(grep -c '^{"kind":"eval"' "$d/a.txt") evaluations, checkpoint of $(stat -c %s "$d/a.ckpt") bytes"
