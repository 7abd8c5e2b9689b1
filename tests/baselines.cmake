# CLI checks of the backprop baselines (--schedule data-parallel | pipeline):
# bad requests are user errors with a clear message; reports name the
# schedule and its thread count.
set(LNET_BL_TRAIN "$<TARGET_FILE:lnet> train ${CMAKE_SOURCE_DIR}/examples/fmnist_mlp.lnet --exec interp --train-limit 512 --test-limit 64 --quiet")
lnet_cli_test(cli_data_parallel_threads_must_divide_batch 1
  "the batch \\(127\\) must be a multiple of the thread count \\(2\\)"
  "${LNET_BL_TRAIN} --schedule data-parallel --threads 2 --batch 127")
lnet_cli_test(cli_pipeline_too_many_stages 1
  "cannot cut this model into 9 stages: it has 4 legal cut points"
  "${LNET_BL_TRAIN} --schedule pipeline --blocks 9")
lnet_cli_test(cli_pipeline_is_backprop_only 1
  "--schedule pipeline trains with backprop; --method chunked does not apply"
  "${LNET_BL_TRAIN} --schedule pipeline --method chunked")
lnet_cli_test(cli_baseline_reports 0
  "\"schedule\":\"pipeline\",[^\\n]*\"threads\":2,[^\\n]*\"microbatches\":4[^\\n]*\\n[^\\n]*\"schedule\":\"data-parallel\",[^\\n]*\"threads\":2,"
  "d=$(mktemp -d); trap 'rm -rf $d' EXIT; ${LNET_BL_TRAIN} --schedule pipeline --microbatches 4 --max-steps 2 --report $d/p.json && ${LNET_BL_TRAIN} --schedule data-parallel --threads 2 --max-steps 2 --report $d/d.json && cat $d/p.json $d/d.json")
