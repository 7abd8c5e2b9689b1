#!/usr/bin/env bash
# reproduce.sh RESULT... — the runs and pictures of docs/paper.md, one result at a
# time (pareto, pareto_text, gradsim, memorize, filters; the accuracy table is
# accuracy.sh).
# Data go to $OUT (default bench/paper/out), pictures to docs/img/. Every run is
# skipped when its output exists, so a stopped script can be rerun.
set -euo pipefail
cd "$(dirname "$0")/../.."
lnet=${LNET:-build/lnet}
out=${OUT:-bench/paper/out}
img=docs/img
mkdir -p "$out" "$img"
mlp=examples/fmnist_mlp.lnet

pareto() {      # 1: the compute-time frontier (lnet sweep + lnet pareto), two targets
  "$lnet" sweep bench/paper/mlp.sweep -o "$out/mlp-sweep" --jobs "${JOBS:-1}"
  "$lnet" pareto "$out/mlp-sweep" -o "$img/pareto-mlp-85.png" --csv "$out/pareto-mlp-85.csv" \
    --title "fmnist_mlp: ideal compute and time to 85% test accuracy"
  "$lnet" pareto "$out/mlp-sweep" --target-accuracy 0.8 -o "$img/pareto-mlp-80.png" \
    --csv "$out/pareto-mlp-80.csv" --title "fmnist_mlp: ideal compute and time to 80% test accuracy"
}

pareto_text() { # 1 on text: a small char-LM, validation-loss targets 2.2 and 2.4
  "$lnet" sweep bench/paper/charlm.sweep -o "$out/charlm-sweep" --jobs "${JOBS:-1}"
  "$lnet" pareto "$out/charlm-sweep" -o "$img/pareto-charlm-2.2.png" --csv "$out/pareto-charlm-2.2.csv" \
    --title "charlm_small: ideal compute and time to validation loss 2.2"
  "$lnet" pareto "$out/charlm-sweep" --target-loss 2.4 -o "$img/pareto-charlm-2.4.png" \
    --csv "$out/pareto-charlm-2.4.csv" --title "charlm_small: ideal compute and time to validation loss 2.4"
}

gradsim() {     # 2: each layer's local gradient against backprop's, over training
  for m in "greedy" "chunked --blocks 3"; do
    name=${m// --blocks /}
    [ -s "$out/gradsim-$name.csv" ] ||
      "$lnet" train $mlp --method $m --max-steps 1000 --gradsim-every 50 \
        --gradsim-log "$out/gradsim-$name.csv" --test-limit 1000 --threads 1 --quiet
    "$lnet" plot gradsim "$out/gradsim-$name.csv" -o "$img/gradsim-$name.png" \
      --title "gradient similarity per layer, $name (fmnist_mlp)"
  done
}

memorize() {    # 3: random labels on 2,048, 5,120 and all 60,000 examples (MEM_SIZES), training accuracy per epoch (MEM_EPOCHS, 40)
  for n in ${MEM_SIZES:-2048 5120 60000}; do
    case $n in 2048) tag=memorize ;; 5120) tag=memorize5k ;; *) tag=memorize$n ;; esac
    for m in backprop greedy; do
      [ -s "$out/$tag-$m.csv" ] ||
        "$lnet" train $mlp --method $m --random-labels --train-limit $n --eval-train $n \
          --epochs "${MEM_EPOCHS:-40}" --eval-every $((n / 128)) --test-limit 500 --log "$out/$tag-$m.csv" \
          --threads 1 --quiet
    done
    "$lnet" plot "$out/$tag-backprop.csv" "$out/$tag-greedy.csv" --metric accuracy --eval train \
      --label backprop,greedy -o "$img/$tag.png" \
      --title "random labels, $n examples: accuracy on the training set"
  done
}

filters() {     # 4: first-layer 7x7 filters after FILTER_EPOCHS (3) epochs of all 60,000 examples, and their change from init
  ckpts=()
  e=${FILTER_EPOCHS:-3}
  for m in "backprop" "chunked --blocks 2" "chunked --blocks 3" "overlap --blocks 2" "greedy"; do
    name=${m// --blocks /}
    [ -s "$out/filters-$name-e$e.ckpt" ] ||
      "$lnet" train examples/fmnist_cnn7.lnet --method $m --epochs "$e" \
        --save "$out/filters-$name-e$e.ckpt" --threads 1 --quiet
    ckpts+=("$out/filters-$name-e$e.ckpt")
  done
  "$lnet" plot filters "${ckpts[@]}" -o "$img/filters.png"
  # the first layer at its initialisation (last-layer freezes it), then how far
  # each method moved it and how smooth it became
  [ -s "$out/filters-init.ckpt" ] ||
    "$lnet" train examples/fmnist_cnn7.lnet --method last-layer --max-steps 1 \
      --save "$out/filters-init.ckpt" --test-limit 64 --threads 1 --quiet
  python3 bench/paper/filters.py "$out/filters-init.ckpt" "${ckpts[@]}"
}

for r in "${@:-pareto pareto_text gradsim memorize filters}"; do
  for one in $r; do "$one"; done
done
