#!/usr/bin/env bash
# demo.sh — the README's main command: install what is missing, build, then
# train the default example (examples/fmnist_mlp.lnet, Fashion-MNIST) with
# local parallelism on all cores and compare it with backpropagation.
#
#   LNET_DEMO_MODEL=examples/fmnist_cnn.lnet  another model
#   LNET_DEMO_EPOCHS=3                        epochs per run (default 1)
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/build.sh build >/dev/null
model=${LNET_DEMO_MODEL:-examples/fmnist_mlp.lnet}
epochs=${LNET_DEMO_EPOCHS:-1}
cores=$(nproc)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

build/lnet check "$model"
run() {   # name, then lnet train flags
  local name=$1; shift
  echo
  echo "== $name: lnet train $model $*"
  build/lnet train "$model" --epochs "$epochs" --report "$out/$name.json" "$@"
}
run backprop-1 --method backprop --threads 1
run backprop-$cores --method backprop --threads "$cores"
run local-$cores --method chunked --blocks "$cores" --schedule local

field() { grep -o "\"$2\":[^,}]*" "$out/$1.json" | head -1 | cut -d: -f2 | tr -d '"'; }
echo
echo "== comparison: $model, $epochs epoch(s), Fashion-MNIST test set, $(nproc) cores"
printf '%-12s %-9s %7s %8s %12s %9s %10s\n' run method blocks threads examples/s speedup "test acc"
base=$(field backprop-1 samples_per_s)
for r in backprop-1 backprop-$cores local-$cores; do
  sps=$(field "$r" samples_per_s)
  acc=$(awk "BEGIN{printf \"%.2f%%\", 100*$(grep -o '"test_accuracy":[^,}]*' "$out/$r.json" | head -1 | cut -d: -f2)}")
  printf '%-12s %-9s %7s %8s %12.0f %8.2fx %10s\n' "$r" "$(field "$r" method)" \
    "$(field "$r" blocks)" "$(field "$r" threads)" "$sps" "$(awk "BEGIN{print $sps/$base}")" "$acc"
done
echo
echo "local: the network is cut into blocks that train at the same time on different"
echo "cores, each with its own auxiliary head and loss; only activations flow forward."
