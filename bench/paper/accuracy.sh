#!/usr/bin/env bash
# accuracy.sh FAMILY [SEEDS] — the accuracy table of docs/paper.md (result 5):
# every training method on one model family, beside PyTorch with backprop on
# the same recipe (bench/pytorch_train.py).
#   mlp     examples/fmnist_mlp.lnet, 5 epochs, test accuracy
#   cnn     examples/fmnist_cnn.lnet, 3 epochs, test accuracy
#   charlm  examples/charlm.lnet, 1,000 steps, validation bits per byte
# SEEDS defaults to "1 2 3". Each run writes OUT/FAMILY/METHOD-sSEED.json
# (OUT = $OUT or bench/paper/out); a run whose file exists is skipped, so the
# script can be stopped and rerun. METHODS overrides the method list (add
# last-layer for the control that trains only the last layer); THREADS
# gives every lnet run --threads (results do not depend on it).
set -euo pipefail
cd "$(dirname "$0")/../.."
family=${1:?usage: accuracy.sh mlp|cnn|charlm [SEEDS]}
seeds=${2:-1 2 3}
out=${OUT:-bench/paper/out}/$family
mkdir -p "$out"
lnet=${LNET:-build/lnet}
case $family in
  mlp)    model=examples/fmnist_mlp.lnet; len="--epochs 5"; torch="--epochs 5" ;;
  cnn)    model=examples/fmnist_cnn.lnet; len="--epochs 3"; torch="--epochs 3" ;;
  charlm) model=examples/charlm.lnet; len="--max-steps 1000"; torch="--steps 1000" ;;
  *) echo "accuracy.sh: unknown family '$family' (mlp, cnn or charlm)" >&2; exit 1 ;;
esac
methods=${METHODS:-backprop greedy chunked:2 chunked:3 overlap:2}
for seed in $seeds; do
  for m in $methods; do
    f=$out/${m/:/}-s$seed.json
    [ -s "$f" ] && continue
    name=${m%%:*}; k=${m#*:}
    args="--method $name"
    if [ "$k" != "$m" ]; then
      [ "$name" = overlap ] && args="$args --overlap $k" || args="$args --blocks $k"
    fi
    echo "accuracy.sh: $family $m seed $seed" >&2
    "$lnet" train "$model" $args $len --seed "$seed" ${THREADS:+--threads $THREADS} --quiet --report "$f.tmp"
    mv "$f.tmp" "$f"
  done
  f=$out/pytorch-s$seed.json
  if [ ! -s "$f" ]; then
    echo "accuracy.sh: $family pytorch seed $seed" >&2
    bench/pytorch.sh 1 pytorch_train.py --model "$family" $torch --seed "$seed" > "$f.tmp"
    mv "$f.tmp" "$f"
  fi
done
