# CLI checks of local training: `lnet cost` on every example (table and JSON),
# the chunked K=2 speed-up of the MLP, and a partition diagnostic's exit code.
lnet_cli_test(cli_cost_examples 0 ""
  "for f in ${CMAKE_SOURCE_DIR}/examples/*.lnet; do $<TARGET_FILE:lnet> cost $f > /dev/null || exit 1; $<TARGET_FILE:lnet> cost $f --json | python3 -m json.tool > /dev/null || exit 1; done")
lnet_cli_test(cli_cost_mlp_chunked2 0 "relative to one: 1\\.91x"
  "$<TARGET_FILE:lnet> cost ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet --method chunked --blocks 2")
lnet_cli_test(cli_partition_too_many_blocks_is_user_error 1
  "cannot split into 9 blocks: the model has 4 legal cut points"
  "$<TARGET_FILE:lnet> ir ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet --blocks 9")
# A model with its own auxiliary head trains through the whole CLI path (the
# head is built by the frontend in every pipeline the command runs).
lnet_cli_test(cli_train_custom_head 0 "\"name\": *\"head1\""
  "$<TARGET_FILE:lnet> train ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp_head.lnet --max-steps 5 --train-limit 640 --test-limit 200 --exec interp --quiet --report /dev/stdout")
# lnet cost --threads N: the local schedule's placement, as lnet train uses
# it: greedy's 5 blocks on 2 cores in two contiguous groups, one thread each.
lnet_cli_test(cli_cost_threads_placement 0
  "on 2 cores \\(--threads 2\\): 2 workers\\n.*\\n +1 +1-2 +1 +7\\.537 +46\\.8%\\n +2 +3-5 +1 +8\\.561 +53\\.2%\\npredicted speed-up on 2 cores relative to one: 1\\.88x"
  "$<TARGET_FILE:lnet> cost ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet --method greedy --threads 2")
# ... and lnet train runs exactly that placement (the report's workers).
lnet_cli_test(cli_train_threads_placement 0 "placement ok"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; $<TARGET_FILE:lnet> train ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet --method greedy --threads 2 --exec interp --max-steps 2 --train-limit 256 --test-limit 32 --quiet --report $d/r.json && cat $d/r.json && grep -q '\"workers\":\\[{\"worker\":1,\"blocks\":\\[1,2\\],\"threads\":1,[^}]*},{\"worker\":2,\"blocks\":\\[3,5\\],\"threads\":1,' $d/r.json && echo placement ok")
