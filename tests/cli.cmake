# CLI-level tests: the generated CLI reference matches the binary, and the
# binary's exit codes / messages for common mistakes. Each is an
# lnet_cli_test: the exit status, the output and the absence of a sanitizer
# report are all checked.
set(LNET "$<TARGET_FILE:lnet>")
set(MLP "${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet")
lnet_cli_test(cli_doc_matches_binary 0 ""
  "set -o pipefail; ${CMAKE_SOURCE_DIR}/tools/gen-cli-doc.sh ${LNET} | diff -u ${CMAKE_SOURCE_DIR}/docs/cli.md -")
lnet_cli_test(cli_examples_check 0 ""
  "for f in ${CMAKE_SOURCE_DIR}/examples/*.lnet; do ${LNET} check $f || exit 1; ${LNET} ir $f > /dev/null || exit 1; done")
lnet_cli_test(cli_unknown_option_is_user_error 1 "lnet check: error: unknown option '--bogus'"
  "${LNET} check ${MLP} --bogus")
lnet_cli_test(cli_missing_file_is_user_error 1 "error: cannot open '/nonexistent.lnet'"
  "${LNET} check /nonexistent.lnet")
# An error in a model file: exit status 1, file:line:col, the line, a caret.
lnet_cli_test(cli_model_error_is_user_error 1
  "/bad\\.lnet:2:10: error: undefined name 'z' \\(did you mean 'x'\\?\\)\\ny = relu\\(z\\)\\n {9}\\^"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; printf 'input x : f32[4]\\ny = relu(z)\\nloss mse(y, x)\\n' > $d/bad.lnet; ${LNET} check $d/bad.lnet")
# The README's `lnet cost` transcript is what lnet prints (its `lnet check`
# transcript is not: see docs/testing.md).
lnet_cli_test(cli_readme_cost_transcript 0 "2 transcripts checked"
  "bash ${CMAKE_CURRENT_SOURCE_DIR}/support/readme_transcripts.sh ${LNET} ${CMAKE_SOURCE_DIR}/README.md \"check|cost\"")

# Ctrl-C stops after the current step, evaluates, saves a checkpoint that
# resumes, and exits 130 (128 + SIGINT).
lnet_cli_test(cli_sigint_saves_checkpoint 0 "task +loss"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; ${LNET} train ${MLP} --method backprop --exec interp --train-limit 25600 --test-limit 100 --eval-every 1 --log $d/l.json --save $d/c.ckpt --quiet & p=$!; until grep -q train $d/l.json 2>/dev/null || ! kill -0 $p 2>/dev/null; do sleep 0.05; done; kill -INT $p; wait $p; rc=$?; test $rc -eq 130 || exit 1; test -s $d/c.ckpt && ${LNET} eval ${MLP} --method backprop --load $d/c.ckpt --test-limit 100")

# --threads N is the core budget (default: every core this process may use):
# the report says 1 with --threads 1 and the machine's count without the flag
# (whatever OPENBLAS_NUM_THREADS says), and its worker runs on that many.
lnet_cli_test(cli_threads_option_is_honoured 0 "threads ok"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; n=$(nproc); t='${LNET} train ${MLP} --method backprop --max-steps 2 --train-limit 256 --test-limit 32 --quiet'; $t --threads 1 --report $d/a.json && $t --report $d/b.json && cat $d/a.json $d/b.json && grep -q '\"threads\":1,.*\"workers\":\\[{[^}]*\"threads\":1,' $d/a.json && grep -q \"\\\"threads\\\":$n,\" $d/b.json && echo threads ok")
# More threads than cores: a warning, and the cores there are.
lnet_cli_test(cli_threads_beyond_the_machine_warns 0
  "warning: --threads 4096: only [0-9]+ cores? (is|are) available to this process; using [0-9]+(?s:.*)threads ok"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; ${LNET} train ${MLP} --method chunked --blocks 2 --threads 4096 --exec interp --max-steps 2 --train-limit 256 --test-limit 32 --quiet --report $d/r.json && grep -q \"\\\"threads\\\":$(nproc),\" $d/r.json && echo threads ok")

lnet_cli_test(cli_expect_checks_exit_code 1 "" "${LNET} check ${MLP}")
set_tests_properties(cli_expect_checks_exit_code PROPERTIES WILL_FAIL TRUE)

# lnet ir: the pass manager's options, and one optimized step module per block.
lnet_cli_test(cli_ir_pass_options 0
  "; pass shape +[0-9.]+ ms\\n; --- after shape ---\\nmodel fmnist_mlp\\n(?s:.*)\\n +autodiff +append"
  "${LNET} ir ${MLP} --passes=shape,verify,autodiff --print-after=shape --time-passes && ${LNET} ir ${MLP} --list-passes")
lnet_cli_test(cli_ir_emit_llvm_per_block 0
  "; block 1\\n(?s:.*)define void @lnet_step\\((?s:.*); block 2\\n(?s:.*)define void @lnet_step\\("
  "${LNET} ir ${MLP} --emit llvm")

# Training flags override the model's train { } section (the log's learning
# rate, the report's batch), and a bad value is a user error naming the flag.
lnet_cli_test(cli_train_overrides_take_effect 0 "overrides ok"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; ${LNET} train ${MLP} --lr 0.0125 --optimizer sgd --schedule-lr constant --batch 64 --seed 7 --max-steps 2 --train-limit 256 --test-limit 32 --quiet --exec interp --log $d/l.csv --report $d/r.json && grep -q '^train,2,0,[0-9.]*,0.0125,' $d/l.csv && grep -q '\"batch\":64,' $d/r.json && echo overrides ok")
lnet_cli_test(cli_train_bad_override_values 0 "(?s)unknown value 'bogus' \\(expected one of: sgd adam adamw\\).*unknown value 'nope' \\(expected one of: constant warmup cosine\\).*--lr must be positive, got '-1'.*--lr expects a number, got 'abc'.*--batch expects an integer in \\[1, 1048576\\], got '0'.*--overlap expects an integer in \\[2, 4096\\], got '1'.*all refused"
  "t='${LNET} train ${MLP} --max-steps 1 --train-limit 256 --test-limit 32 --quiet --exec interp'; for f in '--optimizer bogus' '--schedule-lr nope' '--lr -1' '--lr abc' '--batch 0' '--method overlap --overlap 1'; do $t $f 2>&1; test $? -eq 1 || exit 1; done; echo all refused")
