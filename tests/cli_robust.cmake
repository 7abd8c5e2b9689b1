# Command-line robustness: what `lnet train` does with outputs that would
# destroy other files, with stop signals, under resource limits (ulimit -f,
# ulimit -v), with unwritable outputs and out-of-range flags. Each test runs
# through lnet_cli_test (exit status, output, no sanitizer report).

set(LNET_R_BIN "$<TARGET_FILE:lnet>")
set(LNET_R_MLP "${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet")
# A run of two steps on a few examples (with progress output: LNET_R_VERBOSE).
set(LNET_R_SMALL "--train-limit 256 --test-limit 32 --max-steps 2")
set(LNET_R_QUICK "${LNET_R_BIN} train ${LNET_R_MLP} ${LNET_R_SMALL} --quiet")
set(LNET_R_VERBOSE "${LNET_R_BIN} train ${LNET_R_MLP} ${LNET_R_SMALL}")
# A run long enough to be stopped by a signal (1000 steps).
set(LNET_R_LONG "${LNET_R_BIN} train ${LNET_R_MLP} --train-limit 25600 --quiet")
# Waits until process $p catches SIGINT (bit 2 of SigCgt), or has ended.
set(LNET_R_WAIT_HANDLER "while kill -0 $p 2>/dev/null && ! grep -q '^SigCgt:.*[2367abef]$' /proc/$p/status; do sleep 0.01; done")
# Waits until log $d/l.json has a training row (it is flushed at every evaluation), or $p ended.
set(LNET_R_WAIT_STEP "until grep -q train $d/l.json 2>/dev/null || ! kill -0 $p 2>/dev/null; do sleep 0.05; done")

# ---------------------------------------------------------------- outputs

# --save naming the model source would overwrite it.
lnet_cli_test(cli_save_refuses_model_source 1
  "--save '[^']*/m.lnet' is the same file as the model '[^']*/m.lnet'; choose another name"
  "d=$(mktemp -d); cp ${LNET_R_MLP} $d/m.lnet; ${LNET_R_BIN} train $d/m.lnet ${LNET_R_SMALL} --save $d/m.lnet; rc=$?; cmp ${LNET_R_MLP} $d/m.lnet || rc=7; rm -rf $d; exit $rc")

# --log naming the checkpoint being resumed would truncate it; lnet's own
# checkpoint, log and report are overwritten as before.
lnet_cli_test(cli_log_refuses_resume_checkpoint 1
  "--log '[^']*/c.ckpt' is the same file as --resume '[^']*/c.ckpt'; choose another name"
  "d=$(mktemp -d); o=\"--save $d/c.ckpt --log $d/l.csv --report $d/r.json\"; ${LNET_R_QUICK} $o && ${LNET_R_QUICK} $o || exit 9; cp $d/c.ckpt $d/copy; ${LNET_R_QUICK} --resume $d/c.ckpt --log $d/c.ckpt; rc=$?; cmp $d/c.ckpt $d/copy || rc=7; rm -rf $d; exit $rc")

# An existing file that is not an lnet checkpoint is not replaced by --save.
lnet_cli_test(cli_save_refuses_foreign_file 1
  "--save '[^']*/notes.txt' exists and is not an lnet checkpoint; remove it or choose another name"
  "d=$(mktemp -d); echo hello > $d/notes.txt; ${LNET_R_QUICK} --save $d/notes.txt; rc=$?; grep -qx hello $d/notes.txt || rc=7; rm -rf $d; exit $rc")

# Nor one that is not an lnet log or report by --report (or --log).
lnet_cli_test(cli_report_refuses_foreign_file 1
  "--report '[^']*/notes.txt' exists and is not an lnet log or report; remove it or choose another name"
  "d=$(mktemp -d); echo hello > $d/notes.txt; ${LNET_R_QUICK} --report $d/notes.txt; rc=$?; grep -qx hello $d/notes.txt || rc=7; rm -rf $d; exit $rc")

# Two outputs naming one file that does not exist yet (compared resolved).
lnet_cli_test(cli_outputs_refuse_same_path 1
  "--report '[^']*/./a.json' is the same file as --log '[^']*/a.json'; give each its own file"
  "d=$(mktemp -d); ${LNET_R_QUICK} --log $d/a.json --report $d/./a.json; rc=$?; rm -rf $d; exit $rc")

lnet_cli_test(cli_save_refuses_directory 1
  "--save '/tmp' is a directory; give a file name"
  "${LNET_R_QUICK} --save /tmp")

# An unwritable --save is found before compiling and training (not at the
# first epoch end): a missing directory, one that takes no new file.
lnet_cli_test(cli_save_missing_dir_found_at_start 1
  "^(?![\\s\\S]*epoch )[\\s\\S]*--save '/nonexistent-lnet-dir/c.ckpt' cannot be written: directory '/nonexistent-lnet-dir': No such file or directory"
  "${LNET_R_VERBOSE} --save /nonexistent-lnet-dir/c.ckpt")
lnet_cli_test(cli_save_unwritable_dir_found_at_start 1
  "^(?![\\s\\S]*epoch )[\\s\\S]*--save '/proc/c.ckpt' cannot be written: cannot create a file in '/proc'"
  "${LNET_R_VERBOSE} --save /proc/c.ckpt")

# A log that cannot be written fails the run, naming the file.
lnet_cli_test(cli_log_write_error_fails 1
  "cannot write log '/dev/full': No space left on device"
  "${LNET_R_QUICK} --log /dev/full")

# A write past `ulimit -f` is an error naming the file, not a silent SIGXFSZ.
lnet_cli_test(cli_file_size_limit_is_an_error 1
  "c.ckpt[^\\n]*File too large"
  "d=$(mktemp -d); (ulimit -f 1000; ${LNET_R_QUICK} --save $d/c.ckpt); rc=$?; rm -rf $d; exit $rc")

# --queue is bounded (its slots hold whole batches of activations).
lnet_cli_test(cli_queue_is_bounded 1
  "--queue expects an integer in \\[1, 1024\\], got '2147483647'"
  "${LNET_R_QUICK} --method chunked --blocks 2 --queue 2147483647")

# ---------------------------------------------------------------- signals

# SIGTERM and SIGHUP (what schedulers and `timeout` send) stop a run like
# Ctrl-C: finish the step, evaluate, save a checkpoint that loads; exit with
# 128 + the signal.
lnet_cli_test(cli_sigterm_saves_checkpoint 143
  "stopped by SIGTERM after step [0-9]+; checkpoint saved to '[^']*/c.ckpt'\\n[\\s\\S]*task +loss"
  "d=$(mktemp -d); ${LNET_R_LONG} --test-limit 32 --eval-every 1 --log $d/l.json --save $d/c.ckpt & p=$!; ${LNET_R_WAIT_STEP}; kill -TERM $p; wait $p; rc=$?; ${LNET_R_BIN} eval ${LNET_R_MLP} --load $d/c.ckpt --test-limit 32 || rc=7; rm -rf $d; exit $rc")
lnet_cli_test(cli_sighup_saves_checkpoint 129
  "stopped by SIGHUP after step [0-9]+; checkpoint saved to '[^']*/c.ckpt'\\n[\\s\\S]*task +loss"
  "d=$(mktemp -d); env --default-signal=HUP ${LNET_R_LONG} --test-limit 32 --eval-every 1 --log $d/l.json --save $d/c.ckpt & p=$!; ${LNET_R_WAIT_STEP}; kill -HUP $p; wait $p; rc=$?; ${LNET_R_BIN} eval ${LNET_R_MLP} --load $d/c.ckpt --test-limit 32 || rc=7; rm -rf $d; exit $rc")

# Ctrl-C while compiling (the handlers are installed first) saves nothing and
# says so.
lnet_cli_test(cli_sigint_while_compiling_saves_nothing 130
  "stopped by SIGINT before training started; nothing saved"
  "d=$(mktemp -d); ${LNET_R_LONG} --test-limit 32 --save $d/c.ckpt & p=$!; ${LNET_R_WAIT_HANDLER}; kill -INT $p; wait $p; rc=$?; test -e $d/c.ckpt && rc=7; rm -rf $d; exit $rc")

# A second signal while stopping (here: during the final evaluation of the
# whole test set by the interpreter) ends the process at once, saving nothing.
lnet_cli_test(cli_second_signal_stops_at_once 130
  "^(?![\\s\\S]*stopped by)[\\s\\S]*stopping after this step"
  "d=$(mktemp -d); ${LNET_R_LONG} --exec interp --eval-every 1 --log $d/l.json --save $d/c.ckpt & p=$!; ${LNET_R_WAIT_STEP}; kill -INT $p; sleep 0.3; kill -INT $p; wait $p; rc=$?; test -e $d/c.ckpt && rc=7; rm -rf $d; exit $rc")

# ------------------------------------------------ address-space limit (ulimit -v)
# Sanitizers reserve terabytes of address space: no ulimit -v under them.
if(NOT LNET_SANITIZE AND NOT LNET_TSAN)
  # The local schedule's workers would spin in OpenBLAS's allocator for their
  # 128 MiB buffers (and ignore Ctrl-C): a clear error instead.
  lnet_cli_test(cli_address_space_limit_is_an_error 1
    "out of address space: the limit .ulimit -v. of 390 MiB leaves less than"
    "ulimit -v 400000; OPENBLAS_NUM_THREADS=1 timeout -k 5 120 ${LNET_R_QUICK} --method chunked --blocks 2")
  # OpenBLAS's own threads, started when it loads, would spin the same way and
  # exit() would wait for them forever.
  cmake_host_system_information(RESULT LNET_R_CORES QUERY NUMBER_OF_LOGICAL_CORES)
  if(LNET_R_CORES GREATER 1)
    lnet_cli_test(cli_address_space_limit_blas_threads 1
      "the address-space limit .ulimit -v. of 195 MiB is too small for OpenBLAS's 2 threads"
      "ulimit -v 200000; OPENBLAS_NUM_THREADS=2 timeout -k 5 60 ${LNET_R_BIN} check ${LNET_R_MLP}")
  endif()
endif()

# A model file that is a FIFO nobody writes to reads as empty (a model error)
# instead of blocking in open(); a directory is refused; a pipe with a writer
# (process substitution) still works.
lnet_cli_test(cli_model_fifo_does_not_block 1 "error: no 'loss' statement(?s:.*)cannot read '[^']*': it is a directory(?s:.*)fmnist_mlp: ok"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; mkfifo $d/m.lnet; timeout 20 ${LNET_R_BIN} check $d/m.lnet; test $? -eq 1 || exit 2; ${LNET_R_BIN} check $d; test $? -eq 1 || exit 3; ${LNET_R_BIN} check <(cat ${LNET_R_MLP}) || exit 4; exit 1")

# lnet build -o never replaces the model source, a directory or a file that is
# not an executable (a trainer it built before may be replaced).
lnet_cli_test(cli_build_output_is_protected 0 "is the same file as the model(?s:.*)exists and is not an executable(?s:.*)is a directory(?s:.*)protected ok"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; cp ${LNET_R_MLP} $d/m.lnet; echo notes > $d/n.txt; ${LNET_R_BIN} build $d/m.lnet -o $d/m.lnet; test $? -eq 1 || exit 2; ${LNET_R_BIN} build $d/m.lnet -o $d/n.txt; test $? -eq 1 || exit 3; ${LNET_R_BIN} build $d/m.lnet -o $d; test $? -eq 1 || exit 4; cmp -s $d/m.lnet ${LNET_R_MLP} && grep -qx notes $d/n.txt && echo protected ok")
