# CLI checks of local training: `lnet cost` on every example (table and JSON),
# the chunked K=2 speed-up of the MLP, and a partition diagnostic's exit code.
add_test(NAME cli_cost_examples
  COMMAND bash -c "for f in ${CMAKE_SOURCE_DIR}/examples/*.lnet; do $<TARGET_FILE:lnet> cost $f > /dev/null || exit 1; $<TARGET_FILE:lnet> cost $f --json | python3 -m json.tool > /dev/null || exit 1; done")
add_test(NAME cli_cost_mlp_chunked2
  COMMAND $<TARGET_FILE:lnet> cost ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet --method chunked --blocks 2)
set_tests_properties(cli_cost_mlp_chunked2 PROPERTIES
  PASS_REGULAR_EXPRESSION "relative to one: 1\\.91x")
add_test(NAME cli_partition_too_many_blocks_is_user_error
  COMMAND bash -c "$<TARGET_FILE:lnet> ir ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet --blocks 9 2>&1; test $? -eq 1")
set_tests_properties(cli_partition_too_many_blocks_is_user_error PROPERTIES
  PASS_REGULAR_EXPRESSION "cannot split into 9 blocks: the model has 4 legal cut points")
# A model with its own auxiliary head trains through the whole CLI path (the
# head is built by the frontend in every pipeline the command runs).
add_test(NAME cli_train_custom_head
  COMMAND bash -c "$<TARGET_FILE:lnet> train ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp_head.lnet --max-steps 5 --train-limit 640 --test-limit 200 --exec interp --quiet --report /dev/stdout")
set_tests_properties(cli_train_custom_head PROPERTIES
  ENVIRONMENT "OPENBLAS_NUM_THREADS=1"
  PASS_REGULAR_EXPRESSION "\"name\": *\"head1\"")
