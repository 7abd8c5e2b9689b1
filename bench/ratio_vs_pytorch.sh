#!/usr/bin/env bash
# ratio_vs_pytorch.sh — issue I's ratios: CPU milliseconds per training step
# (user + system seconds of a long run minus a short run, so start-up, JIT
# compilation and data loading cancel) of lnet (backprop, one thread) and of
# PyTorch (bench/pytorch.sh, one thread) on the same model, optimizer and
# batch, interleaved, five repetitions. CPU time, not wall clock, so a shared
# machine's waiting does not count. LNET names the binary (build/lnet);
# MODELS (default "mlp cnn charlm") and REPS (5) narrow or lengthen the run.
cd "$(dirname "$0")/.."
L=${LNET:-build/lnet}
t() { /usr/bin/time -f "%U %S" "$@" 2>&1 >/dev/null | tail -1 | awk '{print $1+$2}'; }
lnet_run() { # model S batch
  OPENBLAS_NUM_THREADS=1 t $L train examples/$1.lnet --method backprop --threads 1 --batch $3 \
    --max-steps $2 --train-limit $(( $3 * $2 )) --test-limit 64 --quiet; }
for rep in $(seq 1 "${REPS:-5}"); do
  for m in ${MODELS:-mlp cnn charlm}; do
    case $m in
      mlp) ex=fmnist_mlp; b=128; s1=5; s2=35; p1=0; p2=30; w=2 ;;
      cnn) ex=fmnist_cnn; b=128; s1=2; s2=22; p1=0; p2=20; w=2 ;;
      charlm) ex=charlm; b=32; s1=4; s2=24; p1=0; p2=20; w=4 ;;
    esac
    a=$(lnet_run $ex $s2 $b); c=$(lnet_run $ex $s1 $b)
    pa=$(t bench/pytorch.sh 1 --model $m --batch $b --steps $p2 --warmup $w)
    pc=$(t bench/pytorch.sh 1 --model $m --batch $b --steps $p1 --warmup $w)
    awk -v m=$m -v r=$rep -v a=$a -v c=$c -v pa=$pa -v pc=$pc -v n=$((s2-s1)) -v pn=$((p2-p1)) \
      'BEGIN{l=(a-c)/n*1000; p=(pa-pc)/pn*1000; printf "%s rep %d: lnet %.1f ms  pytorch %.1f ms  ratio %.3f\n", m, r, l, p, p/l}'
  done
done
