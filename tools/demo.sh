#!/usr/bin/env bash
# demo.sh — the README's main command: install what is missing, build, then
# train the default example (examples/fmnist_mlp.lnet on Fashion-MNIST) and
# print the comparison of the training methods lnet supports.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/build.sh build >/dev/null
model=${LNET_DEMO_MODEL:-examples/fmnist_mlp.lnet}
epochs=${LNET_DEMO_EPOCHS:-1}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "== lnet check $model"
build/lnet check "$model"
methods=${LNET_DEMO_METHODS:-"backprop"}
for m in $methods; do
  echo "== lnet train $model --method $m --epochs $epochs"
  build/lnet train "$model" --method "$m" --epochs "$epochs" --report "$out/$m.json"
done
echo
echo "== comparison ($epochs epoch(s), Fashion-MNIST test set)"
printf '%-10s %8s %12s %10s %10s\n' method blocks examples/s "test acc" "wall s"
for m in $methods; do
  sed -E 's/.*"blocks":([0-9]+).*"wall_s":([0-9.]+),"samples_per_s":([0-9.]+).*"final":\{"test_loss":[^,]+,"test_accuracy":([0-9.]+).*/\1 \3 \4 \2/' \
    "$out/$m.json" | { read -r b s a w; printf '%-10s %8s %12.0f %9.2f%% %10.1f\n' "$m" "$b" "$s" \
      "$(awk "BEGIN{print 100*$a}")" "$w"; }
done
