#!/usr/bin/env bash
# overlap_delay.sh [EPOCHS] [SEEDS] — the accuracy cost of running overlap's
# windows in parallel: the MLP trained with --method overlap at delay 0 (the
# lockstep semantics; sequential schedule) and delay 1 (the local schedule's
# default, which equals sequential --overlap-delay 1 bit for bit), EPOCHS
# epochs (default 5) for each seed in SEEDS (default "1 2 3"). Prints one
# line per run: delay, seed, test accuracy, training seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=${1:-5}
seeds=${2:-1 2 3}
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
for seed in $seeds; do
  for delay in 0 1; do
    sched=sequential
    [ "$delay" -gt 0 ] && sched=local
    build/lnet train examples/fmnist_mlp.lnet --method overlap --schedule $sched \
      --overlap-delay $delay --epochs "$epochs" --seed "$seed" --quiet --report "$d/r.json"
    python3 - "$d/r.json" "$delay" "$seed" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"delay {sys.argv[2]} seed {sys.argv[3]} schedule {r['schedule']}: "
      f"test accuracy {100 * r['final']['test_accuracy']:.2f}% "
      f"loss {r['final']['test_loss']:.4f}, {r['wall_s']:.1f} s training")
PY
  done
done
