# CLI checks of the GPU path (docs/devices.md) on machines without a GPU:
# `lnet devices` without a driver and with the fake one (tests/fake_cuda.c),
# clear errors for --devices, and training on the emulated device `emu` (the
# GPU kernels run on the CPU) against the JIT: losses and accuracies of every
# head within 1e-4 relative after 20 steps (the CNN: 10), the whole model on
# emu and a CPU + emu split.
set(GPU_T ${CMAKE_SOURCE_DIR}/tests/gpu)
set(GPU_RUN "$<TARGET_FILE:lnet> train ${GPU_T}/mlp_small.lnet --max-steps 20 --train-limit 640 --test-limit 64 --quiet")
lnet_cli_test(gpu_devices_no_driver 0
  "gpu    none: no CUDA driver \\(/nonexistent/libcuda.so.1: .*\\n(?s:.*)emu    the emulated GPU"
  "LNET_CUDA_DRIVER=/nonexistent/libcuda.so.1 $<TARGET_FILE:lnet> devices")
lnet_cli_test(gpu_train_no_driver 1
  "(?m)^lnet train: error: --devices gpu0: no CUDA driver \\(/nonexistent/libcuda.so.1: "
  "LNET_CUDA_DRIVER=/nonexistent/libcuda.so.1 $<TARGET_FILE:lnet> train ${GPU_T}/mlp_small.lnet --devices gpu0 --max-steps 1")
lnet_cli_test(gpu_train_bad_device 1
  "(?m)^lnet train: error: --devices cpu,tpu1: unknown device 'tpu1' \\(expected cpu, gpuN or emu"
  "$<TARGET_FILE:lnet> train ${GPU_T}/mlp_small.lnet --devices cpu,tpu1 --max-steps 1")
lnet_cli_test(gpu_train_device_count 1
  "(?m)^lnet train: error: --devices cpu,emu,emu: 3 devices for 2 blocks"
  "${GPU_RUN} --devices cpu,emu,emu")
lnet_cli_test(gpu_train_baseline_schedule 1
  "(?m)^lnet train: error: --devices applies to the local and sequential schedules, not --schedule data-parallel"
  "${GPU_RUN} --devices emu --schedule data-parallel")
lnet_cli_test(gpu_train_unsupported_op 1
  "(?m)^lnet train: error: --devices cpu,emu: block 2 on emu: op 'dropout' \\(%6\\) has no GPU kernel"
  "$<TARGET_FILE:lnet> train ${GPU_T}/mlp_dropout.lnet --devices cpu,emu --max-steps 1 --train-limit 64 --test-limit 64 --quiet")
lnet_cli_test(gpu_train_emu_vs_jit 0 "(?m)^max relative difference .*\\nmax relative difference "
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; ${GPU_RUN} --log $d/jit.csv && ${GPU_RUN} --devices emu --log $d/emu.csv && ${GPU_RUN} --devices cpu,emu --log $d/split.csv && bash ${GPU_T}/compare_logs.sh $d/emu.csv $d/jit.csv 1e-4 && bash ${GPU_T}/compare_logs.sh $d/split.csv $d/jit.csv 1e-4")
# lnet cost --devices: each block's device and its host <-> device bytes per
# step (MLP, chunked 2, batch 128: block 2 reads 128 x 1024 floats and the
# labels from block 1); no driver needed for a prediction.
lnet_cli_test(gpu_cost_devices 0
  "block   device     host->dev MB     dev->host MB\\n    1      cpu            0.000            0.000\\n    2     gpu0            0.525            0.000"
  "LNET_CUDA_DRIVER=/nonexistent $<TARGET_FILE:lnet> cost ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet --devices cpu,gpu0")
lnet_cli_test(gpu_cost_devices_count 1
  "(?m)^lnet cost: error: --devices gpu0,cpu,cpu: 3 devices for 2 blocks"
  "$<TARGET_FILE:lnet> cost ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet --devices gpu0,cpu,cpu")
# The local schedule's rule with a GPU block: local equals sequential bit for
# bit (the checkpoints), here with block 1 on the emulated device.
lnet_cli_test(gpu_train_emu_local_equals_sequential 0 "checkpoints identical"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; ${GPU_RUN} --devices emu,cpu --save $d/local.ckpt && ${GPU_RUN} --devices emu,cpu --schedule sequential --save $d/seq.ckpt && cmp $d/local.ckpt $d/seq.ckpt && echo checkpoints identical")
set(GPU_CNN "$<TARGET_FILE:lnet> train ${GPU_T}/cnn_small.lnet --max-steps 10 --train-limit 640 --test-limit 64 --quiet")
lnet_cli_test(gpu_train_cnn_emu_vs_jit 0 "^max relative difference .*\\nmax relative difference .*\\nmax relative difference "
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; ${GPU_CNN} --log $d/jit.csv && ${GPU_CNN} --devices emu --log $d/emu.csv && ${GPU_CNN} --devices emu,cpu --log $d/split.csv && ${GPU_CNN} --devices emu --no-fuse --log $d/nofuse.csv && bash ${GPU_T}/compare_logs.sh $d/emu.csv $d/jit.csv 1e-4 && bash ${GPU_T}/compare_logs.sh $d/split.csv $d/jit.csv 1e-4 && bash ${GPU_T}/compare_logs.sh $d/nofuse.csv $d/jit.csv 1e-4")
if(TARGET test_gpu AND TARGET fake_cuda)
  target_compile_definitions(test_gpu PRIVATE FAKE_CUDA_PATH="$<TARGET_FILE:fake_cuda>")
  add_dependencies(test_gpu fake_cuda)
endif()
# Every test kernel's PTX (sm_70 and sm_90) assembled by NVIDIA's ptxas for
# sm_90, where the machine has the CUDA toolkit (the driver's JIT does the same).
find_program(LNET_PTXAS ptxas PATHS /usr/local/cuda/bin)
if(LNET_PTXAS AND TARGET test_gpu)   # (no Criterion tests in the TSan build)
  lnet_cli_test(gpu_ptxas 0 "(?s)assembled 18 PTX files"
    "d=$(mktemp -d); trap 'rm -rf $d' EXIT; LNET_GPU_PTX_DIR=$d $<TARGET_FILE:test_gpu> --filter 'gpu/[a-z]*' -j1 > $d/log 2>&1 || { cat $d/log; exit 1; }; n=0; for f in $d/*.ptx; do ${LNET_PTXAS} -arch=sm_90 $f -o $d/out.cubin || exit 1; n=$((n+1)); done; echo assembled $n PTX files")
endif()
if(LNET_PTXAS)
  # ... and each block's PTX of the example MLP and CNN (lnet ir --emit ptx)
  lnet_cli_test(gpu_ptxas_models 0 "assembled 4 block PTX files"
    "d=$(mktemp -d); trap 'rm -rf $d' EXIT; for m in fmnist_mlp fmnist_cnn; do $<TARGET_FILE:lnet> ir ${CMAKE_SOURCE_DIR}/examples/$m.lnet --emit ptx | awk -v d=$d/$m '/^\\/\\/ block [0-9]+$/ { f = d \".\" $3 \".ptx\"; next } { print > f }' || exit 1; done; n=0; for f in $d/*.ptx; do ${LNET_PTXAS} -arch=sm_90 $f -o $d/out.cubin || exit 1; n=$((n+1)); done; echo assembled $n block PTX files")
endif()
# lnet ir --emit ptx: each block's kernels; an op without one is located
lnet_cli_test(gpu_ir_emit_ptx 0 "// block 1\\n(?s:.*)\\.entry k[0-9]+_conv2d_bias_relu\\((?s:.*)// block 2\\n(?s:.*)\\.entry k[0-9]+_maxpool_grad_relu\\("
  "$<TARGET_FILE:lnet> ir ${CMAKE_SOURCE_DIR}/examples/fmnist_cnn.lnet --emit ptx")
lnet_cli_test(gpu_ir_emit_ptx_unsupported 1 "charlm.lnet:12:23: error: op 'layernorm' \\(%7\\) has no GPU kernel"
  "$<TARGET_FILE:lnet> ir ${CMAKE_SOURCE_DIR}/examples/charlm.lnet --emit ptx")
if(TARGET fake_cuda)
  lnet_cli_test(gpu_devices_fake_driver 0 "gpu0   lnet fake GPU 0, compute capability 9.0"
    "LNET_CUDA_DRIVER=$<TARGET_FILE:fake_cuda> $<TARGET_FILE:lnet> devices")
  lnet_cli_test(gpu_train_no_such_gpu 1
    "(?m)^lnet train: error: --devices gpu0,gpu2: no device gpu2 \\(the CUDA driver sees 2"
    "FAKE_CUDA_DEVICES=2 LNET_CUDA_DRIVER=$<TARGET_FILE:fake_cuda> ${GPU_RUN} --devices gpu0,gpu2")
  # The fake runs no kernel of ours: this checks placement, PTX, module load,
  # kernel lookup and buffers end to end, not the numbers.
  lnet_cli_test(gpu_train_fake_driver_executor 0 "block 1 on gpu0 \\(cuda executor\\)\\nblock 2 on cpu"
    "LNET_CUDA_DRIVER=$<TARGET_FILE:fake_cuda> $<TARGET_FILE:lnet> train ${GPU_T}/mlp_small.lnet --devices gpu0,cpu --max-steps 1 --train-limit 64 --test-limit 64")
endif()
# The report names each block's executor when they differ.
lnet_cli_test(gpu_train_report_names_each_blocks_executor 0 "^jit \\['jit', 'emu'\\] [0-9.]+\\n$"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; $<TARGET_FILE:lnet> train ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet --method chunked --blocks 2 --devices cpu,emu --max-steps 2 --train-limit 256 --test-limit 64 --threads 2 --quiet --report $d/r.json && python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(d[\"exec\"], d[\"block_exec\"], d[\"final\"][\"test_loss\"])' $d/r.json")
