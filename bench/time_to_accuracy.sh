#!/usr/bin/env bash
# time_to_accuracy.sh [TARGET] — wall-clock training time until the MLP reaches
# TARGET test accuracy (default 0.85): backprop on 2 OpenBLAS threads against
# local chunked K = 2 on 2 worker threads. Evaluates every 50 steps on the full
# test set; the time is training time only (evaluation excluded), read from
# each run's report.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:-0.85}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for run in "backprop --threads 2" "chunked --blocks 2 --schedule local"; do
  name=${run%% *}
  build/lnet train examples/fmnist_mlp.lnet --method $run --epochs 5 --eval-every 50 \
    --target-accuracy "$target" --quiet --report "$out/$name.json"
  r=$(grep -o '"reached":[a-z]*' "$out/$name.json" | cut -d: -f2)
  s=$(grep -o '"reached_train_s":[0-9.]*' "$out/$name.json" | cut -d: -f2)
  st=$(grep -o '"reached_step":[0-9]*' "$out/$name.json" | cut -d: -f2)
  printf '%-9s reached %s: %s steps, %s s of training\n' "$name" "$r" "$st" "$s"
done
