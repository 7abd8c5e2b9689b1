# CLI checks of the backprop baselines (--schedule data-parallel | pipeline):
# bad requests are user errors with a clear message; reports name the
# schedule and its thread count.
set(LNET_BL_TRAIN "$<TARGET_FILE:lnet> train ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet --exec interp --train-limit 512 --test-limit 64 --quiet")
add_test(NAME cli_data_parallel_threads_must_divide_batch
  COMMAND bash -c "${LNET_BL_TRAIN} --schedule data-parallel --threads 3 2>&1; test $? -eq 1")
set_tests_properties(cli_data_parallel_threads_must_divide_batch PROPERTIES
  PASS_REGULAR_EXPRESSION "the batch \\(128\\) must be a multiple of the thread count \\(3\\)")
add_test(NAME cli_pipeline_too_many_stages
  COMMAND bash -c "${LNET_BL_TRAIN} --schedule pipeline --blocks 9 2>&1; test $? -eq 1")
set_tests_properties(cli_pipeline_too_many_stages PROPERTIES
  PASS_REGULAR_EXPRESSION "cannot cut this model into 9 stages: it has 4 legal cut points")
add_test(NAME cli_pipeline_is_backprop_only
  COMMAND bash -c "${LNET_BL_TRAIN} --schedule pipeline --method chunked 2>&1; test $? -eq 1")
set_tests_properties(cli_pipeline_is_backprop_only PROPERTIES
  PASS_REGULAR_EXPRESSION "--schedule pipeline trains with backprop; --method chunked does not apply")
add_test(NAME cli_baseline_reports
  COMMAND bash -c "d=$(mktemp -d); ${LNET_BL_TRAIN} --schedule pipeline --microbatches 4 --max-steps 2 --report $d/p.json && ${LNET_BL_TRAIN} --schedule data-parallel --threads 2 --max-steps 2 --report $d/d.json && cat $d/p.json $d/d.json; rc=$?; rm -rf $d; exit $rc")
set_tests_properties(cli_baseline_reports PROPERTIES
  ENVIRONMENT "OPENBLAS_NUM_THREADS=1"
  PASS_REGULAR_EXPRESSION "\"schedule\":\"pipeline\",[^\n]*\"threads\":2,[^\n]*\"microbatches\":4[^\n]*\n[^\n]*\"schedule\":\"data-parallel\",[^\n]*\"threads\":2,")
