#!/usr/bin/env bash
# device-check.sh — the GPU checks of lnet's CUDA path (docs/devices.md), run
# on a machine with an NVIDIA GPU from the repository root:
#
#   OUT=dir tools/device-check.sh        (default OUT=./device-out)
#
#  1. builds lnet and test_gpu (tools/build.sh build-device);
#  2. `lnet devices`: stops here with exit status 2 when there is no GPU;
#  3. every GPU kernel on the device against the reference interpreter at
#     sizes 1/3/17/129 and batches 1/3/17 (test_gpu with LNET_TEST_GPU_DEVICE),
#     and the kernels' PTX assembled by ptxas for the device where the CUDA
#     toolkit is installed;
#  4. the MLP and the CNN (examples/fmnist_mlp.lnet, fmnist_cnn.lnet, chunked
#     K = 2) for STEPS (200) steps on the GPU against the CPU JIT: every loss
#     and accuracy of the log within TOL (1e-3 relative: float sums in another
#     order; the emulation against the JIT measured below 1e-5 after 200 steps
#     of tests/gpu/mlp_small and cnn_small), and for a few steps against the
#     emulated GPU (the same kernels on the CPU) within 1e-4; and two GPU runs
#     log the same losses bit for bit;
#  5. the MLP's training examples/s on the GPU, on a CPU + GPU split
#     (--devices cpu,gpu0), on the CPU alone, and PyTorch on the same GPU.
#
# Everything goes to $OUT: logs, PTX, summary.txt and results.md (the table
# for bench/RESULTS.md). Exit status: 0 all checks passed, 1 a check failed,
# 2 no GPU (the CPU part ran). DATA_DIR: the Fashion-MNIST IDX folder (default
# /usr/share/datasets/fashion-mnist). DEVICE=emu runs the same steps on the emulated
# GPU (a dry run of this script on a machine without a GPU; use a small STEPS).
# shellcheck disable=SC2317  # functions run through check()
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
OUT=${OUT:-./device-out}
STEPS=${STEPS:-200}
TOL=${TOL:-1e-3}
DEVICE=${DEVICE:-gpu0}
BUILD=${BUILD:-build-device}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
LNET=$BUILD/lnet
fail=0
t_start=$(date +%s)

say() { echo "$*" | tee -a "$OUT/summary.txt"; }
check() {   # check NAME COMMAND...: runs COMMAND, records PASS/FAIL
  local name=$1; shift
  if "$@" > "$OUT/$name.log" 2>&1; then
    say "PASS $name$(tail -1 "$OUT/$name.log" | sed 's/^/: /')"
  else
    say "FAIL $name (see $OUT/$name.log)"; tail -5 "$OUT/$name.log"
    fail=1
  fi
}
examples_per_s() {  # training examples/s from a --report file ("samples_per_s")
  grep -o '"samples_per_s": *[0-9.]*' "$1" 2>/dev/null | grep -o '[0-9.]*$' || echo "?"
}

: > "$OUT/summary.txt"
say "lnet device check: $(date -u +%FT%TZ), $(git rev-parse --short HEAD 2>/dev/null || echo ?)"

# 1. build (test_gpu needs Criterion; without it the kernel check fails, the rest runs)
if ! tools/build.sh "$BUILD" --target lnet > "$OUT/build.log" 2>&1; then
  say "FAIL build (see $OUT/build.log)"; tail -20 "$OUT/build.log"; exit 1
fi
have_tests=1
cmake --build "$BUILD" -j "$(nproc)" --target test_gpu >> "$OUT/build.log" 2>&1 || have_tests=0
say "built in $(( $(date +%s) - t_start )) s$([ $have_tests = 0 ] && echo '; test_gpu did not build')"

# 2. devices
$LNET devices | tee "$OUT/devices.txt"
command -v nvidia-smi > /dev/null && nvidia-smi -L >> "$OUT/devices.txt" 2>&1
if [ "$DEVICE" != emu ] && ! grep -q "^${DEVICE} " "$OUT/devices.txt"; then
  say "no GPU: '$LNET devices' lists no $DEVICE; the CPU part ran, nothing on a device"
  exit 2
fi
cc=$(grep -o "^${DEVICE} .*compute capability [0-9]*\.[0-9]*" "$OUT/devices.txt" |
     grep -o '[0-9]*\.[0-9]*$' | tr -d .)
sm=sm_${cc:-90}
say "device $DEVICE: $(grep "^${DEVICE} " "$OUT/devices.txt" | cut -c8- || echo emulated)"

# 3. every kernel on the device against the interpreter; the PTX through ptxas
mkdir -p "$OUT/ptx"
if [ "$DEVICE" = emu ]; then gpu_ordinal=""; else gpu_ordinal=${DEVICE#gpu}; fi
if [ $have_tests = 1 ]; then
  check kernels env LNET_TEST_GPU_DEVICE="$gpu_ordinal" LNET_GPU_PTX_DIR="$OUT/ptx" \
    OPENBLAS_NUM_THREADS=1 "$BUILD/tests/test_gpu" --verbose -j1
else
  say "FAIL kernels: test_gpu did not build (Criterion missing? see $OUT/build.log)"; fail=1
fi
# each block's PTX of the two models too (lnet ir --emit ptx: "// block K" before each)
for m in fmnist_mlp fmnist_cnn; do $LNET ir "examples/$m.lnet" --emit ptx > "$OUT/ptx/$m.all"; done
awk -v d="$OUT/ptx" '/^\/\/ block [0-9]+$/ { f = d "/model." ++n ".ptx"; next } { print > f }' \
  "$OUT"/ptx/*.all
grep -o '[a-z0-9_]*: max error .*' "$OUT/kernels.log" | tee -a "$OUT/summary.txt"
PTXAS=$(command -v ptxas || ls /usr/local/cuda/bin/ptxas 2>/dev/null || true)
if [ -n "$PTXAS" ]; then
  ptxas_all() {
    local n=0
    for f in "$OUT"/ptx/*.ptx; do
      "$PTXAS" -arch="$sm" "$f" -o "$OUT/ptx/out.cubin" || return 1
      n=$((n + 1))
    done
    echo "assembled $n PTX files for $sm"
  }
  check ptxas ptxas_all
else
  say "SKIP ptxas: not installed (the driver assembled the PTX in the kernel check)"
fi

# 4. the MLP and the CNN: GPU against the CPU JIT (STEPS) and the emulation (a few)
DATA_DIR=${DATA_DIR:-/usr/share/datasets/fashion-mnist}
if [ ! -d "$DATA_DIR" ]; then
  say "FAIL data: no Fashion-MNIST in $DATA_DIR (set DATA_DIR to its IDX folder)"; exit 1
fi
train() {   # train MODEL LOG STEPS [options...]
  local model=$1 log=$2 steps=$3; shift 3
  $LNET train "examples/$model.lnet" --max-steps "$steps" --test-limit 1000 --quiet \
    --data-dir "$DATA_DIR" --log "$log" "$@"
}
compare() { bash tests/gpu/compare_logs.sh "$@"; }
for model in fmnist_mlp fmnist_cnn; do
  d=$OUT/$model
  mkdir -p "$d"
  if [ "$model" = fmnist_mlp ]; then few=20; else few=5; fi
  check "${model}_cpu" train $model "$d/cpu.csv" "$STEPS" --report "$d/cpu.json"
  check "${model}_gpu" train $model "$d/gpu.csv" "$STEPS" --devices "$DEVICE" \
    --report "$d/gpu.json"
  check "${model}_gpu_vs_cpu" compare "$d/gpu.csv" "$d/cpu.csv" "$TOL"
  # a GPU block is deterministic: the same losses, bit for bit, run to run
  check "${model}_gpu_again" train $model "$d/gpu2.csv" "$STEPS" --devices "$DEVICE"
  same_losses() { cmp <(cut -d, -f1,2,7- "$1") <(cut -d, -f1,2,7- "$2") && echo identical; }
  check "${model}_gpu_deterministic" same_losses "$d/gpu.csv" "$d/gpu2.csv"
  if [ "$DEVICE" != emu ]; then
    check "${model}_emu" train $model "$d/emu.csv" $few --devices emu --train-limit $((few * 128))
    check "${model}_gpu_few" train $model "$d/gpu_few.csv" $few --devices "$DEVICE" \
      --train-limit $((few * 128))
    check "${model}_gpu_vs_emu" compare "$d/gpu_few.csv" "$d/emu.csv" 1e-4
  fi
done

# 5. throughput of the MLP: GPU, CPU + GPU, CPU, PyTorch on the GPU
d=$OUT/fmnist_mlp
check mlp_split train fmnist_mlp "$d/split.csv" "$STEPS" --devices "cpu,$DEVICE" \
  --report "$d/split.json"
gpu_eps=$(examples_per_s "$d/gpu.json")
split_eps=$(examples_per_s "$d/split.json")
cpu_eps=$(examples_per_s "$d/cpu.json")
cat > "$OUT/torch_mlp.py" <<'EOF'
import sys, time, torch, torch.nn as nn
steps = int(sys.argv[1])
dev = torch.device("cuda")
layers, width = [nn.Flatten()], 784
for _ in range(4):
    layers += [nn.Linear(width, 1024), nn.ReLU()]
    width = 1024
model = nn.Sequential(*layers, nn.Linear(width, 10)).to(dev)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
x = torch.randn(128, 28, 28, device=dev)
y = torch.randint(0, 10, (128,), device=dev)
def step():
    opt.zero_grad(set_to_none=True)
    nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
for _ in range(20):
    step()
torch.cuda.synchronize()
t = time.perf_counter()
for _ in range(steps):
    step()
torch.cuda.synchronize()
print(f"{steps * 128 / (time.perf_counter() - t):.1f}")
EOF
if [ "$DEVICE" != emu ] && python3 -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then
  torch_eps=$(CUDA_VISIBLE_DEVICES=${gpu_ordinal:-0} python3 "$OUT/torch_mlp.py" "$STEPS" \
              2> "$OUT/torch.log" | tail -1)
else
  torch_eps="n/a (no PyTorch with CUDA)"
fi
{
  echo "| MLP (examples/fmnist_mlp.lnet, chunked K = 2, batch 128, Adam) | examples/s |"
  echo "|---|---|"
  echo "| lnet, both blocks on $DEVICE | $gpu_eps |"
  echo "| lnet, block 1 on the CPU, block 2 on $DEVICE | $split_eps |"
  echo "| lnet, CPU JIT ($(nproc) cores) | $cpu_eps |"
  echo "| PyTorch on the same GPU (backprop, one graph) | $torch_eps |"
} | tee "$OUT/results.md" | tee -a "$OUT/summary.txt"
say "total $(( $(date +%s) - t_start )) s; $([ $fail = 0 ] && echo 'all checks passed' || echo 'SOME CHECKS FAILED')"
exit $fail
