# CLI-level tests: the generated CLI reference matches the binary, and the
# binary's exit codes / messages for common mistakes.
add_test(NAME cli_doc_matches_binary
  COMMAND bash -c "${CMAKE_SOURCE_DIR}/tools/gen-cli-doc.sh $<TARGET_FILE:lnet> | diff -u ${CMAKE_SOURCE_DIR}/docs/cli.md -")
add_test(NAME cli_examples_check
  COMMAND bash -c "for f in ${CMAKE_SOURCE_DIR}/examples/*.lnet; do $<TARGET_FILE:lnet> check $f || exit 1; $<TARGET_FILE:lnet> ir $f > /dev/null || exit 1; done")
add_test(NAME cli_unknown_option_is_user_error
  COMMAND bash -c "$<TARGET_FILE:lnet> check ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet --bogus 2>&1; test $? -eq 1")
set_tests_properties(cli_unknown_option_is_user_error PROPERTIES
  PASS_REGULAR_EXPRESSION "unknown option '--bogus'")
add_test(NAME cli_missing_file_is_user_error
  COMMAND bash -c "$<TARGET_FILE:lnet> check /nonexistent.lnet; test $? -eq 1")

# Ctrl-C stops after the current step, evaluates, saves a checkpoint that
# resumes, and exits 130 (128 + SIGINT).
add_test(NAME cli_sigint_saves_checkpoint
  COMMAND bash -c "d=$(mktemp -d); $<TARGET_FILE:lnet> train ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet --method backprop --exec interp --train-limit 25600 --test-limit 100 --save $d/c.ckpt --quiet & p=$!; sleep 3; kill -INT $p; wait $p; rc=$?; test $rc -eq 130 && test -s $d/c.ckpt && $<TARGET_FILE:lnet> eval ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet --method backprop --load $d/c.ckpt --test-limit 100; rc=$?; rm -rf $d; exit $rc")
set_tests_properties(cli_sigint_saves_checkpoint PROPERTIES
  ENVIRONMENT "OPENBLAS_NUM_THREADS=1" PASS_REGULAR_EXPRESSION "task +loss")

# --threads N sets OpenBLAS's thread count for the sequential backprop run.
add_test(NAME cli_threads_option_is_honoured
  COMMAND bash -c "d=$(mktemp -d); $<TARGET_FILE:lnet> train ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet --method backprop --threads 1 --max-steps 2 --train-limit 256 --test-limit 32 --quiet --report $d/r.json && cat $d/r.json; rm -rf $d")
set_tests_properties(cli_threads_option_is_honoured PROPERTIES
  PASS_REGULAR_EXPRESSION "\"threads\":1,")
lnet_cli_test(cli_expect_checks_exit_code 1 "" "$<TARGET_FILE:lnet> check ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet")
set_tests_properties(cli_expect_checks_exit_code PROPERTIES WILL_FAIL TRUE)
