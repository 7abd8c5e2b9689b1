# lnet sweep (tools/cmd_sweep.c) and lnet pareto (tools/cmd_pareto.c),
# docs/sweeps.md. The sweeps run tests/sweep/tiny.sweep from the source
# folder (its model path is relative to it) into a temporary folder: four
# runs of four steps. lnet pareto reads the hand-made summary in
# tests/sweep/pareto/, whose numbers are worked out by hand below.
set(LNET_SW "$<TARGET_FILE:lnet> sweep")
set(LNET_SW_SETUP "d=$(mktemp -d); trap 'rm -rf $d' EXIT; cd ${CMAKE_SOURCE_DIR} && ${LNET_SW} tests/sweep/tiny.sweep -o $d/s")
# every run's files dated 2000, so that a run the sweep repeats shows as a newer file
set(LNET_SW_AGE "find $d/s -mindepth 2 -type f -exec touch -d 2000-01-01 {} + && touch -d 2000-01-01 $d/mark")
set(LNET_SW_NEWER "find $d/s -mindepth 2 -type f -newer $d/mark | sort")

# The runs, in grid order (method slowest), their files and the summary;
# lnet pareto reads the summary the sweep wrote.
lnet_cli_test(sweep_runs_the_grid_and_writes_the_summary 0
  "^\\[1/4\\] backprop lr=0\\.01 batch=32 seed=1 \\.\\.\\. 0\\.\\d{4} in \\d+\\.\\d s, target (at step \\d|not reached)\\n\\[2/4\\] backprop lr=0\\.001 batch=32 seed=1 \\.\\.\\. .*\\n\\[3/4\\] chunked:2 lr=0\\.01 batch=32 seed=1 \\.\\.\\. .*\\n\\[4/4\\] chunked:2 lr=0\\.001 batch=32 seed=1 \\.\\.\\. .*\\n4 runs: 0 done before, 4 now, 0 failed, 0 unfinished; [^ ]*/s/summary\\.csv\\nname,method,batch,lr,seed,status,steps,test_accuracy,test_loss,reached,steps_to_target,time_to_target_s,wall_s,examples_per_s,flops_per_example,max_block_flops\\nbackprop-lr0\\.01-batch32-seed1,backprop,32,0\\.01,1,done,[24],[0-9.]+,[0-9.]+,[01],[24]?,[0-9.]*,[0-9.]+,[0-9.]+,22163606,22163606\\nbackprop-lr0\\.001-batch32-seed1,backprop,32,0\\.001,1,done,.*\\nchunked2-lr0\\.01-batch32-seed1,chunked:2,32,0\\.01,1,done,.*,20128044,10555542\\nchunked2-lr0\\.001-batch32-seed1,chunked:2,32,0\\.001,1,done,.*,20128044,10555542\\nargs\\.txt log\\.csv report\\.json run\\.txt\\n(?s).*\\nbackprop: 2\\.21636e\\+07 FLOPs per example a step, 2\\.21636e\\+07 in the slowest block\\n.*\\nchunked:2: 2\\.0128e\\+07 FLOPs per example a step, 1\\.05555e\\+07 in the slowest block\\n"
  "${LNET_SW_SETUP} && cat $d/s/summary.csv && echo $(ls $d/s/chunked2-lr0.001-batch32-seed1) && $<TARGET_FILE:lnet> pareto $d/s")
# Run again: every run is done, and no file of theirs is written.
lnet_cli_test(sweep_again_skips_every_done_run 0
  "^(\\[\\d/4\\] [^\\n]* \\.\\.\\. skipped \\(done\\)\\n){4}4 runs: 4 done before, 0 now, 0 failed, 0 unfinished; [^\\n]*\\nrewritten:\\n$"
  "${LNET_SW_SETUP} >/dev/null && ${LNET_SW_AGE} && ${LNET_SW} tests/sweep/tiny.sweep -o $d/s && echo rewritten: $(${LNET_SW_NEWER})")
# A run without its report (as a sweep killed during it leaves it) runs
# again, alone; another --jobs (another --threads) is no reason to rerun.
lnet_cli_test(sweep_reruns_only_the_unfinished_run 0
  "^\\[1/4\\] [^\\n]* skipped \\(done\\)\\n\\[2/4\\] [^\\n]* skipped \\(done\\)\\n\\[3/4\\] [^\\n]* skipped \\(done\\)\\n\\[4/4\\] chunked:2 lr=0\\.001 batch=32 seed=1 \\.\\.\\. 0\\.\\d{4} in [^\\n]*\\n4 runs: 3 done before, 1 now, 0 failed, 0 unfinished; [^\\n]*\\nrewritten:( [^ ]*/s/chunked2-lr0\\.001-batch32-seed1/(args\\.txt|log\\.csv|report\\.json|run\\.txt)){4}\\n$"
  "${LNET_SW_SETUP} >/dev/null && ${LNET_SW_AGE} && rm $d/s/chunked2-lr0.001-batch32-seed1/report.json && ${LNET_SW} tests/sweep/tiny.sweep -o $d/s --jobs 2 && echo rewritten: $(${LNET_SW_NEWER})")
# A Ctrl-C reaches the run in flight once: it stops (lnet train still writes
# its report.json.part), the sweep exits 130, and the run is not done.
lnet_cli_test(sweep_stopped_leaves_the_run_unfinished 130
  "^\\nlnet sweep: stopping after this step \\(a second signal stops at once\\)\\n\\[1/1\\] backprop batch=32 \\.\\.\\. stopped by SIGINT \\(unfinished\\)\\n1 run: 0 done before, 0 now, 0 failed, 1 unfinished; [^\\n]*\\nlnet sweep: stopped by SIGINT: 1 run unfinished \\(run the sweep again to finish them\\)\\nargs\\.txt log\\.csv report\\.json\\.part run\\.txt\\nbackprop-batch32,backprop,32,stopped,,,,,\\n$"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; printf 'model = ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet\\nmethod = backprop\\nbatch = 32\\nepochs = 100000\\ntrain-limit = 256\\ntest-limit = 64\\nthreads = 1\\n' > $d/long.sweep; ${LNET_SW} $d/long.sweep -o $d/s 2>&1 & p=$!; r=$d/s/backprop-batch32; for i in $(seq 300); do grep -q '^train,' $r/log.csv 2>/dev/null && break; sleep 0.1; done; kill -INT $p; wait $p; rc=$?; echo $(ls $r); sed -n 2p $d/s/summary.csv | cut -d, -f1-9; exit $rc")
lnet_cli_test(sweep_dry_run_lists_the_commands 0
  "^tests/sweep/tiny\\.sweep: 4 runs of examples/fmnist_mlp\\.lnet in [^ ]*/s\\n\\[1/4\\] backprop-lr0\\.01-batch32-seed1\\n  lnet train examples/fmnist_mlp\\.lnet --method backprop --lr 0\\.01 --batch 32 --seed 1 --max-steps 4 --eval-every 2 --train-limit 256 --test-limit 64 --target-accuracy 0\\.2 --threads 1 --quiet --report [^ ]*/s/backprop-lr0\\.01-batch32-seed1/report\\.json\\.part --log [^ ]*/s/backprop-lr0\\.01-batch32-seed1/log\\.csv\\n(?s).*\\[3/4\\] chunked2-lr0\\.01-batch32-seed1\\n  lnet train examples/fmnist_mlp\\.lnet --method chunked --blocks 2 --lr 0\\.01 .*\\nnothing written\\n$"
  "${LNET_SW_SETUP} --dry-run && test ! -e $d/s && echo nothing written")

# Bad specs: SPEC:LINE and what is wrong, exit status 1, nothing run.
function(lnet_sweep_bad name line lines message)
  lnet_cli_test(sweep_bad_${name} 1 "^lnet sweep: error: [^ ]*/bad\\.sweep:${line}: ${message}\\n$"
    "d=$(mktemp -d); trap 'rm -rf $d' EXIT; printf '${lines}' > $d/bad.sweep; ${LNET_SW} $d/bad.sweep -o $d/s; rc=$?; test ! -e $d/s || echo ran; exit $rc")
endfunction()
set(LNET_SW_MODEL "model = ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet\\n")
lnet_sweep_bad(unknown_method 3 "# m\\n${LNET_SW_MODEL}method = backprop, sideways\\n"
  "unknown method 'sideways' \\(expected backprop, greedy, chunked:K or overlap:W\\)")
lnet_sweep_bad(method_number 2 "${LNET_SW_MODEL}method = chunked:0\\n"
  "method 'chunked:0': expected chunked:K with a whole number of blocks \\(1 or more\\)")
lnet_sweep_bad(empty_list_value 2 "${LNET_SW_MODEL}lr = 0.1, , 0.3\\n" "'lr' has an empty value in its list")
lnet_sweep_bad(no_value 2 "${LNET_SW_MODEL}batch =   # none\\n" "'batch' has an empty value")
lnet_sweep_bad(missing_model 2 "method = greedy\\nbatch = 32\\n" "missing 'model = FILE'")
lnet_sweep_bad(duplicate_key 4 "batch = 32\\n${LNET_SW_MODEL}\\nbatch = 64\\n"
  "duplicate key 'batch' \\(first given at line 1\\)")
lnet_sweep_bad(bad_number 2 "${LNET_SW_MODEL}batch = 32, 6x4\\n"
  "'batch' expects an integer of at least 1, got '6x4'")
lnet_sweep_bad(bad_rate 2 "${LNET_SW_MODEL}lr = -0.1\\n" "'lr' expects a number above 0, got '-0.1'")
lnet_sweep_bad(unknown_key 2 "${LNET_SW_MODEL}learning-rate = 0.1\\n"
  "unknown key 'learning-rate' \\(expected model, method or an lnet train option\\)")
lnet_sweep_bad(reserved_key 2 "${LNET_SW_MODEL}report = r.json\\n"
  "'report' is set by the sweep \\(each run writes DIR/NAME/report\\.json and log\\.csv\\)")
lnet_sweep_bad(no_equals 2 "${LNET_SW_MODEL}batch 32\\n" "expected 'key = value', got 'batch 32'")
lnet_sweep_bad(model_not_found 1 "model = no/such.lnet\\n"
  "cannot read model 'no/such\\.lnet': No such file or directory")
# a method the model cannot be cut into: the model's error, then the spec's line
lnet_cli_test(sweep_bad_method_for_the_model 1
  "cannot split into 9 blocks: .*\\n(?s).*lnet sweep: error: [^ ]*/bad\\.sweep:2: the model does not compile with method chunked:9\\n$"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; printf '${LNET_SW_MODEL}method = backprop, chunked:9\\n' > $d/bad.sweep; ${LNET_SW} $d/bad.sweep -o $d/s")

# lnet pareto on tests/sweep/pareto/summary.csv. By hand:
#   backprop (1000 FLOPs a step per example, slowest block 1000):
#     batch 100: lr 0.1 reached in 40 and 60 steps (2 s, 4 s): 50 steps,
#       3 s; lr 0.3 missed with seed 2, so it does not count.
#       compute 50 x 100 x 1000 = 5e6, time 50 x 1000 = 50000
#     batch 400: lr 0.1 20, 20 (1 s, 2 s) beats lr 0.3's 25, 35:
#       20 steps, 1.5 s, compute 8e6, time 20000
#     batch 1600: neither lr reached (one run failed, one not run: left out)
#   chunked:2 (1200 FLOPs a step, slowest block 400), lr 0.1:
#     batch 100: 80 steps: compute 9.6e6, time 32000
#     batch 400: 30 steps: compute 1.44e7, time 12000
#     batch 1600: 30 steps: compute 5.76e7, time 12000 — dominated by batch
#       400 (same time, less compute): off the frontier
lnet_cli_test(pareto_numbers_by_hand 0
  "^[^ ]*/sweep/pareto: 16 finished runs \\(2 not done, left out\\)\\n(?s).*\\n\\nbackprop: 1000 FLOPs per example a step, 1000 in the slowest block\\n   batch      steps      compute         time    wall s seeds  setting\\n\\*    100         50        5e\\+06        50000     3\\.000     2  lr=0\\.1\\n\\*    400         20        8e\\+06        20000     1\\.500     2  lr=0\\.1\\n    1600  not reached\\n\\nchunked:2: 1200 FLOPs per example a step, 400 in the slowest block\\n.*\\n\\*    100         80      9\\.6e\\+06        32000     2\\.000     2  lr=0\\.1\\n\\*    400         30     1\\.44e\\+07        12000     1\\.250     2  lr=0\\.1\\n    1600         30     5\\.76e\\+07        12000     1\\.000     2  lr=0\\.1\\nmethod,batch,reached,setting,seeds,steps,compute_flops,time_flops,wall_s,frontier\\nbackprop,100,1,lr=0\\.1,2,50,5000000,50000,3\\.000,1\\nbackprop,400,1,lr=0\\.1,2,20,8000000,20000,1\\.500,1\\nbackprop,1600,0,,,,,,,0\\nchunked:2,100,1,lr=0\\.1,2,80,9600000,32000,2\\.000,1\\nchunked:2,400,1,lr=0\\.1,2,30,14400000,12000,1\\.250,1\\nchunked:2,1600,1,lr=0\\.1,2,30,57600000,12000,1\\.000,0\\n$"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; $<TARGET_FILE:lnet> pareto ${CMAKE_CURRENT_SOURCE_DIR}/sweep/pareto --csv $d/p.csv && cat $d/p.csv")
# The frontier alone. As given, chunked:2's batch 1600 is dominated by its
# batch 400. With 5 steps to the target instead of 30 it costs 5 x 1600 x
# 1200 = 9.6e6 FLOPs of compute (batch 100's) and 5 x 400 = 2000 of time:
# it dominates both others and is the frontier alone.
lnet_cli_test(pareto_frontier_leaves_out_the_dominated_point 0
  "^chunked:2,100,1,lr=0\\.1,2,80,9600000,32000,2\\.000,1\\nchunked:2,400,1,lr=0\\.1,2,30,14400000,12000,1\\.250,1\\nchunked:2,1600,1,lr=0\\.1,2,30,57600000,12000,1\\.000,0\\n--\\nchunked:2,100,1,lr=0\\.1,2,80,9600000,32000,2\\.000,0\\nchunked:2,400,1,lr=0\\.1,2,30,14400000,12000,1\\.250,0\\nchunked:2,1600,1,lr=0\\.1,2,5,9600000,2000,1\\.000,1\\n$"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; p=${CMAKE_CURRENT_SOURCE_DIR}/sweep/pareto; $<TARGET_FILE:lnet> pareto $p --csv $d/a.csv >/dev/null && grep ^chunked $d/a.csv && echo -- && mkdir $d/b && sed -E 's/^(chunked2-batch1600-[^,]*,([^,]*,){9})30,/\\15,/' $p/summary.csv > $d/b/summary.csv && $<TARGET_FILE:lnet> pareto $d/b --csv $d/b.csv >/dev/null && grep ^chunked $d/b.csv")
lnet_cli_test(pareto_draws_png_and_svg 0 "\\nplot: [^ ]*/p\\.png\\n(?s).*\\nplot: [^ ]*/p\\.svg\\npng svg\\n$"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; p=${CMAKE_CURRENT_SOURCE_DIR}/sweep/pareto; $<TARGET_FILE:lnet> pareto $p -o $d/p.png && $<TARGET_FILE:lnet> pareto $p -o $d/p.svg && head -c 4 $d/p.png | grep -q PNG && grep -q '<svg' $d/p.svg && echo png svg")
lnet_cli_test(pareto_needs_a_sweep_with_a_target 1
  "^lnet pareto: error: [^ ]*/summary\\.csv: no reached column \\(the sweep had no target-accuracy or target-loss\\)\\n$"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; cut -d, -f1-9,13- ${CMAKE_CURRENT_SOURCE_DIR}/sweep/pareto/summary.csv > $d/summary.csv; $<TARGET_FILE:lnet> pareto $d")
lnet_cli_test(pareto_errors 0
  "^lnet pareto: error: cannot read '[^ ]*/none/summary\\.csv': No such file or directory \\(is [^ ]*/none a sweep's directory\\?\\)\\nrc 1\\nlnet pareto: error: -o p\\.pdf: expected a file name ending in \\.png or \\.svg\\nrc 1\\n$"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; $<TARGET_FILE:lnet> pareto $d/none; echo rc $?; $<TARGET_FILE:lnet> pareto ${CMAKE_CURRENT_SOURCE_DIR}/sweep/pareto -o p.pdf; echo rc $?")
# A run that fails: the sweep says so, goes on with the others, exits 1.
# Without a method or batch key the runs use the model's (method "model",
# the batch its report gives).
lnet_cli_test(sweep_failed_run_is_reported 1
  "^\\[1/2\\] optimizer=nope \\.\\.\\. failed \\(exit status 1; see [^ ]*/s/optimizernope/run\\.txt\\)\\n\\[2/2\\] optimizer=sgd \\.\\.\\. 0\\.\\d{4} in [^\\n]*\\n2 runs: 0 done before, 1 now, 1 failed, 0 unfinished; [^\\n]*\\nlnet sweep: error: 1 of 2 runs failed \\(see their run\\.txt\\)\\nlnet: error: --optimizer: unknown value 'nope' [^\\n]*\\noptimizernope,model,,nope,failed\\noptimizersgd,model,128,sgd,done\\n$"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; printf 'model = ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet\\noptimizer = nope, sgd\\nmax-steps = 2\\ntrain-limit = 256\\ntest-limit = 64\\nthreads = 1\\nquiet\\n' > $d/f.sweep; ${LNET_SW} $d/f.sweep -o $d/s; rc=$?; grep error $d/s/optimizernope/run.txt; cut -d, -f1-5 $d/s/summary.csv | tail -2; exit $rc")
# A target is checked at evaluations: without eval-every, only at epoch ends.
lnet_cli_test(sweep_target_without_eval_every_warns 0
  "^lnet sweep: warning: [^ ]*/t\\.sweep: a target without eval-every is checked only at the end of each epoch \\(steps_to_target counts whole epochs\\)\\n[^ ]*/t\\.sweep: 1 run of "
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; printf '${LNET_SW_MODEL}target-accuracy = 0.8\\n' > $d/t.sweep; ${LNET_SW} $d/t.sweep --dry-run 2>&1")
# A run is done for the flags it ran with (args.txt): the same spec finds
# every run done (--dry-run marks them), another value of a passed-on key
# (max-steps) none.
lnet_cli_test(sweep_changed_flags_rerun 0
  "^same spec: 4\\nmax-steps = 5: 0\\n$"
  "${LNET_SW_SETUP} >/dev/null && echo same spec: $(${LNET_SW} tests/sweep/tiny.sweep -o $d/s --dry-run | grep -c '(done)$') && sed 's/^max-steps = 4/max-steps = 5/' tests/sweep/tiny.sweep > $d/t.sweep && echo max-steps = 5: $(${LNET_SW} $d/t.sweep -o $d/s --dry-run | grep -c '(done)$')")
# --target-accuracy A: another target than the sweep's, read from each run's
# log.csv (the first eval row whose acc_task >= A). Hand-made: backprop first
# reaches 0.8 at step 20 (1.25 s): compute 20 x 100 x 1000 = 2e6, time
# 20 x 1000; chunked:2 at step 30 (2.5 s): 30 x 100 x 1200 = 3.6e6, 30 x 400.
# Neither log reaches 0.9.
set(LNET_PARETO_LOGS "d=$(mktemp -d); trap 'rm -rf $d' EXIT; mkdir $d/a $d/b; printf 'name,method,batch,lr,seed,status,steps,test_accuracy,test_loss,reached,steps_to_target,time_to_target_s,wall_s,examples_per_s,flops_per_example,max_block_flops\\na,backprop,100,0.1,1,done,40,0.9,0.3,1,40,2.000,2.000,100.0,1000,1000\\nb,chunked:2,100,0.1,1,done,60,0.9,0.3,1,60,3.000,3.000,100.0,1200,400\\n' > $d/summary.csv; h='kind,step,epoch,train_s,lr,examples_per_s,loss_task,acc_task'; printf \"$h\\ntrain,1,1,0.1,0.1,1,2,\\neval,10,1,0.5,0.1,1,1,0.7\\neval,20,1,1.25,0.1,1,1,0.81\\n\" > $d/a/log.csv; printf \"$h\\neval,10,1,0.6,0.1,1,1,0.6\\neval,30,1,2.5,0.1,1,1,0.85\\n\" > $d/b/log.csv")
lnet_cli_test(pareto_target_from_the_logs 0
  "(?s)\\*    100         20        2e\\+06        20000     1\\.250     1  lr=0\\.1\\n.*\\*    100         30      3\\.6e\\+06        12000     2\\.500     1  lr=0\\.1\\n.*backprop[^\\n]*\\n[^\\n]*\\n +100  not reached\\n\\nchunked:2[^\\n]*\\n[^\\n]*\\n +100  not reached\\n"
  "${LNET_PARETO_LOGS}; $<TARGET_FILE:lnet> pareto $d --target-accuracy 0.8 && $<TARGET_FILE:lnet> pareto $d --target-accuracy 0.9")
# --target-loss L: the same from the logs' loss_task (first eval row <= L).
# The hand-made logs' losses: a 1 at steps 10 and 20, b 1 at 10 and 30 (the
# first eval row reaches it); a loss of 0.5 is reached by neither.
lnet_cli_test(pareto_target_loss_from_the_logs 0
  "(?s)\\*    100         10        1e\\+06        10000     0\\.500     1  lr=0\\.1\\n.*\\*    100         10      1\\.2e\\+06         4000     0\\.600     1  lr=0\\.1\\n.*backprop[^\\n]*\\n[^\\n]*\\n +100  not reached\\n\\nchunked:2[^\\n]*\\n[^\\n]*\\n +100  not reached\\n"
  "${LNET_PARETO_LOGS}; $<TARGET_FILE:lnet> pareto $d --target-loss 1 && $<TARGET_FILE:lnet> pareto $d --target-loss 0.5")
lnet_cli_test(pareto_two_targets 1
  "^lnet pareto: error: --target-accuracy and --target-loss exclude each other\\n$"
  "${LNET_PARETO_LOGS}; $<TARGET_FILE:lnet> pareto $d --target-loss 1 --target-accuracy 0.5")
# --title names the plot (default: the sweep's folder).
lnet_cli_test(pareto_title 0 "^My frontier\\n$"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; $<TARGET_FILE:lnet> pareto ${CMAKE_CURRENT_SOURCE_DIR}/sweep/pareto -o $d/p.svg --title 'My frontier' >/dev/null && grep -o 'My frontier' $d/p.svg | sort -u")
# eval-examples = E: each run evaluates every E / batch steps; it needs batch.
lnet_cli_test(sweep_eval_examples_per_batch 0 "--batch 64 --eval-every 16 [^\\n]*\\n(.|\\n)*--batch 256 --eval-every 4 "
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; cd $d && printf 'model = ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet\\nbatch = 64, 256\\neval-examples = 1024\\n' > s.sweep && $<TARGET_FILE:lnet> sweep s.sweep --dry-run")
lnet_cli_test(sweep_bad_eval_examples_without_batch 1 "lnet sweep: error: t\\.sweep:2: eval-examples needs 'batch'"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; cd $d && printf 'model = ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet\\neval-examples = 1024\\n' > t.sweep && $<TARGET_FILE:lnet> sweep t.sweep --dry-run")
# The reproduction's sweeps (docs/paper.md) stay valid specs of their models.
lnet_cli_test(sweep_paper_specs_are_valid 0 "^charlm\\.sweep: 48 runs\\nmlp\\.sweep: 60 runs\\n$"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; cd ${CMAKE_SOURCE_DIR} && for s in bench/paper/*.sweep; do $<TARGET_FILE:lnet> sweep $s -o $d/x --dry-run > $d/out || exit 1; echo \"$(basename $s): $(grep -c '^\\[' $d/out) runs\"; done")
# bench/paper/filters.py (docs/paper.md, result 4): a checkpoint of the
# initialisation against itself moved 0; one Adam step of backprop moves the
# first layer a little (lr 1e-3 on weights of about 0.2: under 10%).
lnet_cli_test(paper_filters_change_from_init 0 "\\| a\\.ckpt \\| 0\\.000 \\| -?0\\.[0-9]+ \\|\\n\\| b\\.ckpt \\| 0\\.0[0-9][1-9] \\|"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; m=${CMAKE_SOURCE_DIR}/examples/fmnist_cnn7.lnet; for x in 'a last-layer' 'b backprop' 'init last-layer'; do set -- $x; $<TARGET_FILE:lnet> train $m --method $2 --max-steps 1 --train-limit 128 --test-limit 64 --save $d/$1.ckpt --quiet || exit 1; done; python3 ${CMAKE_SOURCE_DIR}/bench/paper/filters.py $d/init.ckpt $d/a.ckpt $d/b.ckpt")
